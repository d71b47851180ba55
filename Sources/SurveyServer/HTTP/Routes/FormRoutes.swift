import Hummingbird
import SurveyCore

/// Forms: the versions the server holds, and each version's YAML source.
enum FormRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)

        routes.on(.get, "/api/v1/forms", requires: .signedIn) { _, _, _ -> Response in
            let forms: [JSONValue] = service.published.map { published in
                let form = published.form
                return [
                    "id": .string(form.id), "version": .string(form.version), "hash": .string(published.hash),
                    "title": ["zh": .string(form.title.zh), "en": form.title.en.map(JSONValue.string) ?? .null],
                    "period_type": .string(form.periodType.rawValue), "unit_level": .string(form.unitLevel.rawValue),
                ]
            }
            return JSONResponse.make(["forms": .array(forms)])
        }

        routes.on(.get, "/api/v1/forms/{id}/{version}", requires: .signedIn) { request, context, _ -> Response in
            let id = try context.parameters.require("id")
            let version = try context.parameters.require("version")
            guard let published = service.published.first(where: { $0.form.id == id && $0.form.version == version }) else {
                throw ServiceError.notFound(L("没有表单 \(id) 版本 \(version)", "there is no form \(id) version \(version)"))
            }
            let etag = "\"\(published.hash)\""
            if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: [.eTag: etag]) }
            return JSONResponse.make(
                ["id": .string(id), "version": .string(version), "hash": .string(published.hash), "source": .string(published.source)],
                headers: [.eTag: etag], for: request)
        }
        return routes
    }
}
