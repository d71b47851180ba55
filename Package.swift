// swift-tools-version:6.1
import PackageDescription

/// One list of settings for every target, so that the whole package builds
/// under the same language rules.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "VillageSurvey",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vsurvey", targets: ["vsurvey"]),
        .executable(name: "vsurvey-server", targets: ["vsurvey-server"]),
        .executable(name: "vsurvey-bench", targets: ["vsurvey-bench"]),
        .library(name: "SurveyCore", targets: ["SurveyCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // The server. Its optional swift-configuration support is not used.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // NIOHTTPTypes: the server's handler for requests the HTTP parser cannot read.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The server's PostgreSQL storage.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // SHA-256 (content hashes, token hashes); already in the graph through PostgresNIO.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // The zip container of .xlsx workbooks (exports for people).
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        // The workspace's HTML pages: templates that escape what they show.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // libcurl (libcurl4-openssl-dev) for the client, with typed wrappers
        // for its variadic functions. The server never links it.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        .target(
            name: "SurveyHTTP",
            dependencies: ["CCurlShim", "CCurl", "SurveyCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SurveySync",
            dependencies: ["SurveyCore", "SurveyStore", "SurveyHTTP"],
            swiftSettings: swiftSettings
        ),
        // SQL written once for both engines: values, dialects, sessions,
        // engines, migrations. No database library: the engines below.
        .target(
            name: "SurveySQL",
            dependencies: ["SurveyCore"],
            swiftSettings: swiftSettings
        ),
        // The SQLite engine (GRDB) and the PostgreSQL engine (PostgresNIO).
        .target(
            name: "SurveySQLite",
            dependencies: ["SurveySQL", "SurveyCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SurveyPostgres",
            dependencies: [
                "SurveySQL", "SurveyCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Spreadsheets people open: .xlsx workbooks (sheets of text and
        // numbers, a frozen header row) in a ZIPFoundation container.
        .target(
            name: "SurveySpreadsheet",
            dependencies: ["SurveyCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: swiftSettings
        ),
        // Reports end to end: the reference evaluator, the report tables and
        // rollups with their SQL and bookkeeping, the report engine that
        // plans and runs a report, and the outputs.
        .target(
            name: "SurveyXLSForm",
            dependencies: ["SurveyCore", "SurveySpreadsheet", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SurveyReport",
            dependencies: ["SurveyCore", "SurveySQL"],
            swiftSettings: swiftSettings
        ),
        // zlib (gzip bodies) behind two plain C functions.
        .target(name: "CGzip", linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "SurveyCore",
            dependencies: ["CGzip", .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")],
            // Validation is the hot path of ingest; its state is a class the
            // evaluator reads while the validator writes, and dynamic
            // exclusivity checks there cost a tenth of the time. Debug builds
            // and tests keep the checks.
            swiftSettings: swiftSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "SurveyStore",
            dependencies: ["SurveyCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SurveyFixtures",
            dependencies: ["SurveyCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "VSurveyCLI",
            dependencies: [
                "SurveyCore",
                "SurveyReport",
                "SurveyStore",
                "SurveySync",
                "SurveySpreadsheet",
                "SurveyXLSForm",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vsurvey",
            dependencies: [
                "VSurveyCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SurveyServer",
            dependencies: [
                "SurveyCore",
                "SurveyReport",
                "SurveySpreadsheet",
                "SurveySQL",
                "SurveySQLite",
                "SurveyPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("openapi.json"), .copy("Templates")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "VSurveyServerCLI",
            dependencies: [
                "SurveyCore",
                "SurveyServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vsurvey-server",
            dependencies: ["VSurveyServerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vsurvey-bench",
            dependencies: [
                "SurveyCore", "SurveyStore", "SurveyFixtures", "SurveyServer", "SurveySync", "SurveyReport", "SurveySpreadsheet", "SurveyXLSForm", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SurveyCoreTests",
            dependencies: ["SurveyCore", "SurveyFixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SurveyStoreTests",
            dependencies: ["SurveyStore", "SurveyCore", "SurveyFixtures", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SurveyServerTests",
            dependencies: [
                "SurveyServer", "SurveyCore", "SurveyFixtures", "SurveyHTTP", "SurveyStore", "SurveySync", "SurveyReport", "SurveySQL", "SurveySQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SurveyReportTests",
            dependencies: ["SurveyReport", "SurveyCore", "SurveyFixtures", "SurveySQL", "SurveySQLite"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "VSurveyCLITests",
            dependencies: [
                "VSurveyCLI", "SurveyCore", "SurveyFixtures", "SurveySpreadsheet", "SurveyXLSForm", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
