import ArgumentParser
import Foundation
import SurveyCore
import SurveyServer

/// Who a command acts as: a token named with `--as` (its role and scope
/// apply, and the audit log names it), or the server's operator, who sees
/// everything.
struct ActingOptions: ParsableArguments {
    @Option(
        name: .customLong("as"),
        help: ArgumentHelp("以哪个令牌的身份(编号或名称;其角色和范围生效)/ Act as this token (id or name): its role and scope apply.", valueName: "token"))
    var token: String?

    func principal(_ storage: any ServerStorage, _ options: ServerOptions) async throws -> Principal {
        guard let token else {
            let user = ProcessInfo.processInfo.environment["USER"] ?? "operator"
            return Principal(tokenID: 0, name: "cli:\(user)", role: .admin, unit: UnitCode("000000000000")!)
        }
        let tokens = try await storage.tokens()
        guard let record = tokens.first(where: { String($0.id) == token || $0.name == token }) else {
            throw options.fail(L("没有编号或名称为 “\(token)” 的令牌", "no token with id or name '\(token)'"))
        }
        guard record.revokedAt == nil else { throw options.fail(L("令牌 “\(record.name)” 已吊销", "token '\(record.name)' is revoked")) }
        return record.principal
    }
}

/// The service over the database and forms, as a command uses it.
struct CommandContext {
    let options: ServerOptions
    let service: SurveyService
    let principal: Principal

    static func open(_ options: ServerOptions, _ forms: FormsOption, _ acting: ActingOptions) async throws -> CommandContext {
        let storage = try await options.openStorage(creating: false)
        let service = SurveyService(storage: storage, catalog: try forms.catalog(options))
        return CommandContext(options: options, service: service, principal: try await acting.principal(storage, options))
    }

    var language: Language { options.language }
    var zh: Bool { language == .zh }

    /// Runs `body`, saying a refusal (scope, role, state) as an error.
    func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ServiceError {
            throw options.fail(error.message)
        } catch let error as StorageError {
            throw options.fail(error.message)
        }
    }

    func time(_ date: Date) -> String { Timestamp.forPeople(date) }

    /// A survey's answers, indented by section.
    func printLines(_ lines: [ReadableLine], indent: String = "  ") {
        for line in lines {
            let pad = indent + String(repeating: "  ", count: line.depth)
            let label = line.label.text(language)
            switch line.kind {
            case .section, .entry: print(pad + label)
            case .repeatHeading: print(pad + label + (zh ? "(" : " (") + (line.value?.text(language) ?? "") + (zh ? ")" : ")"))
            case .answer: print(pad + (line.computed ? "= " : "") + label + (zh ? ":" : ": ") + (line.value?.text(language) ?? ""))
            }
        }
    }

    func printChanges(_ changes: [AnswerChange], indent: String = "    ") {
        let none = zh ? "(未问)" : "(not asked)"
        for change in changes {
            print(
                indent + change.label.text(language) + " [\(change.path)]" + (zh ? ":" : ": ") + (change.before?.text(language) ?? none) + " → "
                    + (change.after?.text(language) ?? none))
        }
    }
}

/// A table with CJK-aware columns.
enum TextTable {
    static func print(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { DisplayWidth.of($0[column]) }.max() ?? 0 }
        for row in [header] + rows {
            var line = row.enumerated().map { DisplayWidth.pad($1, to: widths[$0]) }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            Swift.print(line)
        }
    }
}

