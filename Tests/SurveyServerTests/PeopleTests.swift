import Foundation
import SurveyCore
import SurveyFixtures
import SurveySQL
import Testing

@testable import SurveyServer

@Suite("People who sign in with a name and a password")
struct PeopleTests {
    /// Signs in through the report page's form; the session cookie's `name=value`, if one was set.
    func signIn(_ server: LiveServer, _ name: String, _ password: String) async throws -> (status: Int, cookie: String?) {
        let body = "name=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&password=\(password)&next=%2Freports%2Fvillage-branch"
        let reply = try await server.send("POST", "/reports/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8))
        return (reply.status, reply.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
    }

    @Test(
        "a person signs in with name and password to a session kept hashed; wrong or unknown names, a disabled person and an old password are refused; each try is audited",
        arguments: TestDatabase.all)
    func signInAndOut(database: TestDatabase) async throws {
        try await LiveServer.with(database) { server in
            let admin = try await server.token(.admin)
            let clerk = try await server.service.createPerson(
                name: "王文书", role: .reviewer, unit: UnitCode("130102000000")!, password: "correct-horse-9", by: .console(user: "test"))
            #expect(clerk.role == .reviewer)
            // Only the scrypt hash is kept.
            let stored = try await server.storage.sql.read { session in try session.one("SELECT password FROM person WHERE name = ?", [.text("王文书")])?.text(0) }
            #expect(stored?.hasPrefix("scrypt$16384$8$1$") == true && stored?.contains("correct-horse-9") == false)
            #expect(PasswordHash.verify("correct-horse-9", against: stored ?? "") && !PasswordHash.verify("correct-horse-8", against: stored ?? ""))

            let signedIn = try await signIn(server, "王文书", "correct-horse-9")
            #expect(signedIn.status == 303)
            let cookie = try #require(signedIn.cookie)
            #expect(cookie.hasPrefix("vsurvey_session=vss_"))
            let page = try await server.send("GET", "/reports/village-branch?period=2026", headers: [("Cookie", cookie)])
            #expect(page.status == 200 && page.text.contains("Sign out"))
            let hashed = try await server.storage.sql.read { session in
                try session.one(
                    "SELECT count(*) FROM person_session WHERE hash = ?", [.text(TokenSecret.hash(String(cookie.dropFirst("vsurvey_session=".count))))])?
                    .integer(0)
            }
            #expect(hashed == 1)

            #expect(try await signIn(server, "王文书", "correct-horse-8").status == 401)
            #expect(try await signIn(server, "nobody", "correct-horse-9").status == 401)
            #expect(try await signIn(server, "", "").status == 401)

            // A new password ends the old sign-in; the old password no longer works.
            _ = try await server.service.resetPassword(of: "王文书", to: "battery-staple-7", by: .console(user: "test"))
            #expect(try await server.send("GET", "/reports/village-branch?period=2026", headers: [("Cookie", cookie)]).status == 401)
            #expect(try await signIn(server, "王文书", "correct-horse-9").status == 401)
            let again = try await signIn(server, "王文书", "battery-staple-7")
            #expect(again.status == 303)
            // Disabled: the session ends and sign-in is refused.
            _ = try await server.service.disablePerson("王文书", by: .console(user: "test"))
            #expect(try await server.send("GET", "/reports/village-branch?period=2026", headers: [("Cookie", again.cookie ?? "")]).status == 401)
            #expect(try await signIn(server, "王文书", "battery-staple-7").status == 401)

            let entries = try await server.send("GET", "/api/v1/audit?limit=50", token: admin).json()["entries"]?.arrayValue ?? []
            let actions = entries.map { $0["action"]?.stringValue ?? "" }
            #expect(actions.filter { $0 == "session.sign_in" }.count == 2)
            #expect(actions.contains("user.create") && actions.contains("user.password") && actions.contains("user.disable"))
            let reasons = entries.filter { $0["action"]?.stringValue == "session.sign_in_refused" }.compactMap { $0.at("details", "reason")?.stringValue }
            #expect(reasons.sorted() == ["disabled", "unknown_user", "unknown_user", "wrong_password", "wrong_password"])

            // Collectors are devices; passwords need ten characters.
            await #expect(throws: ServiceError.self) {
                _ = try await server.service.createPerson(
                    name: "x", role: .collector, unit: UnitCode("130102000000")!, password: "long-enough-1", by: .console())
            }
            await #expect(throws: ServiceError.self) {
                _ = try await server.service.createPerson(name: "y", role: .viewer, unit: UnitCode("130102000000")!, password: "short", by: .console())
            }
            await #expect(throws: StorageError.self) {
                _ = try await server.service.createPerson(
                    name: "王文书", role: .viewer, unit: UnitCode("130102000000")!, password: "long-enough-1", by: .console())
            }
        }
    }

    @Test("vsurvey-server user create, list, reset-password and disable, the password from standard input")
    func fromTheCommandLine() async throws {
        let directory = try scratch()
        _ = try await createToken("viewer", in: directory)
        func user(_ arguments: [String], input: String? = nil) async throws -> CommandRun {
            try await offPool {
                try CommandRun.run(try serverBinary(), ["user"] + arguments + ["--db", "server.sqlite", "--lang", "en"], in: directory, input: input)
            }
        }
        let created = try await user(["create", "--name", "township-clerk", "--role", "reviewer", "--unit", "130102001000"], input: "a-good-password\n")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("created user 'township-clerk' (reviewer, scope 130102001000)"))
        let weak = try await user(["create", "--name", "other", "--role", "viewer", "--unit", "130102001000"], input: "short\n")
        #expect(weak.status == 1 && weak.stderr.contains("at least 10 characters"))
        let collector = try await user(["create", "--name", "c", "--role", "collector", "--unit", "130102001000"], input: "a-good-password\n")
        #expect(collector.status != 0 && collector.stderr.contains("--role"))
        let elsewhere = try await user(["create", "--name", "z", "--role", "viewer", "--unit", "999999999999"], input: "a-good-password\n")
        #expect(elsewhere.status == 1 && elsewhere.stderr.contains("not in the registry"))
        let listed = try await user(["list"])
        #expect(listed.stdout.contains("township-clerk") && listed.stdout.contains("active") && !listed.stdout.contains("a-good-password"))
        #expect(try await user(["reset-password", "township-clerk"], input: "another-password\n").status == 0)
        #expect(try await user(["disable", "township-clerk"]).stdout.contains("disabled user 'township-clerk'"))
        #expect(try await user(["list"]).stdout.contains("disabled"))
        #expect(try await user(["disable", "nobody"]).stderr.contains("there is no user 'nobody'"))
        let storage = try await openStorage("server.sqlite", in: directory)
        let found = try #require(try await storage.person(named: "township-clerk"))
        #expect(PasswordHash.verify("another-password", against: found.password) && found.record.disabledAt != nil)
    }
}
