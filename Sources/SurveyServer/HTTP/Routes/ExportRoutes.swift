import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SurveyCore

/// Raw data exports: a form's surveys as an xlsx workbook, a ZIP of CSV
/// files or JSON Lines, streamed as they are made.
enum ExportRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.on(.get, "/api/v1/exports/{form}", requires: .read) { request, context, principal -> Response in
            let asked = try exportRequest(request, context, principal)
            let (progress, directory) = try await service.startExport(asked, for: principal, address: context.remoteAddress)
            var headers = HTTPFields()
            headers[.contentType] = asked.format.contentType
            headers[.contentDisposition] = "attachment; filename=\"\(asked.fileName)\""
            headers[.cacheControl] = "no-store"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    // A client that goes away stops the export too.
                    defer {
                        progress.cancel()
                        try? FileManager.default.removeItem(at: directory)
                    }
                    try await progress.copy { data in try await writer.write(ByteBuffer(bytes: data)) }
                    try await writer.finish(nil)
                })
        }
        return routes
    }

    static func exportRequest(_ request: Request, _ context: ServerRequestContext, _ principal: Principal) throws(ServiceError) -> ExportRequest {
        let form: String
        do {
            form = try context.parameters.require("form")
        } catch {
            throw ServiceError.notFound(L("缺少表单", "no form given"))
        }
        func raw(_ name: String) -> String? { RequestFields.raw(request, name) }
        let scope = try RequestFields.scope(raw("scope"), default: principal.unit)
        let format: ExportFormat
        switch raw("format") {
        case nil: format = .xlsx
        case let text?:
            guard let known = ExportFormat(rawValue: text) else {
                throw ServiceError(.invalid, "invalid_format", L("format 应为 xlsx、csv 或 jsonl", "format must be xlsx, csv or jsonl"))
            }
            format = known
        }
        let labels: Bool
        switch raw("values") {
        case nil, "labels"?: labels = true
        case "codes"?: labels = false
        default: throw ServiceError(.invalid, "invalid_values", L("values 应为 labels 或 codes", "values must be labels or codes"))
        }
        let review = try RequestFields.reviewState(raw("review"))
        let period = raw("period").flatMap { $0.isEmpty ? nil : $0 }
        return ExportRequest(
            formID: form, period: period, scope: scope, review: review, format: format, labels: labels, language: RequestLanguage.of(request))
    }
}
