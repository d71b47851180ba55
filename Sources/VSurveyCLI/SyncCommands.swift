import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore
import SurveySync

/// The server settings `vsurvey login` keeps: `sync.json` in the data
/// directory, owner-only because it holds the token. `VSURVEY_SERVER` and
/// `VSURVEY_TOKEN` override it.
enum SyncConfig {
    static let fileName = "sync.json"

    static func url(_ directory: URL) -> URL { directory.appendingPathComponent(fileName) }

    static func load(_ directory: URL, environment: [String: String]) throws -> SyncSettings? {
        var stored: SyncSettings?
        if let data = try? Data(contentsOf: url(directory)) {
            guard let json = try? JSONParser().parse(data), let server = json["server"]?.stringValue, let token = json["token"]?.stringValue else {
                throw ValidationError("\(url(directory).path) 已损坏;请重新运行 vsurvey login / \(url(directory).path) is damaged; run vsurvey login again")
            }
            stored = SyncSettings(server: server, token: token, caFile: json["ca_file"]?.stringValue, pinnedPublicKey: json["pinned_key"]?.stringValue)
        }
        let server = environment["VSURVEY_SERVER"].flatMap { $0.isEmpty ? nil : $0 } ?? stored?.server
        let token = environment["VSURVEY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? stored?.token
        guard let server, let token else { return nil }
        return SyncSettings(server: server, token: token, caFile: stored?.caFile, pinnedPublicKey: stored?.pinnedPublicKey)
    }

    static func save(_ settings: SyncSettings, in directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var object: JSONObject = ["server": .string(settings.server), "token": .string(settings.token)]
        if let caFile = settings.caFile { object["ca_file"] = .string(caFile) }
        if let pinned = settings.pinnedPublicKey { object["pinned_key"] = .string(pinned) }
        try OwnerOnlyFile.write(JSONValue.object(object).serializedBytes(pretty: true) + [10], to: url(directory).path)
    }
}

struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "连接县里的服务器并保存设置 / Check a server and keep its settings",
        discussion: """
            先与服务器握手,确认地址是调查服务器、令牌有效,再把设置保存在数据目录的 sync.json(仅本人可读)。
            环境变量 VSURVEY_SERVER 和 VSURVEY_TOKEN 优先于保存的设置。
            Checks that the address is a VillageSurvey server and the token is valid, then keeps the settings in sync.json in the data directory, readable by its owner only.
            VSURVEY_SERVER and VSURVEY_TOKEN override them.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: ArgumentHelp("服务器地址 / Server address, e.g. https://survey.example.gov.cn", valueName: "url"))
    var server: String
    @Option(
        help: ArgumentHelp(
            "访问令牌;其他用户可在进程列表中看到,宜改用 --token-file 或 VSURVEY_TOKEN / Access token; other users can see it in the process list, so prefer --token-file or VSURVEY_TOKEN",
            valueName: "token"))
    var token: String?
    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp("从文件读取令牌,- 表示标准输入 / Read the token from a file; - reads standard input", valueName: "file"))
    var tokenFile: String?
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("信任的证书机构文件(PEM)/ CA certificates to trust (PEM)", valueName: "file"))
    var caFile: String?
    @Option(name: .customLong("pin"), help: ArgumentHelp("固定服务器公钥 sha256//… / Pinned server public key", valueName: "key"))
    var pinnedKey: String?

    func validate() throws {
        guard server.hasPrefix("http://") || server.hasPrefix("https://") else {
            throw ValidationError("--server 应以 http:// 或 https:// 开头 / --server must start with http:// or https://")
        }
        if let caFile, !FileManager.default.fileExists(atPath: caFile) { throw ValidationError("找不到文件 \(caFile) / no such file: \(caFile)") }
        if token != nil && tokenFile != nil {
            throw ValidationError("--token 与 --token-file 只能用一个 / give --token or --token-file, not both")
        }
    }

    /// The token from `--token-file` (or standard input), `--token` (with a
    /// warning: it shows in the process list), else `VSURVEY_TOKEN`.
    func secret(_ console: Console) throws -> String {
        if let tokenFile {
            let data: Data
            if tokenFile == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let read = FileManager.default.contents(atPath: tokenFile) else {
                    console.error(L("无法读取令牌文件 \(tokenFile)", "cannot read the token file \(tokenFile)"))
                    throw ExitCode.failure
                }
                data = read
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, !text.contains(where: \.isWhitespace) else {
                console.error(
                    L("令牌文件 \(tokenFile) 应只含一个令牌", "the token file \(tokenFile) must hold one token and nothing else"))
                throw ExitCode.failure
            }
            return text
        }
        if let token {
            console.error(
                L(
                    "注意:--token 给出的令牌其他用户可在进程列表中看到;可改用 --token-file 文件(或 - 读标准输入)或环境变量 VSURVEY_TOKEN",
                    "note: a token given with --token can be seen by other users in the process list; use --token-file FILE (or - for standard input) or VSURVEY_TOKEN"
                ))
            return token
        }
        if let token = options.environment["VSURVEY_TOKEN"], !token.isEmpty { return token }
        console.error(
            L("请给出令牌:--token-file 文件(- 为标准输入)或环境变量 VSURVEY_TOKEN", "give the token: --token-file FILE (- for standard input) or VSURVEY_TOKEN"))
        throw ExitCode.failure
    }

    func run() throws {
        let console = options.console()
        let settings = SyncSettings(
            server: server, token: try secret(console), caFile: caFile.map { URL(fileURLWithPath: $0).path }, pinnedPublicKey: pinnedKey)
        let directory = options.dataDirectory
        let store = try options.openStore(console)
        do {
            let info = try SyncEngine(store: store, settings: settings, language: console.language).handshake()
            try SyncConfig.save(settings, in: directory)
            let roles = ["collector": "采集员", "viewer": "查看者", "admin": "管理员"]
            let role = info.tokenRole.map { roles[$0] ?? $0 } ?? "?"
            let scope = info.tokenUnit.map { console.unitName($0, options.registryIfAvailable()) } ?? "?"
            console.out(
                L(
                    "已连接 \(Redacted.url(settings.server))(令牌 \(info.tokenName ?? "?"),\(role),范围 \(scope))。设置已保存。",
                    "connected to \(Redacted.url(settings.server)) (token \(info.tokenName ?? "?"), \(info.tokenRole ?? "?"), scope \(info.tokenUnit ?? "?")). Settings saved."
                ))
        } catch let error as SyncError {
            console.error(error.message)
            throw ExitCode.failure
        } catch {
            console.error(L("无法保存设置:\(error)", "cannot save the settings: \(error)"))
            throw ExitCode.failure
        }
    }
}

struct LogoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "删除保存的服务器设置和令牌 / Forget the server settings and token")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let console = options.console()
        let file = SyncConfig.url(options.dataDirectory)
        if FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.removeItem(at: file)
            console.out(L("已删除服务器设置和令牌", "the server settings and token were removed"))
        } else {
            console.out(L("没有保存的服务器设置", "no server settings were kept"))
        }
    }
}

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "把已定稿的调查发送到服务器 / Send finalized surveys to the server",
        discussion: """
            每份调查只有在服务器的答复写入本机数据库后才记为已上报;被拒收、内容冲突、待县里处理的调查保留原因,不会删除。
            网络错误、超时和服务器错误使调查保持待发送,并按指数退避稍后重试。同一数据库同时只能有一个同步。
            --watch 持续运行:每隔 --every(默认 15m)同步一次,网络恢复后立即同步;Ctrl-C 或 SIGTERM 时在当前一批之后停止。
            退出码:0 全部上报;1 有调查被拒收或冲突;2 有调查仍待发送(网络或服务器问题,或另一个同步正在进行)。
            A survey becomes sent only after the server's answer is committed locally. Rejected, mismatched and held surveys keep their reasons and are never deleted. Network errors, timeouts and server errors leave surveys pending, retried later with backoff. One sync at a time per database.
            --watch keeps running: a sync every --every (default 15m), and one as soon as the network is back after a failure; Ctrl-C or SIGTERM stops it after the current batch.
            Exit status: 0 everything sent; 1 some refused; 2 some still pending (network or server trouble, or another sync running).
            """)

    @OptionGroup var options: GlobalOptions
    @Flag(help: "持续运行,定期同步 / Keep running and sync periodically")
    var watch = false
    @Option(help: ArgumentHelp("--watch 的间隔,如 30s、15m、1h / Interval for --watch, e.g. 30s, 15m, 1h", valueName: "interval"))
    var every = "15m"

    func validate() throws {
        guard let seconds = Self.seconds(every), seconds >= 1 else {
            throw ValidationError("--every 应为 30s、15m、1h 这样的间隔 / --every must be an interval like 30s, 15m or 1h")
        }
    }

    static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value > 0 else { return Double(text) }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        default: return nil
        }
    }

    func run() throws {
        let console = options.console()
        let directory = options.dataDirectory
        let store = try options.openStore(console)
        let settings: SyncSettings?
        do {
            settings = try SyncConfig.load(directory, environment: options.environment)
        } catch {
            console.error("\(error)")
            throw ExitCode.failure
        }
        guard let settings else {
            console.error(
                L("还没有服务器设置:先运行 vsurvey login --server URL --token-file 令牌文件", "no server yet: run vsurvey login --server URL --token-file FILE first"))
            throw ExitCode.failure
        }
        let lock: SyncLock
        do {
            lock = try SyncLock(directory: directory)
        } catch {
            console.error(error.message)
            throw ExitCode(2)
        }
        defer { withExtendedLifetime(lock) {} }
        let engine = SyncEngine(store: store, settings: settings, language: console.language)
        engine.formsDirectory = options.pulledFormsDirectory
        let today = options.todayNumber
        let options = self.options
        engine.baselinesWanted = {
            // The forms as they are after the pull: each form whose newest
            // version starts from or checks against last period's survey.
            let catalog = FormCatalog(directories: options.formDirectories)
            return catalog.latestForms.filter(\.usesBaselines).compactMap { form in
                Period.containing(day: today, type: form.periodType).previous.map { (form.id, $0.description) }
            }
        }
        let terminal = isatty(STDERR_FILENO) != 0
        if terminal && !watch {
            engine.progress = { done, total, bytes in
                let width = 30
                let filled = total == 0 ? width : width * done / total
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                FileHandle.standardError.write(Data("\r\(bar) \(done)/\(total)  \(bytes / 1024) KiB".utf8))
            }
        }
        guard watch else {
            let summary: SyncSummary
            do {
                // A person who types sync means now: surveys waiting out a
                // backoff after an earlier failure go too (--watch keeps it).
                summary = try engine.push(ignoringBackoff: true)
            } catch {
                console.error(error.message)
                throw ExitCode(error.transient ? 2 : 1)
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            report(summary, console)
            if summary.rejected + summary.mismatched > 0 {
                console.out(L("用 vsurvey list --status rejected 查看被拒收的调查及原因", "see refused surveys and why with vsurvey list --status rejected"))
                throw ExitCode(1)
            }
            if summary.pending > 0 { throw ExitCode(2) }
            return
        }
        try watchLoop(engine, console)
    }

    func report(_ summary: SyncSummary, _ console: Console, prefix: String = "") {
        if !summary.pulled.forms.isEmpty {
            let forms = summary.pulled.forms.joined(separator: ", ")
            console.out(prefix + console.text(L("已从服务器更新表单:\(forms)", "forms updated from the server: \(forms)")))
        }
        if let units = summary.pulled.units {
            console.out(prefix + console.text(L("已从服务器更新单位名录(\(units) 个单位)", "unit registry updated from the server (\(units) units)")))
        }
        // Surveys, as vsurvey list counts them; the revisions too when a survey sent more than one.
        let revisions = summary.sent == summary.sentSurveys ? "" : console.text(L("(\(summary.sent) 个修订)", " (\(summary.sent) revisions)"))
        console.out(
            prefix
                + console.text(
                    L(
                        "已上报 \(summary.sentSurveys) 份\(revisions),重复 \(summary.duplicates),被拒收 \(summary.rejected),冲突 \(summary.mismatched),待县里处理 \(summary.held),仍待发送 \(summary.pending)",
                        "sent \(summary.sentSurveys)\(revisions), duplicates \(summary.duplicates), rejected \(summary.rejected), mismatched \(summary.mismatched), held \(summary.held), still pending \(summary.pending)"
                    )))
        if summary.reviews > 0 {
            console.out(
                prefix
                    + console.text(
                        L(
                            "收到审核结果 \(summary.reviews) 条\(summary.returned > 0 ? ",其中退回 \(summary.returned) 份:用 vsurvey list --returned 查看意见" : "")",
                            "\(summary.reviews) review decision\(summary.reviews == 1 ? "" : "s") received\(summary.returned > 0 ? ", \(summary.returned) returned: see the comments with vsurvey list --returned" : "")"
                        )))
        }
        if summary.baselines > 0 {
            console.out(
                prefix
                    + console.text(
                        L(
                            "已取得上期调查 \(summary.baselines) 份(新填调查以此开始;vsurvey baseline list 查看)",
                            "\(summary.baselines) survey\(summary.baselines == 1 ? "" : "s") of last period fetched (new surveys start from them; see vsurvey baseline list)"
                        )))
        }
        if let failure = summary.failure { console.error(failure) }
    }

    /// Syncs on the interval; after a failure, checks the server every
    /// 30 seconds (or the interval, if shorter) and syncs everything as soon
    /// as it answers. SIGINT and SIGTERM stop it between batches.
    func watchLoop(_ engine: SyncEngine, _ console: Console) throws {
        let stop = StopFlag()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { for source in sources { source.cancel() } }
        engine.shouldStop = { stop.isSet }
        let interval = Self.seconds(every) ?? 900
        var failing = false
        console.out(L("持续同步,每 \(every) 一次;按 Ctrl-C 停止", "syncing every \(every); press Ctrl-C to stop"))
        while !stop.isSet {
            let stamp = Self.clock()
            do {
                let summary = try engine.push(ignoringBackoff: failing)
                report(summary, console, prefix: "[\(stamp)] ")
                failing = summary.failure != nil
            } catch {
                console.error("[\(stamp)] " + error.message.text(console.language))
                failing = error.transient
                if !error.transient { throw ExitCode.failure }
            }
            let wait = failing ? min(interval, 30) : interval
            let deadline = Date().addingTimeInterval(wait)
            while !stop.isSet && Date() < deadline { usleep(200_000) }
        }
        console.out(L("同步已停止", "sync stopped"))
    }

    /// Now, as people read times: `2026-12-02 08:05`.
    static func clock() -> String { Timestamp.forPeople(Date()) }
}

/// Set from a signal handler's queue, read by the loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "服务器、上次同步和各状态的调查数 / Server, last sync, surveys by state")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let console = options.console()
        let store = try options.openStore(console, access: .readOnly)
        let settings = try? SyncConfig.load(options.dataDirectory, environment: options.environment)
        let en = console.language == .en
        console.out((en ? "server: " : "服务器:") + (settings?.server ?? (en ? "none (vsurvey login)" : "未设置(vsurvey login)")))
        let last = try storeStep(console) { try store.syncValue("last_success") }
        let lastShown = last.map { Timestamp.parse($0).map { Timestamp.forPeople($0) } ?? $0 }
        console.out((en ? "last successful sync: " : "上次成功同步:") + (lastShown ?? (en ? "never" : "从未")))
        let counts = try storeStep(console) { try store.statusCounts() }
        for status in SurveyStatus.allCases {
            console.out("  \(status.label.text(console.language)): \(counts[status] ?? 0)")
        }
        let returned = try storeStep(console) { try store.returnedCount() }
        console.out("  \(console.text(L("被退回待修改", "returned for changes"))): \(returned)")
        let pending = try storeStep(console) { try store.pendingCount() }
        if pending.count > 0, let next = pending.nextAttempt {
            console.out((en ? "next retry: " : "下次重试:") + Timestamp.forPeople(next))
        }
    }
}