struct SurveysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surveys",
        abstract: "浏览和阅读收到的调查 / Browse and read the surveys received.",
        subcommands: [List.self, Show.self, Review.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "列出调查及其审核状态 / List surveys with their review state.",
            discussion: """
                默认列出当前调查;--review returned 只列被退回的,--q 按单位名称或代码查找。结果分页:下一页用输出末尾给出的 --cursor。
                Lists current surveys; --review returned lists only returned ones, --q finds units by name or code. Results come in pages: the next page is the --cursor printed at the end.
                """)

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions

        @Option(name: .customLong("form"), help: "表单编号 / Form id.") var formID: String?
        @Option(help: "报告期,如 2026 / Period, such as 2026.") var period: String?
        @Option(help: ArgumentHelp("范围:12 位单位代码 / Scope: a 12-digit unit code.", valueName: "code")) var scope: String?
        @Option(help: "审核状态 / Review state: pending, approved, accepted, returned.") var review: String?
        @Option(help: "调查状态 / State: current (default), held, superseded, all.") var state: String?
        @Option(help: "按单位名称或代码查找 / Find by unit name or code.") var q: String?
        @Option(help: "从这个游标之后开始 / Start after this cursor.") var cursor: Int64?
        @Option(help: "每页条数(1–500,默认 50)/ Surveys per page (1–500, default 50).") var limit: Int = 50

        func validate() throws {
            if let scope, UnitCode(scope) == nil { throw ValidationError("--scope 应为 12 位单位代码 / --scope must be a 12-digit unit code") }
            if let review, ReviewState(rawValue: review) == nil {
                throw ValidationError("--review 应为 pending、approved、accepted 或 returned / --review must be pending, approved, accepted or returned")
            }
            if let state, state != "all", InstanceState(rawValue: state) == nil {
                throw ValidationError("--state 应为 current、held、superseded 或 all / --state must be current, held, superseded or all")
            }
            guard (1...500).contains(limit) else { throw ValidationError("--limit 应在 1 到 500 之间 / --limit must be between 1 and 500") }
        }

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                var query = SurveyQuery(scope: scope.flatMap(UnitCode.init) ?? context.principal.unit)
                query.formID = formID
                query.period = period
                query.review = review.flatMap(ReviewState.init(rawValue:))
                query.state = state == "all" ? nil : (state.flatMap(InstanceState.init(rawValue:)) ?? .current)
                query.text = q
                query.after = cursor ?? 0
                query.limit = limit
                let page = try await context.service.browse(query, for: context.principal)
                if page.surveys.isEmpty {
                    options.say(L("没有符合条件的调查", "no surveys match"))
                    return
                }
                let zh = context.zh
                // The survey's own state only when other states are asked for.
                let states = query.state != .current
                var header =
                    zh
                    ? ["编号", "单位", "名称", "乡镇", "报告期", "修订", "审核", "上报", "收到时间"]
                    : ["id", "unit", "name", "township", "period", "rev", "review", "sent by", "received"]
                if states { header.insert(zh ? "状态" : "state", at: 6) }
                TextTable.print(
                    header,
                    page.surveys.map { survey in
                        var row = [
                            String(survey.instanceID.prefix(8)), survey.unit, survey.unitName ?? "", page.townships[survey.unit]?.name ?? "", survey.period,
                            String(survey.revision), survey.review.label.text(context.language), survey.sentBy ?? "", context.time(survey.receivedAt),
                        ]
                        if states { row.insert(survey.state.label.text(context.language), at: 6) }
                        return row
                    })
                for survey in page.surveys where survey.review.state == .returned {
                    print(
                        "  \(survey.instanceID.prefix(8)) " + (zh ? "退回意见" : "comment") + "(\(survey.reviewer ?? "")):"
                            + (survey.reviewComment ?? ""))
                }
                if let next = page.next {
                    options.say(L("还有更多:加 --cursor \(next) 看下一页", "more: add --cursor \(next) for the next page"))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "显示一份调查:答案、修订及其改动、审核记录 / Show a survey: answers, revisions with their changes, review history.")

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions

        @Argument(help: "调查编号(instance_id)/ The survey's instance_id.") var instanceID: String

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                let detail = try await context.service.detail(of: instanceID, for: context.principal)
                let latest = detail.record.latest
                let zh = context.zh
                let language = context.language
                print(
                    "\(detail.unitName ?? latest.unit)(\(latest.unit))\(detail.township.map { " · " + $0.name } ?? "") · \(latest.formID)@\(latest.formVersion) · \(latest.period)"
                )
                print(
                    zh
                        ? "编号 \(latest.instanceID) · 修订 \(latest.revision) · \(detail.record.state.label.zh) · 审核:\(detail.review.label.zh)(由\(detail.levels.map(\.label.zh).joined(separator: "、"))审核)"
                        : "id \(latest.instanceID) · revision \(latest.revision) · \(detail.record.state.label.text(.en)) · review: \(detail.review.label.text(.en)) (reviewed by the \(detail.levels.map { $0.label.text(.en) }.joined(separator: ", then the ")))"
                )
                if let comment = detail.reviewComment {
                    print((zh ? "意见" : "Comment") + "(\(detail.reviewer ?? "")):" + comment)
                }
                print("")
                context.printLines(detail.revisions.last?.lines ?? [])
                print("")
                print(zh ? "修订:" : "Revisions:")
                for revision in detail.revisions {
                    let record = revision.record
                    print(
                        "  " + (zh ? "修订 \(record.revision)" : "revision \(record.revision)") + " · \(context.time(record.receivedAt)) · "
                            + (record.sentBy ?? "-"))
                    if record.revision != detail.revisions.first?.record.revision {
                        if revision.changes.isEmpty { print("    " + (zh ? "(答案无改动)" : "(no answers changed)")) }
                        context.printChanges(revision.changes)
                    }
                }
                print("")
                print(zh ? "审核记录:" : "Review history:")
                if detail.history.isEmpty { print("  " + (zh ? "(还没有)" : "(none yet)")) }
                for event in detail.history {
                    let comment = event.comment.map { zh ? ":\($0)" : ": \($0)" } ?? ""
                    print(
                        "  \(context.time(event.at)) · \(event.reviewer) · " + (zh ? "修订 \(event.revision)" : "revision \(event.revision)") + " · "
                            + event.action.label.text(language) + " → " + event.status.label.text(language) + comment)
                }
            }
        }
    }
}

