import Hummingbird
import SurveyCore

/// The unit registry within the caller's scope, by hash.
enum UnitRoutes {
    static func collection(_ service: SurveyService) -> RouteCollection<ServerRequestContext> {
        let routes = RouteCollection(context: ServerRequestContext.self)
        routes.on(.get, "/api/v1/units", requires: .signedIn) { request, _, principal -> Response in
            let list: [JSONValue] = try await service.units(for: principal).map { unit in
                [
                    "code": .string(unit.code.rawValue), "name": .string(unit.name), "level": .string(unit.level.rawValue),
                    "parent": unit.parent.map { .string($0.rawValue) } ?? .null,
                ]
            }
            let listJSON = JSONValue.array(list)
            let hash = Digests.sha256Hex(listJSON.serialized().utf8)
            let etag = "\"\(hash)\""
            if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: [.eTag: etag]) }
            return JSONResponse.make(
                ["scope": .string(principal.unit.rawValue), "hash": .string(hash), "units": listJSON], headers: [.eTag: etag], for: request)
        }
        return routes
    }
}
