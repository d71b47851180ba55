import Foundation
import SurveyCore
import SurveyFixtures
import SurveyServer
import Testing

@Suite("Tokens, roles and scope")
struct AccessTests {
    @Test("a missing, malformed, unknown or revoked token gets 401, and revocation takes effect at once", arguments: TestDatabase.all)
    func authentication(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let token = try await server.token(.admin, name: "county-admin")
            var maker = SurveyMaker(seed: 10)
            let body = Array(batch([maker.survey(village: 1)]).utf8)
            #expect(try await server.send("POST", "/api/v1/surveys", body: body).status == 401)
            #expect(try await server.send("POST", "/api/v1/surveys", headers: [("Authorization", "Basic abc")], body: body).status == 401)
            let unknown = try await server.send("POST", "/api/v1/surveys", token: TokenSecret.generate(), body: body)
            #expect(unknown.status == 401)
            #expect(unknown.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(try unknown.json().at("error", "code")?.stringValue == "unauthorized")
            #expect(try await server.send("GET", "/api/v1/forms", token: token).status == 200)
            #expect(try await server.send("GET", "/api/v1/handshake", token: TokenSecret.generate()).status == 401)
            let handshake = try await server.send("GET", "/api/v1/handshake", token: token).json()
            #expect(handshake.at("token", "name")?.stringValue == "county-admin")

            #expect(try await server.storage.revokeToken("county-admin") != nil)
            #expect(try await server.send("GET", "/api/v1/forms", token: token).status == 401)
            #expect(try await server.send("POST", "/api/v1/surveys", token: token, body: body).status == 401)
            #expect(try await server.storage.counts().revisions == 0)
            // Only the hash is stored.
            let stored = try await server.tokenRows()
            #expect(!stored.contains(token) && stored.contains(TokenSecret.hash(token)))
        }
    }

    @Test("a collector sends only under its unit and reads nothing", arguments: TestDatabase.all)
    func collectorScope(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let east = try await server.token(.collector, unit: "130102001000")
            let west = try await server.token(.collector, unit: "130102002000")
            let admin = try await server.token(.admin)
            let eastVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102001") }!
            let westVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102002") }!
            var maker = SurveyMaker(seed: 11)
            let eastSurvey = maker.survey(village: eastVillage)
            let westSurvey = maker.survey(village: westVillage)
            #expect(try await server.post([eastSurvey, westSurvey], token: east).json.outcomes == ["created", "forbidden"])
            #expect(try await server.storage.survey(westSurvey.instanceID) == nil)
            // Another township's survey cannot be edited by reusing its id.
            var hijack = eastSurvey
            hijack.revision = 2
            hijack.unit = LiveServer.villages[westVillage].rawValue
            #expect(try await server.post([hijack], token: west).json.outcomes == ["forbidden"])
            #expect(try await server.storage.survey(eastSurvey.instanceID)?.latest.revision == 1)
            #expect(try await server.send("GET", "/api/v1/surveys/\(eastSurvey.instanceID)", token: east).status == 403)
            #expect(try await server.send("GET", "/api/v1/conflicts", token: east).status == 403)
            #expect(try await server.send("GET", "/api/v1/surveys/\(eastSurvey.instanceID)", token: admin).status == 200)
            // The registry handed out is the token's part of it.
            let units = try await server.send("GET", "/api/v1/units", token: east).json()["units"]?.arrayValue ?? []
            #expect(!units.isEmpty)
            #expect(units.allSatisfy { $0["code"]?.stringValue?.hasPrefix("130102001") == true })
            // The township itself and everything under it.
            #expect(units.count == LiveServer.registry.units(under: UnitCode("130102001000")!).count + 1)
            #expect(units.contains { $0["code"]?.stringValue == "130102001000" })
        }
    }

    @Test("a viewer reads under its unit, cannot send, cannot resolve", arguments: TestDatabase.all)
    func viewerScope(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            let viewer = try await server.token(.viewer, unit: "130102001000")
            let eastVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102001") }!
            let westVillage = LiveServer.villages.firstIndex { $0.rawValue.hasPrefix("130102002") }!
            var maker = SurveyMaker(seed: 12)
            let east = maker.survey(village: eastVillage)
            let west = maker.survey(village: westVillage)
            let westAgain = maker.survey(village: westVillage)
            #expect(try await server.post([east, west, westAgain], token: admin).json.outcomes == ["created", "created", "held"])
            let send = try await server.send("POST", "/api/v1/surveys", token: viewer, body: Array(batch([maker.survey(village: eastVillage)]).utf8))
            #expect(send.status == 403)
            #expect(try await server.send("GET", "/api/v1/surveys/\(east.instanceID)", token: viewer).status == 200)
            #expect(try await server.send("GET", "/api/v1/surveys/\(west.instanceID)", token: viewer).status == 403)
            #expect(try await server.send("GET", "/api/v1/surveys/\(west.instanceID)/revisions", token: viewer).status == 403)
            // The west conflict is outside the viewer's township.
            #expect(try await server.send("GET", "/api/v1/conflicts", token: viewer).json()["conflicts"]?.arrayValue?.isEmpty == true)
            #expect(try await server.send("GET", "/api/v1/conflicts", token: admin).json()["conflicts"]?.arrayValue?.count == 1)
            // An admin of another township cannot resolve it either.
            let eastAdmin = try await server.token(.admin, unit: "130102001000")
            let conflict = try await server.storage.conflicts(under: LiveServer.county, includeResolved: false)[0]
            let body = Array(#"{"keep": "\#(west.instanceID)"}"#.utf8)
            #expect(try await server.send("POST", "/api/v1/conflicts/\(conflict.id)/resolve", token: eastAdmin, body: body).status == 403)
            #expect(try await server.send("POST", "/api/v1/conflicts/\(conflict.id)/resolve", token: admin, body: body).status == 200)
        }
    }
}