extension SurveysCommand {
    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "审核一份调查:通过、退回或撤销 / Review a survey: approve, return or reopen it.",
            discussion: """
                以 --as 给出的审核员或管理员令牌的身份,在其单位的层级(乡镇或县)审核;--revision 是你在 surveys show 中看到的修订号,服务器已有更新的修订时拒绝。退回须写 --comment,意见会在下次同步时到达采集设备。
                Reviews as the reviewer or admin token named by --as, at its unit's level (township or county). --revision is the revision you read with surveys show; it is refused when the server holds a newer one. A return needs --comment, which reaches the field device at its next sync.
                """)

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions
        @Argument(help: "调查编号(instance_id)/ The survey's instance_id.") var instanceID: String
        @Option(help: "approve(通过)、return(退回)或 reopen(撤销)/ approve, return or reopen.") var action: String
        @Option(help: "你看到的修订号 / The revision you read.") var revision: Int
        @Option(help: "意见(退回时必填)/ A comment (needed to return).") var comment: String?

        func validate() throws {
            guard ReviewAction(rawValue: action) != nil else {
                throw ValidationError("--action 应为 approve、return 或 reopen / --action must be approve, return or reopen")
            }
            guard acting.token != nil else {
                throw ValidationError("请用 --as 给出审核员或管理员令牌的名称 / name the reviewer's or admin's token with --as")
            }
        }

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                let outcome = try await context.service.reviewOne(
                    ReviewTarget(instanceID: instanceID, revision: revision), action: ReviewAction(rawValue: action)!, comment: comment,
                    by: context.principal, address: "cli")
                let label = outcome.status?.label ?? .init(zh: "?", en: "?")
                options.say(L("调查 \(outcome.instanceID) 修订 \(revision):\(label.zh)", "survey \(outcome.instanceID) revision \(revision): \(label.text(.en))"))
            }
        }
    }
}

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "处理同一单位和报告期的两份调查 / Settle two surveys for one unit and period.",
        subcommands: [List.self, Show.self, Resolve.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "列出冲突(默认只列未处理的)/ List conflicts (open ones unless --all).")

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions
        @Flag(help: "也列出已处理的 / Include resolved ones.") var all = false

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                let conflicts = try await context.service.conflicts(for: context.principal, includeResolved: all)
                if conflicts.isEmpty {
                    options.say(all ? L("没有冲突", "no conflicts") : L("没有未处理的冲突", "no open conflicts"))
                    return
                }
                let registry = try await context.service.registry()
                let zh = context.zh
                TextTable.print(
                    zh
                        ? ["编号", "表单", "单位", "名称", "报告期", "暂存的调查", "当前调查", "发生时间", "状态"]
                        : ["id", "form", "unit", "name", "period", "held", "current", "opened", "state"],
                    conflicts.map { conflict in
                        [
                            String(conflict.id), conflict.formID, conflict.unit, UnitCode(conflict.unit).flatMap { registry.unit($0)?.name } ?? "",
                            conflict.period, String(conflict.heldInstance.prefix(8)), conflict.currentInstance.map { String($0.prefix(8)) } ?? "-",
                            context.time(conflict.createdAt),
                            conflict.resolvedAt == nil ? (zh ? "未处理" : "open") : (zh ? "已处理" : "resolved"),
                        ]
                    })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "并排显示冲突的两份调查及其不同 / Show a conflict's two surveys side by side, with their differences.")

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions
        @Argument(help: "冲突编号 / The conflict's number.") var id: Int64

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                let detail = try await context.service.conflictDetail(id, for: context.principal)
                let conflict = detail.conflict
                let zh = context.zh
                let language = context.language
                print(
                    zh
                        ? "冲突 \(conflict.id) · \(conflict.formID) · \(conflict.unit) · \(conflict.period)"
                        : "conflict \(conflict.id) · \(conflict.formID) · \(conflict.unit) · \(conflict.period)")
                if let resolved = conflict.resolvedAt {
                    print(
                        (zh
                            ? "已于 \(context.time(resolved)) 由 \(conflict.resolvedBy ?? "") 处理,保留 "
                            : "resolved \(context.time(resolved)) by \(conflict.resolvedBy ?? ""), kept ")
                            + (conflict.keptInstance ?? "-") + (conflict.comment.map { zh ? ";意见:\($0)" : "; comment: \($0)" } ?? ""))
                }
                func heading(_ survey: SurveyDetail?) -> String {
                    guard let survey else { return "-" }
                    let latest = survey.record.latest
                    return "\(latest.instanceID.prefix(8)) r\(latest.revision) \(latest.sentBy ?? "") \(context.time(latest.receivedAt))"
                }
                // Side by side: the question, the current survey's answer, the held one's.
                var rows: [[String]] = []
                let current = Dictionary(
                    (detail.current?.revisions.last?.lines ?? []).filter { $0.kind == .answer }.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
                let differing = Set(detail.differences.map(\.path))
                var seen = Set<String>()
                for line in detail.held?.revisions.last?.lines ?? [] where line.kind == .answer {
                    seen.insert(line.path)
                    rows.append([
                        (differing.contains(line.path) ? "* " : "  ") + line.label.text(language), current[line.path]?.value?.text(language) ?? "",
                        line.value?.text(language) ?? "",
                    ])
                }
                for line in detail.current?.revisions.last?.lines ?? [] where line.kind == .answer && !seen.contains(line.path) {
                    rows.append(["* " + line.label.text(language), line.value?.text(language) ?? "", ""])
                }
                TextTable.print(
                    [zh ? "  问题" : "  question", (zh ? "当前 " : "current ") + heading(detail.current), (zh ? "暂存 " : "held ") + heading(detail.held)], rows)
                print(
                    zh
                        ? "\(detail.differences.count) 处不同(标 *)。用 vsurvey-server conflicts resolve \(conflict.id) --keep 编号 --comment 原因 处理"
                        : "\(detail.differences.count) differences (marked *). Settle with vsurvey-server conflicts resolve \(conflict.id) --keep ID --comment WHY"
                )
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "处理冲突:保留一份为当前调查,另一份留存不计 / Resolve a conflict: keep one survey as current; the other is kept aside.",
            discussion: """
                --keep 给出要保留的调查编号(可只写开头几位,须唯一)。处理记入审计日志。
                --keep names the survey to keep (its first characters are enough when they are unique). The audit log records it.
                """)

        @OptionGroup var options: ServerOptions
        @OptionGroup var forms: FormsOption
        @OptionGroup var acting: ActingOptions
        @Argument(help: "冲突编号 / The conflict's number.") var id: Int64
        @Option(help: "要保留的调查编号 / The instance_id to keep.") var keep: String
        @Option(help: "处理意见 / Why.") var comment: String?

        func run() async throws {
            let context = try await CommandContext.open(options, forms, acting)
            try await context.run {
                let conflict = try await context.service.conflict(id, for: context.principal)
                let rivals = [conflict.heldInstance] + (conflict.currentInstance.map { [$0] } ?? [])
                let matching = rivals.filter { $0.hasPrefix(keep.lowercased()) }
                let chosen = matching.count == 1 ? matching[0] : keep
                let resolved = try await context.service.resolveConflict(
                    id, keep: chosen, comment: comment, by: context.principal, address: "cli")
                options.say(
                    L(
                        "冲突 \(resolved.id) 已处理:\(resolved.keptInstance ?? chosen) 为当前调查",
                        "conflict \(resolved.id) resolved: \(resolved.keptInstance ?? chosen) is the current survey"))
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "审计日志:审核、冲突处理、导出、令牌变动和登录 / The audit log: reviews, conflict resolutions, exports, token changes and sign-ins.")

    @OptionGroup var options: ServerOptions
    @OptionGroup var forms: FormsOption
    @OptionGroup var acting: ActingOptions
    @Option(help: "只列这种操作,如 review.return / Only this action, such as review.return.") var action: String?
    @Option(help: "最多条数(默认 100)/ At most this many entries (default 100).") var limit: Int = 100
    @Option(help: "从这个游标之前开始 / Start before this cursor.") var cursor: Int64?

    func validate() throws {
        if let action, !AuditAction.all.contains(action) {
            throw ValidationError("--action 应为 / must be one of: \(AuditAction.all.joined(separator: ", "))")
        }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit 应在 1 到 10000 之间 / --limit must be between 1 and 10000") }
    }

    func run() async throws {
        let context = try await CommandContext.open(options, forms, acting)
        try await context.run {
            let records = try await context.service.auditLog(for: context.principal, before: cursor, limit: limit + 1, action: action)
            if records.isEmpty {
                options.say(L("审计日志中没有记录", "the audit log has no entries"))
                return
            }
            let page = records.prefix(limit)
            TextTable.print(
                context.zh ? ["编号", "时间", "操作者", "地址", "操作", "对象", "单位", "详情"] : ["id", "time", "actor", "address", "action", "target", "unit", "details"],
                page.map { record in
                    [
                        String(record.id), context.time(record.at), record.actor, record.address ?? "", record.action, record.target ?? "", record.unit ?? "",
                        record.details.isEmpty ? "" : JSONValue.object(record.details).serialized(),
                    ]
                })
            if records.count > limit, let last = page.last {
                options.say(L("还有更多:加 --cursor \(last.id) 看更早的", "more: add --cursor \(last.id) for earlier entries"))
            }
        }
    }
}
