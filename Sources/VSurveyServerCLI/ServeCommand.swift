import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import SurveyCore
import SurveyServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "启动服务器 / Run the server.",
        discussion: """
            SIGTERM 或 Ctrl-C 时停止接收新连接,处理完进行中的请求后退出。
            若数据库中还没有单位名录,而表单目录下有 units/*.csv,启动时自动导入。
            On SIGTERM or Ctrl-C the server stops accepting connections, finishes the requests in flight and exits. If the database has no unit registry yet and the forms directory has units/*.csv, that registry is imported at start.
            """)

    @OptionGroup var options: ServerOptions
    @OptionGroup var formsOption: FormsOption

    @Option(name: .long, help: "监听地址 / Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "端口,0 表示任选空闲端口 / Port; 0 picks a free one.")
    var port = 8080

    @Option(name: .long, help: "每批最多调查份数 / Most surveys in one batch.")
    var maxBatch = 500

    @Option(
        name: .long,
        help: ArgumentHelp(
            "每个令牌同时处理的批次上限,超出的回复 429 / Most batches one token may have in flight; more get 429 with Retry-After.", valueName: "n"))
    var maxIngestPerToken = 8

    @Option(name: .long, help: ArgumentHelp("请求体上限(字节) / Largest request body in bytes.", valueName: "bytes"))
    var maxBody = 8 << 20

    @Option(name: .long, help: "日志级别 / Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port 应在 0 到 65535 之间 / --port must be 0 to 65535") }
        guard (1...100_000).contains(maxBatch) else { throw ValidationError("--max-batch 应在 1 到 100000 之间 / --max-batch must be 1 to 100000") }
        guard (1...10_000).contains(maxIngestPerToken) else {
            throw ValidationError("--max-ingest-per-token 应在 1 到 10000 之间 / --max-ingest-per-token must be 1 to 10000")
        }
        guard (1024...(1 << 30)).contains(maxBody) else {
            throw ValidationError("--max-body 应在 1024 到 1073741824 字节之间 / --max-body must be 1024 to 1073741824 bytes")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError(
                "--log-level 应为 trace、debug、info、notice、warning、error 或 critical / --log-level must be one of trace, debug, info, notice, warning, error, critical"
            )
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "vsurvey-server")
        let catalog = try formsOption.catalog(options)
        for problem in catalog.problems {
            logger.error("form not loaded", metadata: ["problem": .string(problem.rendered(.en))])
        }
        guard !catalog.allForms.isEmpty else {
            throw options.fail(L("表单目录 \(formsOption.directory.relativePath) 中没有可用的表单", "no usable forms in \(formsOption.directory.relativePath)"))
        }
        let storage = try await options.openStorage()
        let limits = ServerLimits(maxBodyBytes: maxBody, maxDecodedBytes: max(maxBody * 4, 32 << 20), maxBatch: maxBatch, maxIngestPerToken: maxIngestPerToken)
        let service: SurveyService
        do {
            // A rebuild reads every current survey: minutes for a national
            // database, so the log says how far it has come.
            service = try await SurveyService.start(storage: storage, catalog: catalog, limits: limits, logger: logger) { table, rows in
                if rows % 100_000 < 1_000 {
                    logger.notice("building report table", metadata: ["table": .string(table), "rows": .stringConvertible(rows)])
                }
            }
        } catch let error as ServiceError {
            throw options.fail(error.message)
        }
        let forms = catalog.allForms.map { "\($0.id)@\($0.version)" }.joined(separator: ", ")
        let host = host
        let app = ServerApplication.application(service: service, host: host, port: port, logger: logger) { port in
            // The first line on standard output says where the server is;
            // scripts and tests read the port from it.
            print("vsurvey-server listening on http://\(host):\(port)")
            fflush(nil)
            logger.notice("serving", metadata: ["port": .stringConvertible(port), "database": .string(storage.location), "forms": .string(forms)])
        }
        // Outliers are screened as surveys arrive, a few seconds behind,
        // so that reports seldom wait for it (they screen what is left).
        let screening = Task.detached { await service.screenOutliers(every: .seconds(5), logger: logger) }
        defer { screening.cancel() }
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES || error.errnoCode == EADDRNOTAVAIL {
            // The address cannot be had: said so a person can act on it, not as NIO's bind(...) text.
            let place = "\(host):\(port)"
            switch error.errnoCode {
            case EADDRINUSE:
                throw options.fail(
                    L(
                        "端口 \(port) 已被占用(\(place));另一个 vsurvey-server 还在运行?请停止它,或用 --port 换一个端口",
                        "port \(port) is already in use (\(place)); is another vsurvey-server running? Stop it, or choose another port with --port"))
            case EACCES:
                throw options.fail(
                    L(
                        "没有权限监听 \(place)(1024 以下的端口需要管理员权限);请用 --port 换一个端口",
                        "no permission to listen on \(place) (ports below 1024 need root); choose another with --port"))
            default:
                throw options.fail(L("本机没有地址 \(host);请检查 --host", "this machine has no address \(host); check --host"))
            }
        }
        logger.notice("stopped")
    }
}
