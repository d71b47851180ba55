import SurveyCore
import Testing

@Suite("The wire contract: one batch reply type for the server and the client")
struct WireTests {
    static let reply = BatchReply(results: [
        SurveyReply(index: 0, instanceID: "a", revision: 1, outcome: .created, reason: "stored", serverRevision: 1),
        SurveyReply(
            index: 1, instanceID: "b", revision: 2, outcome: .rejected, reason: "1 answer failed the form's checks",
            errors: [WireIssue(path: "members_total", code: "required", message: "required")],
            warnings: [WireIssue(path: "note", code: "not_asked", message: "dropped")]),
        SurveyReply(index: 2, instanceID: nil, revision: nil, outcome: .held, reason: "held", conflictID: 7, serverRevision: 1),
    ])

    @Test("what the server encodes, the client decodes to the same value, with the summary of each outcome")
    func roundTrip() throws {
        let json = try JSONParser().parse(Self.reply.json.serialized())
        #expect(try BatchReply(json: json, expected: 3) == Self.reply)
        #expect(json["summary"]?["created"] == .integer(1) && json["summary"]?["rejected"] == .integer(1))
        #expect(json["summary"]?["held"] == .integer(1) && json["summary"]?["forbidden"] == .integer(0))
        #expect(json["summary"]?["total"] == .integer(3))
        #expect(
            json["results"]?.arrayValue?.first?.objectValue?.keys.map { $0 } == ["index", "instance_id", "revision", "outcome", "reason", "server_revision"])
    }

    @Test("an outcome the client does not know is an error naming it, not a guess")
    func unknownOutcome() throws {
        var json = Self.reply.json
        var results = json["results"]!.arrayValue!
        var second = results[1].objectValue!
        second["outcome"] = "quarantined"
        results[1] = .object(second)
        json = ["summary": json["summary"]!, "results": .array(results)]
        #expect {
            try BatchReply(json: json)
        } throws: { error in
            (error as? WireError)?.message.text(.en).contains("results[1] has an outcome this client does not know, 'quarantined'") == true
        }
    }

    @Test("a reply that does not answer every survey sent, or lacks its parts, is refused")
    func incomplete() throws {
        #expect(throws: WireError.self) { try BatchReply(json: Self.reply.json, expected: 4) }
        #expect(throws: WireError.self) { try BatchReply(json: ["summary": [:]]) }
        #expect(throws: WireError.self) { try BatchReply(json: ["results": [["outcome": "created"]]]) }
        #expect(throws: WireError.self) { try BatchReply(json: ["results": [["index": 0, "outcome": "rejected", "errors": [["path": "x"]]]]]) }
    }
}
