import Foundation
import HTTPTypes
import Hummingbird
import SurveyCore

/// The county's workspace under `/workspace`: server-rendered pages over
/// the same `SurveyService` calls as the API, with the same role rules.
/// A person signs in with a name and a password (`SignInRoutes`); every
/// form a page posts carries the session's CSRF token.
enum WorkspaceRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        page(routes, .get, "/workspace", requires: .read) { page in
            try await home(page, service)
        }
        page(routes, .get, "/workspace/surveys", requires: .read) { page in
            try await surveys(page, service)
        }
        page(routes, .get, "/workspace/surveys/{instance_id}", requires: .read) { page in
            try await survey(page, service, id: try page.parameter("instance_id"))
        }
        page(routes, .post, "/workspace/surveys/{instance_id}/review", requires: .review) { page in
            try await review(page, service, id: try page.parameter("instance_id"))
        }
        page(routes, .get, "/workspace/units/{code}", requires: .read) { page in
            try await unit(page, service, code: try page.parameter("code"))
        }
        page(routes, .get, "/workspace/conflicts", requires: .read) { page in
            try await conflicts(page, service)
        }
        page(routes, .get, "/workspace/conflicts/{id}", requires: .read) { page in
            try await conflict(page, service, id: try page.conflictID())
        }
        page(routes, .post, "/workspace/conflicts/{id}/resolve", requires: .resolve) { page in
            try await resolve(page, service, id: try page.conflictID())
        }
        page(routes, .get, "/workspace/exports", requires: .read) { page in
            try await exports(page, service)
        }
        page(routes, .get, "/workspace/exports/{form}", requires: .read) { page in
            try download(page, form: try page.parameter("form"))
        }
        page(routes, .get, "/workspace/audit", requires: .audit) { page in
            try await audit(page, service)
        }
        return routes
    }

    /// A workspace page: a language it speaks, a signed-in caller with
    /// `permission` (else the sign-in form, or a refusal), and, for a post,
    /// a form from this server's pages with the session's CSRF token. A
    /// refusal from the service is shown as a page, not JSON.
    static func page(
        _ routes: RouteCollection<ServerRequestContext>, _ method: HTTPRequest.Method, _ path: RouterPath, requires permission: Permission,
        _ body: @escaping @Sendable (WorkspacePage) async throws -> Response
    ) {
        routes.on(path, method: method) { request, context -> Response in
            let language = RequestLanguage.of(request)
            if let problem = RequestLanguage.problem(request) { return Pages.message(.badRequest, problem.message, language: language) }
            guard let principal = context.identity, context.credentialError == nil else {
                let next = method == .get ? request.uri.description : "/workspace"
                return Pages.message(.unauthorized, L("请先登录", "please sign in"), language: language, signIn: next)
            }
            do {
                try principal.require(permission)
                var fields: [String: String] = [:]
                if method == .post {
                    fields = try await Pages.formFields(request)
                    guard Pages.mayChange(request, context, token: fields["csrf"]) else {
                        return Pages.message(
                            .forbidden,
                            L(
                                "拒绝这个表单:它不是从本服务器的页面提交的,或页面已过期(请刷新后再提交)",
                                "this form is refused: it was not sent from this server's pages, or the page is out of date (reload it and send again)"),
                            language: language)
                    }
                }
                return try await body(WorkspacePage(request: request, context: context, principal: principal, language: language, fields: fields))
            } catch let error as ServiceError {
                return Pages.message(HTTPErrors.status(error.kind), error.message, language: language)
            } catch let error as StorageError {
                let refusal = ServiceError(error)
                return Pages.message(HTTPErrors.status(refusal.kind), refusal.message, language: language)
            }
        }
    }

    // MARK: Home

    static func home(_ page: WorkspacePage, _ service: SurveyService) async throws -> Response {
        let period = try page.text("period").map { text throws(ServiceError) -> String in
            guard Period(text) != nil else { throw ServiceError(.invalid, "invalid_period", L("报告期 \(text) 无效", "the period \(text) is not valid")) }
            return text
        }
        // Forms the scope expects nothing of (a county's form, to a township) are left out.
        let summaries = try await service.reviewSummaries(period: period, for: page.principal).filter { $0.expected > 0 || $0.received > 0 }
        let open = try await service.conflicts(for: page.principal, includeResolved: false)
        let registry = try await service.registry()
        var values = page.base(title: L("工作台", "Home"), current: "home", registry: registry)
        values["forms"] = summaries.map { summary -> [String: Any] in
            let id = summary.form.id
            let percent = summary.expected == 0 ? "—" : String(format: "%.1f%%", Double(summary.received) / Double(summary.expected) * 100)
            var item: [String: Any] = [
                "title": summary.form.title.text(page.language), "period": summary.period, "received": summary.received,
                "expected": summary.expected, "percent": percent, "returned": summary.returned, "accepted": summary.accepted,
                "tableURL": page.link("/workspace/surveys", [("form", id), ("period", summary.period)]),
                "returnedURL": page.link("/workspace/surveys", [("form", id), ("period", summary.period), ("review", "returned")]),
                "acceptedURL": page.link("/workspace/surveys", [("form", id), ("period", summary.period), ("review", "accepted")]),
                "reportURL": page.link("/reports/\(id)", [("period", summary.period)]),
            ]
            if let awaiting = summary.awaiting {
                item["awaiting"] = compact([
                    "count": summary.waiting, "id": "waiting-\(id)", "label": awaiting == .pending ? nil : awaiting.label.text(page.language),
                    "url": page.link(
                        "/workspace/surveys",
                        [("form", id), ("period", summary.period), ("review", awaiting.state.rawValue), ("level", awaiting.level?.rawValue)]),
                ])
            }
            return item
        }
        values["conflicts"] = ["count": open.count, "url": page.link("/workspace/conflicts")]
        return Pages.render("home", values)
    }

    // MARK: Surveys

    static func surveys(_ page: WorkspacePage, _ service: SurveyService) async throws -> Response {
        var query = try SurveyRoutes.query(page.request, page.principal)
        if page.text("limit") == nil { query.limit = 50 }
        let result = try await service.browse(query, for: page.principal)
        let registry = try await service.registry()
        var values = page.base(title: L("调查表", "Surveys"), current: "surveys", registry: registry)
        values["forms"] = [["value": "", "label": PageText.strings(page.language)["allForms"]!, "selected": query.formID == nil]]
            + service.catalog.latestForms.map { form -> [String: Any] in
                ["value": form.id, "label": form.title.text(page.language), "selected": query.formID == form.id]
            }
        values["period"] = query.period ?? ""
        values["q"] = query.text ?? ""
        // The review states a filter offers: each level's decisions for the levels in use.
        let levels = Array(Set(service.catalog.allForms.flatMap(\.reviewLevels))).sorted { $0.prefixLength > $1.prefixLength }
        var statuses: [(String, String?, LocalizedText)] = [("pending", nil, ReviewStatus.pending.label)]
        for level in levels {
            statuses.append(("approved", level.rawValue, ReviewStatus(.approved, at: level).label))
            statuses.append(("accepted", level.rawValue, ReviewStatus(.accepted, at: level).label))
        }
        statuses.append(("returned", nil, ReviewStatus(.returned).label))
        let chosen = query.review.map { ($0.rawValue, query.reviewLevel?.rawValue) }
        values["reviews"] =
            [["value": "", "label": PageText.strings(page.language)["anyReview"]!, "selected": chosen == nil]]
            + statuses.map { state, level, label -> [String: Any] in
                [
                    "value": level.map { "\(state)@\($0)" } ?? state, "label": label.text(page.language),
                    "selected": chosen.map { $0.0 == state && $0.1 == level } ?? false,
                ]
            }
        // What the checks found: the doubtful surveys first.
        let flagChoice = page.text("flag")
        values["flagOptions"] = [("", L("全部", "any")), ("any", L("有警示或离群", "flagged")), ("unconfirmed", L("警示未确认", "warnings not confirmed")),
            ("changed", L("与上期相比变化大", "large changes")), ("confirmed", L("警示已确认", "warnings confirmed"))].map { value, label -> [String: Any] in
            ["value": value, "label": label.text(page.language), "selected": (flagChoice ?? "") == value]
        }
        let townships = registry.units(under: page.principal.unit, level: .township)
        if townships.count > 1 {
            values["townships"] =
                [["value": page.principal.unit.rawValue, "label": PageText.strings(page.language)["allTownships"]!, "selected": false]]
                + townships.map { unit -> [String: Any] in ["value": unit.code.rawValue, "label": unit.name, "selected": query.scope == unit.code] }
            values["townships"] = ["options": values["townships"]!]
        }
        values["rows"] = result.surveys.map { listing -> [String: Any] in
            compact([
                "url": page.link("/workspace/surveys/\(listing.instanceID)"), "unit": listing.unit, "unitName": listing.unitName ?? "",
                "township": result.townships[listing.unit]?.name ?? "", "form": listing.formID, "period": listing.period, "revision": listing.revision,
                "received": Timestamp.forPeople(listing.receivedAt), "sentBy": listing.sentBy ?? "",
                "status": listing.state == .held ? PageText.strings(page.language)["held"]! : listing.review.label.text(page.language),
                "statusClass": listing.review.state.rawValue, "comment": listing.review.state == .returned ? listing.reviewComment : nil,
                "flags": SurveyChecks.Flag.allCases.filter { listing.flags & $0.rawValue != 0 }.map { flag -> [String: Any] in
                    ["name": flag.name, "label": flag.label.text(page.language)]
                },
            ])
        }
        var keep: [(String, String?)] = [
            ("form", query.formID), ("period", query.period), ("scope", query.scope == page.principal.unit ? nil : query.scope.rawValue),
            ("review", page.text("review")), ("level", page.text("level")), ("flag", flagChoice), ("q", query.text), ("limit", page.text("limit")),
        ]
        values["firstURL"] = query.after > 0 ? page.link("/workspace/surveys", keep) : nil
        if let next = result.next {
            keep.append(("cursor", String(next)))
            values["nextURL"] = page.link("/workspace/surveys", keep)
        }
        return Pages.render("surveys", values)
    }

    /// A unit's survey for a form and period (from a report's list): its
    /// page when there is one, else the unit's surveys.
    static func unit(_ page: WorkspacePage, _ service: SurveyService, code text: String) async throws -> Response {
        guard let code = UnitCode(text) else {
            throw ServiceError.notFound(L("没有单位 “\(text)”(单位代码为 12 位数字)", "there is no unit '\(text)' (a unit code has 12 digits)"))
        }
        var query = SurveyQuery(scope: code)
        query.formID = page.text("form")
        query.period = page.text("period")
        query.limit = 2
        let found = try await service.browse(query, for: page.principal)
        let target =
            found.surveys.count == 1
            ? page.link("/workspace/surveys/\(found.surveys[0].instanceID)")
            : page.link("/workspace/surveys", [("form", query.formID), ("period", query.period), ("scope", code.rawValue)])
        return Pages.html(.seeOther, "", headers: [.location: target])
    }

    // MARK: One survey

    static func survey(_ page: WorkspacePage, _ service: SurveyService, id: String, flash: (LocalizedText, Bool)? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let detail = try await service.detail(of: id, for: page.principal)
        let registry = try await service.registry()
        let latest = detail.record.latest
        let form = service.catalog.form(latest.formID, version: latest.formVersion) ?? service.catalog.form(latest.formID)
        let unitName = detail.unitName ?? latest.unit
        var values = page.base(title: L("\(unitName) · \(latest.period)", "\(unitName) · \(latest.period)"), current: "surveys", registry: registry)
        if let flash { values["flash"] = ["text": flash.0.text(page.language), "kind": flash.1 ? "ok" : "error"] }
        if let done = page.text("done"), let action = ReviewAction(rawValue: done), flash == nil {
            values["flash"] = ["text": L("已\(action.label.zh):现为\(detail.review.label.zh)", "\(action.label.text(.en)): now \(detail.review.label.text(.en))").text(page.language), "kind": "ok"]
        }
        values["survey"] = compact([
            "instanceID": latest.instanceID, "form": form?.title.text(page.language) ?? latest.formID, "formID": latest.formID,
            "version": latest.formVersion, "unit": latest.unit, "unitName": unitName, "township": detail.township?.name,
            "period": latest.period, "revision": latest.revision, "received": Timestamp.forPeople(latest.receivedAt),
            "sentBy": latest.sentBy ?? "", "state": detail.record.state.rawValue, "held": detail.record.state == .held,
            "status": detail.review.label.text(page.language), "statusClass": detail.review.state.rawValue,
            "comment": detail.reviewComment, "reviewer": detail.reviewer ?? "",
            "reportURL": page.link("/reports/\(latest.formID)", [("period", latest.period)]),
        ])
        values["levels"] = detail.levels.map { level -> [String: Any] in
            let passed = detail.review.level.map { standing in
                detail.review.state != .returned && level.prefixLength >= standing.prefixLength
            } ?? false
            return ["label": level.label.text(page.language), "passed": passed]
        }
        // The decisions this caller may take now, as the rules would decide them.
        if page.principal.role.mayReview, detail.record.state == .current, let level = page.principal.unit.level, detail.levels.contains(level) {
            // Whether a decision may be taken does not hang on what a returned survey was before.
            let actions = ReviewAction.allCases.filter {
                if case .success = ReviewRules.decide($0, current: detail.review, prior: nil, at: level, levels: detail.levels) { return true }
                return false
            }
            if !actions.isEmpty {
                values["decide"] = [
                    "url": page.link("/workspace/surveys/\(latest.instanceID)/review"), "revision": latest.revision,
                    "actions": actions.map { action -> [String: Any] in
                        let label: LocalizedText =
                            switch action {
                            case .approve: level == detail.levels.last ? L("验收", "Accept") : L("审核通过", "Approve")
                            case .return: L("退回", "Return")
                            case .reopen: L("撤销决定", "Reopen")
                            }
                        return ["action": action.rawValue, "label": label.text(page.language), "primary": action == .approve]
                    },
                    "level": level.label.text(page.language),
                ]
            }
        }
        // What the checks found at ingest: warnings (confirmed or not, and why) and large changes.
        if let checks = SurveyChecks.read(latest.checks, form: form) {
            func label(_ field: String) -> String { form?.field(named: field)?.label?.text(page.language) ?? field }
            values["checks"] = [
                "warnings": checks.warnings.map { warning -> [String: Any] in
                    compact([
                        "label": label(warning.field), "path": warning.path, "message": warning.message.text(page.language),
                        "confirmed": warning.confirmed, "explanation": warning.explanation.flatMap { $0.isEmpty ? nil : $0 },
                    ])
                },
                "changes": checks.changes.map { change -> [String: Any] in
                    ["label": label(change.field), "value": Value.format(change.value), "previous": Value.format(change.previous)]
                },
            ]
        }
        let shown = detail.revisions.last
        values["lines"] = (shown?.lines ?? []).map { line -> [String: Any] in
            [
                "section": line.kind == .section, "repeat": line.kind == .repeatHeading, "entry": line.kind == .entry, "answer": line.kind == .answer,
                "label": line.label.text(page.language), "value": line.value?.text(page.language) ?? "", "computed": line.computed,
                "depth": line.depth,
            ]
        }
        values["revisions"] = detail.revisions.reversed().map { revision -> [String: Any] in
            [
                "number": revision.record.revision, "received": Timestamp.forPeople(revision.record.receivedAt), "sentBy": revision.record.sentBy ?? "",
                "first": revision.record.revision == detail.revisions.first?.record.revision, "hasChanges": !revision.changes.isEmpty,
                "changes": revision.changes.map { change -> [String: Any] in
                    [
                        "label": change.label.text(page.language), "before": change.before?.text(page.language) ?? "—",
                        "after": change.after?.text(page.language) ?? "—",
                    ]
                },
            ]
        }
        values["history"] = detail.history.reversed().map { event -> [String: Any] in
            [
                "at": Timestamp.forPeople(event.at), "action": event.action.label.text(page.language), "status": event.status.label.text(page.language),
                "reviewer": event.reviewer, "level": event.actorLevel?.label.text(page.language) ?? "", "revision": event.revision,
                "comment": event.comment ?? "",
            ]
        }
        return Pages.render("survey", values, status: status)
    }

    static func review(_ page: WorkspacePage, _ service: SurveyService, id: String) async throws -> Response {
        guard let action = page.fields["action"].flatMap(ReviewAction.init(rawValue:)) else {
            throw ServiceError.invalid(L("缺少审核操作", "no review action"))
        }
        guard let revision = page.fields["revision"].flatMap(Int.init) else {
            throw ServiceError.invalid(L("缺少修订号", "no revision"))
        }
        let comment = page.fields["comment"]?.trimmingSpaces
        do {
            _ = try await service.reviewOne(
                ReviewTarget(instanceID: id, revision: revision), action: action, comment: comment?.isEmpty == false ? comment : nil, by: page.principal,
                address: page.context.remoteAddress)
        } catch let error as ServiceError where error.kind == .conflict || error.kind == .invalid || error.kind == .forbidden {
            // The survey page again, saying why, with the comment not lost.
            return try await survey(page, service, id: id, flash: (error.message, false), status: HTTPErrors.status(error.kind))
        }
        return Pages.html(.seeOther, "", headers: [.location: page.link("/workspace/surveys/\(id)", [("done", action.rawValue)])])
    }

    // MARK: Conflicts

    static func conflicts(_ page: WorkspacePage, _ service: SurveyService) async throws -> Response {
        let all = page.text("all") == "1"
        let list = try await service.conflicts(for: page.principal, includeResolved: all)
        let registry = try await service.registry()
        var values = page.base(title: L("冲突", "Conflicts"), current: "conflicts", registry: registry)
        values["rows"] = list.map { conflict -> [String: Any] in
            [
                "url": page.link("/workspace/conflicts/\(conflict.id)"), "id": conflict.id, "unit": conflict.unit,
                "unitName": UnitCode(conflict.unit).flatMap { registry.unit($0)?.name } ?? "", "form": conflict.formID, "period": conflict.period,
                "created": Timestamp.forPeople(conflict.createdAt), "resolved": conflict.resolvedAt.map { Timestamp.forPeople($0) } ?? "",
            ]
        }
        values["toggle"] =
            all
            ? ["url": page.link("/workspace/conflicts"), "label": L("只看待处理的", "open ones only").text(page.language)]
            : ["url": page.link("/workspace/conflicts", [("all", "1")]), "label": L("包括已处理的", "resolved ones too").text(page.language)]
        return Pages.render("conflicts", values)
    }

    static func conflict(_ page: WorkspacePage, _ service: SurveyService, id: Int64, flash: LocalizedText? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let detail = try await service.conflictDetail(id, for: page.principal)
        let registry = try await service.registry()
        let conflict = detail.conflict
        let unitName = UnitCode(conflict.unit).flatMap { registry.unit($0)?.name } ?? conflict.unit
        var values = page.base(title: L("冲突 \(id):\(unitName) \(conflict.period)", "Conflict \(id): \(unitName) \(conflict.period)"), current: "conflicts", registry: registry)
        if let flash { values["flash"] = ["text": flash.text(page.language), "kind": "error"] }
        if page.text("done") == "resolved" { values["flash"] = ["text": L("冲突已处理", "the conflict is resolved").text(page.language), "kind": "ok"] }
        // The two surveys' answers side by side, row by row of the held one's lines.
        let held = detail.held?.revisions.last?.lines ?? []
        let current = detail.current?.revisions.last?.lines ?? []
        var currentByPath: [String: ReadableLine] = [:]
        for line in current where line.kind == .answer { currentByPath[line.path] = line }
        var paths = Set<String>()
        var rows: [[String: Any]] = []
        for line in held {
            if line.kind != .answer {
                rows.append(["heading": true, "label": line.label.text(page.language)])
                continue
            }
            paths.insert(line.path)
            let other = currentByPath[line.path]?.value?.text(page.language) ?? "—"
            let mine = line.value?.text(page.language) ?? "—"
            rows.append(["label": line.label.text(page.language), "held": mine, "current": other, "differs": mine != other])
        }
        for line in current where line.kind == .answer && !paths.contains(line.path) {
            rows.append(["label": line.label.text(page.language), "held": "—", "current": line.value?.text(page.language) ?? "—", "differs": true])
        }
        values["rows"] = rows
        values["differences"] = detail.differences.count
        func side(_ survey: SurveyDetail?, _ label: String) -> [String: Any]? {
            guard let survey else { return nil }
            let latest = survey.record.latest
            return [
                "label": label, "instanceID": latest.instanceID, "url": page.link("/workspace/surveys/\(latest.instanceID)"),
                "revision": latest.revision, "received": Timestamp.forPeople(latest.receivedAt), "sentBy": latest.sentBy ?? "",
            ]
        }
        let t = PageText.strings(page.language)
        values["heldSide"] = side(detail.held, t["conflictHeld"]!)
        values["currentSide"] = side(detail.current, t["conflictCurrent"]!)
        values["conflict"] = compact([
            "id": conflict.id, "form": conflict.formID, "period": conflict.period, "unit": conflict.unit, "unitName": unitName,
            "created": Timestamp.forPeople(conflict.createdAt), "resolved": conflict.resolvedAt != nil,
            "resolvedAt": conflict.resolvedAt.map { Timestamp.forPeople($0) } ?? "", "resolvedBy": conflict.resolvedBy ?? "",
            "kept": conflict.keptInstance ?? "", "comment": conflict.comment,
        ])
        if conflict.resolvedAt == nil, page.principal.role.mayResolve {
            var choices: [[String: Any]] = []
            if let held = detail.held { choices.append(["value": held.record.latest.instanceID, "label": "\(t["keep"]!) \(t["conflictHeld"]!)"]) }
            if let current = detail.current {
                choices.append(["value": current.record.latest.instanceID, "label": "\(t["keep"]!) \(t["conflictCurrent"]!)", "checked": true])
            }
            values["resolve"] = ["url": page.link("/workspace/conflicts/\(id)/resolve"), "choices": choices]
        }
        return Pages.render("conflict", values, status: status)
    }

    static func resolve(_ page: WorkspacePage, _ service: SurveyService, id: Int64) async throws -> Response {
        guard let keep = page.fields["keep"], !keep.isEmpty else {
            return try await conflict(page, service, id: id, flash: L("请选择保留哪一份", "choose the survey to keep"), status: .badRequest)
        }
        let comment = page.fields["comment"]?.trimmingSpaces
        do {
            _ = try await service.resolveConflict(
                id, keep: keep, comment: comment?.isEmpty == false ? comment : nil, by: page.principal, address: page.context.remoteAddress)
        } catch let error as ServiceError where error.kind == .conflict || error.kind == .invalid {
            return try await conflict(page, service, id: id, flash: error.message, status: HTTPErrors.status(error.kind))
        } catch let error as StorageError where error.kind == .conflict || error.kind == .invalid {
            let refusal = ServiceError(error)
            return try await conflict(page, service, id: id, flash: refusal.message, status: HTTPErrors.status(refusal.kind))
        }
        return Pages.html(.seeOther, "", headers: [.location: page.link("/workspace/conflicts/\(id)", [("done", "resolved")])])
    }

    // MARK: Exports and audit

    static func exports(_ page: WorkspacePage, _ service: SurveyService) async throws -> Response {
        let registry = try await service.registry()
        var values = page.base(title: L("导出原始数据", "Raw data exports"), current: "exports", registry: registry)
        let scopes: [[String: Any]] =
            [["value": page.principal.unit.rawValue, "label": registry.unit(page.principal.unit)?.name ?? page.principal.unit.rawValue]]
            + registry.units(under: page.principal.unit, level: .township).map { ["value": $0.code.rawValue, "label": $0.name] }
        let reviews: [[String: Any]] =
            [["value": "", "label": PageText.strings(page.language)["anyReview"]!]]
            + ReviewState.allCases.map { ["value": $0.rawValue, "label": ReviewStatus($0).label.text(page.language)] }
        values["forms"] = service.catalog.latestForms.map { form -> [String: Any] in
            [
                "id": form.id, "title": form.title.text(page.language), "action": "/workspace/exports/\(form.id)",
                "period": Period.current(form.periodType).description, "scopes": scopes, "reviews": reviews,
            ]
        }
        return Pages.render("exports", values)
    }

    /// The export form's choices, as the API's export of the same: a
    /// browser sends every field of a form, the empty "any review state"
    /// too, which the API would refuse, so the fields left empty are
    /// dropped on the way.
    static func download(_ page: WorkspacePage, form: String) throws -> Response {
        let names = ["period", "scope", "review", "format", "values", "lang"]
        let target = Pages.query(
            "/api/v1/exports/\(form.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? form)", names.map { ($0, page.text($0)) })
        return Pages.html(.seeOther, "", headers: [.location: target])
    }

    static func audit(_ page: WorkspacePage, _ service: SurveyService) async throws -> Response {
        let before = try RequestFields.integer(page.text("before"), name: "before", range: 1...RequestFields.largestCursor)
        let entries = try await service.auditLog(for: page.principal, before: before, limit: 100, action: page.text("action"))
        let registry = try await service.registry()
        var values = page.base(title: L("审计记录", "Audit log"), current: "audit", registry: registry)
        values["rows"] = entries.map { entry -> [String: Any] in
            [
                "at": Timestamp.forPeople(entry.at), "actor": entry.actor, "role": entry.role.flatMap(Role.init(rawValue:))?.label.text(page.language) ?? "",
                "action": entry.action, "target": entry.target ?? "", "unit": entry.unit ?? "", "address": entry.address ?? "",
                "details": entry.details.isEmpty ? "" : JSONValue.object(entry.details).serialized(),
            ]
        }
        if entries.count == 100, let last = entries.last {
            values["olderURL"] = page.link("/workspace/audit", [("before", String(last.id)), ("action", page.text("action"))])
        }
        return Pages.render("audit", values)
    }
}

