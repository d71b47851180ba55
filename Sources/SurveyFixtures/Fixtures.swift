import Foundation
import SurveyCore

/// Paths into this repository, for tests and the benchmark.
public enum Fixtures {
    /// The repository root, found from this file's location.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let formsDirectory = root.appendingPathComponent("forms")
    public static let samplesDirectory = formsDirectory.appendingPathComponent("samples")

    /// The shipped forms and registry.
    public static func catalog() -> FormCatalog {
        FormCatalog(directories: [formsDirectory])
    }

    /// A shipped form by id; stops the test run loudly when it is missing.
    public static func form(_ id: String) throws -> Form {
        try FormLoader.load(contentsOf: formsDirectory.appendingPathComponent("\(id).yaml"))
    }

    /// The date the samples were written for, so checks against `today` are
    /// reproducible.
    public static let sampleToday = CivilDate.parse("2026-11-26")!
}

/// A small, fast, seedable random number generator (SplitMix64), so that
/// generated data is the same on every run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