/// One request to a workspace page: who asks, in which language, and the
/// posted form's fields.
struct WorkspacePage: Sendable {
    let request: Request
    let context: ServerRequestContext
    let principal: Principal
    let language: Language
    let fields: [String: String]

    /// The `lang` the request named, kept in every link.
    var explicitLanguage: String? { request.uri.queryParameters["lang"].map(String.init) }

    /// A query parameter, nil when absent or empty.
    func text(_ name: String) -> String? {
        request.uri.queryParameters[name[...]].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func parameter(_ name: String) throws(ServiceError) -> String {
        guard let value = context.parameters.get(name) else { throw ServiceError.notFound(L("缺少 \(name)", "no \(name) given")) }
        return value
    }

    func conflictID() throws(ServiceError) -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw ServiceError.notFound(L("没有这个冲突", "there is no such conflict"))
        }
        return id
    }

    /// A link to a page of this server, in the language asked for.
    func link(_ path: String, _ items: [(String, String?)] = []) -> String {
        Pages.query(path, items + [("lang", explicitLanguage)])
    }

    /// What every workspace page shows around its content.
    func base(title: LocalizedText, current: String, registry: UnitRegistry) -> [String: Any] {
        let t = PageText.strings(language)
        var nav: [[String: Any]] = [
            ["href": link("/workspace"), "label": t["home"]!, "current": current == "home"],
            ["href": link("/workspace/surveys"), "label": t["surveys"]!, "current": current == "surveys"],
            ["href": link("/workspace/conflicts"), "label": t["conflicts"]!, "current": current == "conflicts"],
            ["href": link("/workspace/exports"), "label": t["exports"]!, "current": current == "exports"],
        ]
        if principal.role.allows(.audit) {
            nav.append(["href": link("/workspace/audit"), "label": t["audit"]!, "current": current == "audit"])
        }
        nav.append(["href": link("/reports/village-branch"), "label": t["report"]!, "current": false])
        // The other language, on the same page.
        var items = request.uri.queryParameters.filter { $0.key != "lang" && $0.key != "done" }.map { (String($0.key), Optional(String($0.value))) }
        items.sort { $0.0 < $1.0 }
        let other = language == .en ? "zh" : "en"
        let unitName = registry.unit(principal.unit)?.name ?? principal.unit.rawValue
        var values: [String: Any] = [
            "lang": language == .en ? "en" : "zh-CN", "t": t, "title": title.text(language), "nav": nav, "homeURL": link("/workspace"),
            "who": "\(principal.name)(\(principal.role.label.text(language)),\(unitName))",
            "otherLanguage": language == .en ? "中文" : "English",
            "otherLanguageURL": Pages.query(request.uri.path, items + [("lang", other)]),
        ]
        if let explicitLanguage { values["explicitLang"] = explicitLanguage }
        if let session = context.session {
            values["csrf"] = Pages.csrfToken(session)
            values["signOut"] = ["csrf": Pages.csrfToken(session)]
        }
        return values
    }
}

/// The entries that have a value: a template's section shows for any
/// value, an empty string included, so what is absent is left out.
func compact(_ values: [String: Any?]) -> [String: Any] { values.compactMapValues { $0 } }
