import Foundation
import SurveyCore
import SurveyFixtures
import Testing

@testable import VSurveyCLI

/// Every question of village-branch in order, with answers a person would
/// type, including mistakes, going back and two committee members.
let scriptedSession: [(answer: String, expect: String?)] = [
    ("3", nil), ("2026-06-01", nil), ("1", nil),
    ("abc", "must be a whole number, not 'abc'"), ("40", nil),
    ("8", nil), ("5", nil), ("10", nil), ("15", nil),
    ("11", "The four age groups must add up to the total number of members"),
    ("<", nil), ("", nil), ("10", nil),
    ("20", nil), ("15", nil), ("5", nil),
    ("3", nil), ("2", nil), ("1", nil), ("4", nil), ("3", nil), ("6", nil), ("30", nil),
    ("1970", nil), ("2", nil), ("8", nil), ("是", nil), ("40000", nil),
    ("y", nil), ("1", nil), ("2", nil), ("1985", nil), ("3", nil), ("y", nil), ("n", nil), ("25000", nil),
    ("y", nil), ("5", nil), ("1", nil), ("1990", nil), ("2", nil), ("n", nil), ("n", nil), ("18000", nil),
    ("n", nil),
    ("2", nil), ("3", "Cannot exceed the number of reserve cadres"), ("1", nil), ("2", nil),
    ("120000", nil), ("30000", nil), ("1 2", nil), ("500000", nil), ("0", nil),
    ("30000", nil), ("1 2", nil), ("100000", nil), ("20000", nil), ("3", nil),
    ("2", nil), ("2", nil), ("4", nil), ("1", nil), ("2", nil), ("1", nil),
    ("2 5", nil), ("", nil),
    ("y", "Finalized"),
]

func dataDirectory() throws -> String {
    try scratchDirectory().path
}

@Suite("Filling surveys with vsurvey")
struct FillTests {
    @Test func scriptedInteractiveSessionFinalizes() throws {
        let home = try dataDirectory()
        let session = try InteractiveProcess(
            ["fill", "village-branch", "--unit", "130102001203", "--period", "2026", "--lang", "en"] + today, environment: ["VSURVEY_HOME": home])
        try session.waitFor("Question 1 of about")
        for (answer, expected) in scriptedSession {
            let prompts = session.prompts
            session.send(answer)
            if let expected {
                try session.waitFor(expected)
            } else {
                try session.waitFor("> ", count: prompts + 1)
            }
        }
        #expect(session.finish() == 0, "\(session.transcript)")
        let transcript = session.transcript
        #expect(transcript.contains("130102001203 东关村"))
        #expect(transcript.contains("== B. Party members =="))
        #expect(transcript.contains("Other members of the two committees: 1 so far. Add another? (1 yes / 2 no)"))
        #expect(transcript.contains("== Review (:number goes to that question) =="))
        // A broken rule shows the answers it reads, so the person sees what to change.
        #expect(
            transcript.contains(
                "(this answer 11 persons; Aged 35 and under 5 persons; Aged 36 to 45 10 persons; Aged 46 to 59 15 persons; Party members in total 40 persons)"))

        let list = try vsurvey(["list", "--json"], environment: ["VSURVEY_HOME": home])
        let surveys = try JSONParser().parse(list.stdout).arrayValue ?? []
        #expect(surveys.count == 1)
        #expect(surveys.first?["status"] == "finalized")
        let id = try #require(surveys.first?["id"]?.stringValue)
        let shown = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: ["VSURVEY_HOME": home]).stdout)
        let answers = try #require(shown["answers"])
        #expect(answers["members_total"] == 40)
        #expect(answers["members_age_60_over"] == 10)
        #expect(answers["members_age_46_59"] == 15)
        #expect(answers["secretary_is_director"] == "yes")
        #expect(answers["committee_members"]?.arrayValue?.count == 2)
        #expect(answers["committee_members"]?.arrayValue?[1]["position"] == "committee_member")
        #expect(answers["reserve_cadres_35_under"] == 1)
        #expect(answers["weak_economy"] == "yes")
        #expect(answers["income_sources"] == ["land", "rental"])
        #expect(answers["problems"] == ["ageing", "weak_economy"])
    }

    /// A finalized sample survey in a new data directory, and its id.
    func finalizedSample() throws -> (home: String, id: String) {
        let home = try dataDirectory()
        let filled = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize", "--lang", "en"] + today,
            environment: ["VSURVEY_HOME": home])
        #expect(filled.status == 0, "\(filled)")
        let id = try #require(try vsurvey(["list", "--json"], environment: ["VSURVEY_HOME": home]).stdout.firstMatch(of: /"id": "([0-9a-f-]+)"/)?.1)
        return (home, String(id))
    }

    /// Every stored revision of the data directory's surveys: (revision, status, answers).
    func revisions(_ home: String, _ id: String) throws -> [(revision: Int, status: String, answers: JSONValue)] {
        let shown = try JSONParser().parse(try vsurvey(["list", "--json"], environment: ["VSURVEY_HOME": home]).stdout).arrayValue ?? []
        return try shown.map { item in
            let detail = try JSONParser().parse(try vsurvey(["show", item["id"]?.stringValue ?? "", "--json"], environment: ["VSURVEY_HOME": home]).stdout)
            return (item["revision"]?.doubleValue.map { Int($0) } ?? 0, item["status"]?.stringValue ?? "", detail["answers"] ?? .null)
        }
    }

    @Test(
        "in a terminal, in Chinese: a whole village survey with six committee members, mistakes, full-width keys and natural answers, a jump back from the review, then finalized"
    )
    func wholeSurveyInATerminal() throws {
        let home = try dataDirectory()
        let session = try InteractiveProcess(
            ["fill", "village-branch", "--unit", "130102001203", "--period", "2026", "--lang", "zh"] + today, environment: ["VSURVEY_HOME": home],
            terminal: true)
        try session.waitFor("第 1 题,共约")
        let member: (String, String, String, String, String, String, String) -> [(String, String?)] = { position, sex, born, education, party, cross, pay in
            [("1", nil), (position, nil), (sex, nil), (born, nil), (education, nil), (party, nil), (cross, nil), (pay, nil)]
        }
        var script: [(String, String?)] = [
            ("3", nil), ("2026年6月1日", nil), ("1", nil),
            ("ａｂｃ", "整数"), ("４０人", nil), ("？", "规则:女党员人数不能超过党员总数"), ("8", nil),
            ("5", nil), ("10", nil), ("15", nil), ("11", "四个年龄段"), ("《", nil), ("", nil), ("10", nil),
            ("20", nil), ("15", nil), ("5", nil),
            ("3", nil), ("2", nil), ("1", nil), ("4", nil), ("3", nil), ("6", nil), ("30", nil),
            ("1970", nil), ("2", nil), ("8", nil), ("是", nil), ("4万元", nil),
        ]
        script += member("1", "1", "1978", "2", "1", "1", "30000") + member("2", "2", "1986", "3", "是", "否", "24000")
        script += member("4", "1", "1969", "1", "y", "y", "26000") + member("5", "2", "1990", "4", "n", "n", "22000")
        script += member("5", "1", "1995", "3", "2", "2", "20000")
        script += [("1", nil), ("2", nil), ("2", nil), ("2030", "不能大于"), ("1982", nil), ("2", nil), ("1", nil), ("2", nil), ("24,000元", nil)]
        script += [
            ("", "请输入 1(再添加一条)或 2(不再添加)"), ("2", nil),
            ("2", nil), ("3", "不能超过后备干部人数"), ("1", nil), ("2", nil),
            ("12万", nil), ("3万", nil), ("1 2", nil), ("50万", nil), ("0", nil),
            ("3万", nil), ("1 2", nil), ("20万", nil), ("2万", nil), ("3", nil),
            ("2", nil), ("2", nil), ("4", nil), ("1", nil), ("2", nil), ("1", nil),
            ("2 5", nil), ("", "全部通过检查"),
            // From the review to one question by its words, and straight back.
            ("：跳 书记年报酬", "书记年报酬"), ("42000", "全部通过检查"),
            ("也许", "请输入 1(定稿)或 2(暂不定稿)"), ("１", "已定稿"),
        ]
        for (answer, expected) in script {
            // Counted before sending: the answer may come back at once.
            let prompts = session.prompts
            let seen = expected.map { session.transcript.components(separatedBy: $0).count } ?? 0
            session.send(answer)
            if let expected {
                try session.waitFor(expected, count: seen)
            } else {
                try session.waitFor("> ", count: prompts + 1)
            }
        }
        #expect(session.finish() == 0, "\(session.transcript)")
        // One prompt for each thing typed: nothing asked twice, nothing skipped.
        #expect(session.prompts == script.count, "\(session.prompts) prompts for \(script.count) inputs")
        let transcript = session.transcript
        #expect(transcript.contains("其他“两委”成员:已有 6 条。再添加一条吗?"))
        #expect(transcript.contains("== 核对答案(:题号 跳到该题修改)=="))

        let surveys = try JSONParser().parse(try vsurvey(["list", "--json"], environment: ["VSURVEY_HOME": home]).stdout).arrayValue ?? []
        #expect(surveys.count == 1 && surveys.first?["status"] == "finalized" && surveys.first?["revision"] == 1)
        let id = try #require(surveys.first?["id"]?.stringValue)
        let answers = try #require(try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: ["VSURVEY_HOME": home]).stdout)["answers"])
        #expect(answers["survey_date"] == "2026-06-01")
        #expect(answers["members_total"] == 40 && answers["members_age_60_over"] == 10 && answers["members_age_46_59"] == 15)
        #expect(answers["secretary_is_director"] == "yes")
        #expect(answers["secretary_pay"] == 42000, "the answer fixed from the review")
        let members = answers["committee_members"]?.arrayValue ?? []
        #expect(members.count == 6)
        #expect(members.map { $0["birth_year"] } == [1978, 1986, 1969, 1990, 1995, 1982])
        #expect(members[1]["is_party_member"] == "yes" && members[1]["cross_post"] == "no" && members[5]["annual_pay"] == 24000)
        #expect(answers["reserve_cadres_35_under"] == 1)
        #expect(answers["collective_income"] == 120000 && answers["operating_income"] == 30000 && answers["collective_assets"] == 500000)
        #expect(answers["cadre_pay_total"] == 200000 && answers["cadre_pay_from_collective"] == 20000)
        #expect(answers["problems"] == ["ageing", "weak_economy"])
    }

    @Test("in a terminal, edit then a full-width ：ｑ with nothing changed leaves the finalized survey exactly as it was")
    func editAndLeaveChangesNothing() throws {
        let (home, id) = try finalizedSample()
        let before = try revisions(home, id)
        let session = try InteractiveProcess(["edit", id, "--lang", "en"] + today, environment: ["VSURVEY_HOME": home], terminal: true)
        try session.waitFor("Question 1 of about")
        session.send("：ｑ")
        try session.waitFor("Nothing changed; survey")
        #expect(session.finish() == 0, "\(session.transcript)")
        let after = try revisions(home, id)
        #expect(after.count == 1 && after[0].revision == 1 && after[0].status == "finalized", "\(after)")
        #expect(after[0].answers == before[0].answers)
        let sync = try vsurvey(["status", "--lang", "en"], environment: ["VSURVEY_HOME": home])
        #expect(sync.stdout.contains("Finalized: 1") || sync.stdout.contains("finalized: 1"), "\(sync.stdout)")
    }

    @Test(
        "in a terminal, edit --at goes straight to the question; a change makes a draft revision, said plainly; 《 goes back, :go jumps, a full-width １ finalizes"
    )
    func editAtAQuestionAndFinalize() throws {
        let (home, id) = try finalizedSample()
        let session = try InteractiveProcess(
            ["edit", id, "--at", "secretary_pay", "--lang", "en"] + today, environment: ["VSURVEY_HOME": home], terminal: true)
        try session.waitFor("Secretary's annual pay")
        #expect(session.prompts == 1, "edit --at went through other questions first: \(session.transcript)")
        session.send("45000")
        try session.waitFor("Revision 2 made (a draft): the survey is not sent until it is finalized again.")
        // One answer changed: straight back to the review, its questions numbered.
        try session.waitFor("Everything checks out. Finalize now?")
        #expect(session.transcript.contains("Secretary's annual pay: 45000 yuan"))
        // Back with what Shift+, types in Chinese mode (the last question), then to one by words.
        session.send("《")
        try session.waitFor("Notes")
        session.send(":go annual pay")
        try session.waitFor("Secretary's annual pay", count: 3)
        session.send("")
        try session.waitFor("Everything checks out. Finalize now?", count: 2)
        session.send("perhaps")
        try session.waitFor("Type 1 (finalize) or 2 (not now)")
        session.send("１")
        try session.waitFor("Finalized")
        #expect(session.finish() == 0, "\(session.transcript)")
        let stored = try revisions(home, id)
        #expect(stored.count == 1 && stored[0].revision == 2 && stored[0].status == "finalized", "\(stored)")
        #expect(stored[0].answers["secretary_pay"] == 45000)
        #expect(stored[0].answers["members_total"] == 46)
    }

    @Test("in a terminal, an edit with changes left with :q asks whether to keep them; 2 undoes the revision, 1 keeps a draft and says it is not finalized")
    func leavingAnEditWithChangesAsks() throws {
        let (home, id) = try finalizedSample()
        /// Changes the secretary's pay in an edit, leaves with `quit` and answers `keep` to "Keep the changes?".
        func changeAndLeave(pay: String, quit: String, keep: String, said: String) throws {
            let session = try InteractiveProcess(
                ["edit", id, "--at", "secretary_pay", "--lang", "en"] + today, environment: ["VSURVEY_HOME": home], terminal: true)
            try session.waitFor("Secretary's annual pay")
            session.send(pay)
            try session.waitFor("Revision 2 made")
            try session.waitFor("> ", count: 2)
            session.send(quit)
            try session.waitFor("Keep the changes?")
            session.send(keep)
            try session.waitFor(said)
            #expect(session.finish() == 0, "\(session.transcript)")
        }
        try changeAndLeave(pay: "46000", quit: "：q", keep: "２", said: "Changes undone; survey")
        var stored = try revisions(home, id)
        #expect(stored.count == 1 && stored[0].revision == 1 && stored[0].status == "finalized" && stored[0].answers["secretary_pay"] == 42000, "\(stored)")
        try changeAndLeave(pay: "47000", quit: ":q", keep: "是", said: "the survey is no longer finalized")
        stored = try revisions(home, id)
        #expect(stored.count == 1 && stored[0].revision == 2 && stored[0].status == "draft" && stored[0].answers["secretary_pay"] == 47000, "\(stored)")
    }

    @Test("fill for a unit that has a finalized survey, answered 1 to edit it, then :q: the survey stays as it was")
    func fillOverAnExistingSurveyChangesNothing() throws {
        let (home, id) = try finalizedSample()
        let session = try InteractiveProcess(
            ["fill", "village-branch", "--unit", "130102001203", "--period", "2026", "--lang", "en"] + today, environment: ["VSURVEY_HOME": home])
        try session.waitFor("Edit it?")
        session.send("1")
        try session.waitFor("Question 1 of about")
        session.send(":q")
        try session.waitFor("Nothing changed; survey")
        #expect(session.finish() == 0, "\(session.transcript)")
        let stored = try revisions(home, id)
        #expect(stored.count == 1 && stored[0].revision == 1 && stored[0].status == "finalized", "\(stored)")
    }

    @Test("backup of a data directory without a database is refused, and writes nothing")
    func backupOfNothingIsRefused() throws {
        let home = try dataDirectory()
        let file = try scratchDirectory("nothing").appendingPathComponent("copy.sqlite")
        let run = try vsurvey(["backup", file.path, "--lang", "en"], environment: ["VSURVEY_HOME": home])
        #expect(run.status == 1 && run.stderr.contains("there are no surveys to back up"), "\(run)")
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test("the last confirmation takes 2 for no and says the survey stays a draft; yes/no questions everywhere take the same answers")
    func notFinalizingSaysSo() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        _ = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--lang", "en"] + today, environment: environment)
        let id = try #require(try vsurvey(["list", "--json"], environment: environment).stdout.firstMatch(of: /"id": "([0-9a-f-]+)"/)?.1)
        let session = try InteractiveProcess(["edit", String(id), "--at", "notes", "--lang", "en"] + today, environment: environment, terminal: true)
        try session.waitFor("Notes")
        session.send("")
        try session.waitFor("Everything checks out. Finalize now?")
        session.send("2")
        try session.waitFor("Not finalized: survey")
        try session.waitFor("is still a draft and will not be sent")
        #expect(session.finish() == 0, "\(session.transcript)")
        #expect(try revisions(home, String(id)).first?.status == "draft")
        for (answer, expected) in [("1", true), ("y", true), ("是", true), ("ｙ", true), ("2", false), ("否", false), ("ｎ", false), ("N", false), ("maybe", nil)]
            as [(String, Bool?)]
        {
            #expect(YesNo.read(answer) == expected, "\(answer)")
        }
    }

    @Test func killedMidwayThenResumedLosesNothing() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        let first = try InteractiveProcess(["fill", "village-branch", "--unit", "130102001203", "--lang", "en"] + today, environment: environment)
        try first.waitFor("Question 1 of about")
        for answer in ["3", "2026-06-01", "1", "40", "8", "5"] {
            let prompts = first.prompts
            first.send(answer)
            try first.waitFor("> ", count: prompts + 1)
        }
        // The sixth answer was accepted (the next question is shown): kill hard.
        first.kill()
        let id = try #require(first.transcript.firstMatch(of: /New survey ([0-9a-f]{8})/)?.1).description

        let shown = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: environment).stdout)
        #expect(shown["status"] == "draft")
        #expect(shown["answers"]?["members_total"] == 40)
        #expect(shown["answers"]?["members_age_35_under"] == 5)

        let second = try InteractiveProcess(["resume", id, "--lang", "en"] + today, environment: environment)
        let resumed = try second.waitFor("> ")
        #expect(resumed.contains("Aged 36 to 45"), "\(resumed)")
        second.send("10")
        try second.waitFor("Aged 46 to 59")
        #expect(second.finish() == 0)
        let after = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: environment).stdout)
        #expect(after["answers"]?["members_age_36_45"] == 10)
        #expect(after["answers"]?["members_women"] == 8)
    }

    @Test func enterTakesTheFormsDefault() throws {
        let environment = ["VSURVEY_HOME": try dataDirectory()]
        let session = try InteractiveProcess(["fill", "village-branch", "--unit", "130102001203", "--lang", "en"] + today, environment: environment)
        try session.waitFor("Question 1 of about")
        for answer in ["3", "2026-06-01"] {
            let prompts = session.prompts
            session.send(answer)
            try session.waitFor("> ", count: prompts + 1)
        }
        #expect(session.transcript.contains("[default: Secretary] > "))
        let prompts = session.prompts
        session.send("")
        try session.waitFor("> ", count: prompts + 1)
        session.send(":q")
        #expect(session.finish() == 0)
        let id = try #require(session.transcript.firstMatch(of: /New survey ([0-9a-f]{8})/)?.1).description
        let shown = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: environment).stdout)
        #expect(shown["answers"]?["informant_role"] == "secretary")
    }

    @Test func twoWindowsOnOneDraftLoseNothing() throws {
        let environment = ["VSURVEY_HOME": try dataDirectory()]
        func answer(_ session: InteractiveProcess, _ text: String) throws {
            let prompts = session.prompts
            session.send(text)
            try session.waitFor("> ", count: prompts + 1)
        }
        let first = try InteractiveProcess(["fill", "village-branch", "--unit", "130102001203", "--lang", "en"] + today, environment: environment)
        try first.waitFor("Question 1 of about")
        try answer(first, "3")
        try answer(first, "2026-06-01")
        let id = try #require(first.transcript.firstMatch(of: /New survey ([0-9a-f]{8})/)?.1).description

        let second = try InteractiveProcess(["resume", id, "--lang", "en"] + today, environment: environment)
        try second.waitFor("Role of the informant")
        try answer(second, "2")
        try answer(second, "40")
        second.send(":q")
        #expect(second.finish() == 0)

        // The first window still shows the informant question; its answer is merged in.
        try answer(first, "3")
        try first.waitFor("changes are merged")
        first.send(":q")
        #expect(first.finish() == 0)
        let shown = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: environment).stdout)
        #expect(shown["answers"]?["members_total"] == 40)
        #expect(shown["answers"]?["informant_role"] == "other")
        #expect(shown["answers"]?["branch_type"] == "branch")
    }

    @Test func ctrlCSaysTheDraftIsSafe() throws {
        let environment = ["VSURVEY_HOME": try dataDirectory()]
        let session = try InteractiveProcess(["fill", "village-branch", "--unit", "130102001203", "--lang", "en"] + today, environment: environment)
        try session.waitFor("Question 1 of about")
        let prompts = session.prompts
        session.send("3")
        try session.waitFor("> ", count: prompts + 1)
        kill(session.process.processIdentifier, SIGINT)
        session.process.waitUntilExit()
        #expect(session.process.terminationStatus == 130)
        try session.waitFor("The draft is saved")
        let id = try #require(session.transcript.firstMatch(of: /New survey ([0-9a-f]{8})/)?.1).description
        let shown = try JSONParser().parse(try vsurvey(["show", id, "--json"], environment: environment).stdout)
        #expect(shown["answers"]?["branch_type"] == "branch")
    }

    @Test func fillFromAnswerFiles() throws {
        let environment = ["VSURVEY_HOME": try dataDirectory()]
        let valid = "forms/samples/village-branch-valid.json"
        let finalized = try vsurvey(["fill", "village-branch", "--answers", valid, "--finalize", "--lang", "en"] + today, environment: environment)
        #expect(finalized.status == 0, "\(finalized)")
        #expect(finalized.stdout.contains("Finalized"))
        #expect(finalized.stdout.contains("130102001203 东关村 2026"))

        let again = try vsurvey(["fill", "village-branch", "--answers", valid, "--lang", "en"] + today, environment: environment)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already has survey"))

        let invalid = "forms/samples/village-branch-invalid-age-sum.json"
        let refused = try vsurvey(["fill", "village-branch", "--answers", invalid, "--unit", "130102001204", "--lang", "en"] + today, environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("nothing was stored"))
        #expect(refused.stdout.contains("members_age_60_over (Aged 60 and over): The four age groups"))
        #expect(try vsurvey(["list", "--json"], environment: environment).stdout.components(separatedBy: "\"id\"").count == 2)

        let draft = try vsurvey(
            ["fill", "village-branch", "--answers", invalid, "--unit", "130102001204", "--draft", "--lang", "en"] + today, environment: environment)
        #expect(draft.status == 0)
        #expect(draft.stdout.contains("Saved as draft"))
        let id = try #require(draft.stdout.firstMatch(of: /draft ([0-9a-f]{8})/)?.1).description
        let finalize = try vsurvey(["finalize", id, "--lang", "en"] + today, environment: environment)
        #expect(finalize.status == 1)
        #expect(finalize.stdout.contains("members_age_60_over"))

        let edited = try vsurvey(
            ["fill", "village-branch", "--answers", valid, "--edit-existing", "--finalize", "--lang", "en"] + today, environment: environment)
        #expect(edited.status == 0, "\(edited)")
        let list = try JSONParser().parse(try vsurvey(["list", "--json", "--unit", "130102001203"], environment: environment).stdout)
        #expect(list.arrayValue?.first?["revision"] == 2)
        #expect(list.arrayValue?.first?["status"] == "finalized")
    }

    @Test func discardAsksFirst() throws {
        let environment = ["VSURVEY_HOME": try dataDirectory()]
        let draft = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.yaml", "--lang", "en"] + today, environment: environment)
        let id = try #require(draft.stdout.firstMatch(of: /draft ([0-9a-f]{8})/)?.1).description
        let kept = try InteractiveProcess(["discard", id, "--lang", "en"], environment: environment)
        try kept.waitFor("Delete the draft")
        kept.send("n")
        #expect(kept.finish() == 0)
        #expect(kept.transcript.contains("Nothing was deleted"))
        let gone = try vsurvey(["discard", id, "--yes", "--lang", "en"], environment: environment)
        #expect(gone.stdout.contains("Deleted draft"))
        #expect(try vsurvey(["list", "--lang", "en"], environment: environment).stdout.contains("No surveys"))
    }

    @Test func exportWritesCSVForExcel() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        _ = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize"] + today, environment: environment)
        _ = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid-shell-village.json", "--finalize"] + today, environment: environment)
        let output = URL(fileURLWithPath: home).appendingPathComponent("out.csv")
        let run = try vsurvey(["export", "--form", "village-branch", "--output", output.path], environment: environment)
        #expect(run.status == 0, "\(run)")
        let bytes = try Data(contentsOf: output)
        #expect(bytes.starts(with: [0xEF, 0xBB, 0xBF]))
        let text = String(decoding: bytes.dropFirst(3), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("instance_id,revision,status,form,version,unit,unit_name,period,updated_at,branch_type"))
        #expect(text.contains("东关村"))
        let repeatBytes = try Data(contentsOf: URL(fileURLWithPath: home).appendingPathComponent("out-committee_members.csv"))
        #expect(repeatBytes.starts(with: [0xEF, 0xBB, 0xBF]))
        let repeats = String(decoding: repeatBytes.dropFirst(3), as: UTF8.self)
        #expect(repeats.hasPrefix("instance_id,entry,position"))
        #expect(repeats.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 5)

        #expect(!text.contains(",=") && !repeats.contains(",="), "formulas are neutralised")

        // Survey data is personal: the files are the owner's alone, and no lock file is left behind.
        for file in [output, URL(fileURLWithPath: home).appendingPathComponent("out-committee_members.csv")] {
            let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file.lastPathComponent): \(String(mode ?? 0, radix: 8))")
        }
        let page = URL(fileURLWithPath: home).appendingPathComponent("report.html")
        let report = try vsurvey(
            ["report", "village-branch", "--unit", "130102000000", "--period", "2026", "--html", page.path] + today, environment: environment)
        #expect(report.status == 0, "\(report)")
        #expect((try FileManager.default.attributesOfItem(atPath: page.path)[.posixPermissions] as? Int) == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasSuffix(".migrating") || $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "\(leftovers)")

        let jsonl = try vsurvey(["export", "--format", "jsonl"], environment: environment)
        let documents = try jsonl.stdout.split(separator: "\n").map { try JSONParser().parse(String($0)) }
        #expect(documents.count == 2)
        #expect(documents.allSatisfy { $0["answers"]?["members_total"] != nil })
    }

    @Test("vsurvey backup writes an owner-only copy that opens as the same surveys, and never replaces a file")
    func backupCopiesEverything() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        _ = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize"] + today, environment: environment)
        _ = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid-shell-village.json", "--finalize"] + today, environment: environment)
        let copy = try scratchDirectory("backup")
        let file = copy.appendingPathComponent("copy.sqlite").path
        let run = try vsurvey(["backup", file, "--lang", "en"], environment: environment)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("2 surveys backed up"))
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)
        // Restored as a data directory's database, it lists the same surveys.
        let restored = try scratchDirectory("restored")
        try FileManager.default.copyItem(atPath: file, toPath: restored.appendingPathComponent("vsurvey.sqlite").path)
        let original = try vsurvey(["list", "--lang", "en"], environment: environment)
        let fromCopy = try vsurvey(["list", "--lang", "en"], environment: ["VSURVEY_HOME": restored.path])
        #expect(fromCopy.status == 0 && fromCopy.stdout == original.stdout && original.stdout.contains("东关村"), "\(fromCopy)")
        let again = try vsurvey(["backup", file, "--lang", "en"], environment: environment)
        #expect(again.status == 1 && again.stderr.contains("already exists"))
    }

    @Test("commands that only look (list, show, export, report, status, backup) leave the database byte for byte as it was")
    func lookingNeverWrites() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        let filled = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize", "--lang", "en"] + today, environment: environment)
        #expect(filled.status == 0, "\(filled)")
        let database = URL(fileURLWithPath: home).appendingPathComponent("vsurvey.sqlite")
        let before = try Data(contentsOf: database)
        let id = try #require(try vsurvey(["list", "--json"], environment: environment).stdout.firstMatch(of: /"id": "([0-9a-f-]+)"/)?.1)
        let out = try scratchDirectory("looked")
        let commands: [[String]] = [
            ["list"], ["list", "--json"], ["show", String(id)], ["show", String(id), "--json"],
            ["export", "--format", "csv", "-o", out.appendingPathComponent("e.csv").path], ["export", "--format", "jsonl"],
            ["report", "village-branch", "--period", "2026"], ["status"], ["backup", out.appendingPathComponent("b.sqlite").path],
        ]
        for command in commands {
            let run = try vsurvey(command + ["--lang", "en"] + (command[0] == "report" || command[0] == "show" ? today : []), environment: environment)
            #expect(run.status == 0, "\(command): \(run)")
        }
        #expect(try Data(contentsOf: database) == before, "a command that only looks changed the database file")
        // In a directory never used, looking creates nothing.
        let fresh = try scratchDirectory("never-used").appendingPathComponent("vsurvey")
        let listed = try vsurvey(["list", "--lang", "en"], environment: ["VSURVEY_HOME": fresh.path])
        #expect(listed.status == 0, "\(listed)")
        #expect(!FileManager.default.fileExists(atPath: fresh.path), "list created the data directory")
    }

    @Test("a database damaged past its header is refused by list and, as the message says, left untouched")
    func damagedDatabaseIsLeftUntouched() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        _ = try vsurvey(["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--finalize"] + today, environment: environment)
        let database = URL(fileURLWithPath: home).appendingPathComponent("vsurvey.sqlite")
        var bytes = try Data(contentsOf: database)
        // The first page (header and schema) is sound; the pages after it, the surveys', are not.
        for index in 4096..<bytes.count { bytes[index] = 0xA5 }
        try bytes.write(to: database)
        let run = try vsurvey(["list", "--lang", "en"], environment: environment)
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("left untouched"), "\(run.stderr)")
        #expect(try Data(contentsOf: database) == bytes)
    }

    @Test("a period that has not begun is refused, with today's date; the current and earlier ones are taken")
    func futurePeriodIsRefused() throws {
        let home = try dataDirectory()
        let environment = ["VSURVEY_HOME": home]
        let future = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--period", "2030", "--finalize", "--lang", "en"] + today,
            environment: environment)
        #expect(future.status == 1 && future.stderr.contains("the period 2030 has not begun (today is 2026-11-26)"), "\(future)")
        #expect(try vsurvey(["list", "--json"], environment: environment).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let earlier = try vsurvey(
            ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--period", "2025", "--finalize", "--lang", "en"] + today,
            environment: environment)
        #expect(earlier.status == 0, "\(earlier)")
    }

    @Test("a data directory that cannot be made says why and what to do")
    func dataDirectoryThatCannotBeMade() throws {
        let parent = try scratchDirectory("blocked")
        try Data().write(to: parent.appendingPathComponent("file"))
        let run = try vsurvey(
            [
                "fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--data-dir", parent.appendingPathComponent("file/sub").path,
                "--lang", "en",
            ]
                + today)
        #expect(run.status == 1)
        #expect(run.stderr.contains("file is a file, not a directory") && run.stderr.contains("--data-dir or VSURVEY_HOME"), "\(run.stderr)")
    }

    @Test func corruptDatabaseFileIsRefusedAndKept() throws {
        let home = try dataDirectory()
        let file = URL(fileURLWithPath: home).appendingPathComponent("vsurvey.sqlite")
        try Data("not sqlite at all".utf8).write(to: file)
        let run = try vsurvey(["list", "--lang", "en"], environment: ["VSURVEY_HOME": home])
        #expect(run.status == 1)
        #expect(run.stderr.contains("is not a survey database"), "\(run.stderr)")
        #expect(try String(contentsOf: file, encoding: .utf8) == "not sqlite at all")
    }

    @Test func twoProcessesWritingAtOnce() throws {
        let home = try dataDirectory()
        let units = (201...216).map { "130102005\($0)" }
        let processes = try units.map { unit in
            let process = Process()
            process.executableURL = try binary()
            process.arguments = ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--unit", unit, "--finalize"] + today
            process.currentDirectoryURL = Fixtures.root
            process.environment = ["VSURVEY_HOME": home, "PATH": "/usr/bin:/bin"]
            process.standardOutput = FileHandle.nullDevice
            // What a failing one said, for the message below.
            let said = URL(fileURLWithPath: home).appendingPathComponent("stderr-\(unit)")
            FileManager.default.createFile(atPath: said.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: said)
            try process.run()
            return process
        }
        for process in processes { process.waitUntilExit() }
        var failures: [String] = []
        for (unit, process) in zip(units, processes) where process.terminationStatus != 0 {
            let said = (try? String(contentsOfFile: home + "/stderr-" + unit, encoding: .utf8)) ?? ""
            failures.append("\(unit): \(said)")
        }
        #expect(failures.isEmpty, "\(failures)")
        let list = try JSONParser().parse(try vsurvey(["list", "--json"], environment: ["VSURVEY_HOME": home]).stdout)
        #expect(Set(list.arrayValue?.compactMap { $0["unit"]?.stringValue } ?? []) == Set(units))
    }

    struct BadArguments: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        let message: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badArguments = [
        BadArguments(arguments: ["fill"], message: "Missing expected argument '<form>'"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "123"], message: "the unit code must be 12 digits"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102001203", "--period", "2026Q9"], message: "is not a period"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102001203", "--finalize"], message: "--finalize, --draft, --prefill and --confirm-warnings go with --answers"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102001203", "--prefill"], message: "--prefill and --confirm-warnings go with --answers"),
        BadArguments(arguments: ["fill", "village-branch", "--answers", "x.json", "--finalize", "--draft"], message: "cannot be combined"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102001000"], message: "this form is for a village"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102099203"], message: "is not in the registry"),
        BadArguments(arguments: ["fill", "village-branch", "--unit", "130102001203", "--period", "2026Q3"], message: "is not of the form's type"),
        BadArguments(arguments: ["fill", "nonesuch", "--unit", "130102001203"], message: "no form 'nonesuch'"),
        BadArguments(arguments: ["fill", "village-branch", "--answers", "missing.json"], message: "cannot read the file"),
        BadArguments(arguments: ["resume"], message: "Missing expected argument '<id>'"),
        BadArguments(arguments: ["resume", "zz"], message: "is not a survey id"),
        BadArguments(arguments: ["resume", "abcdef12"], message: "no survey with id abcdef12"),
        BadArguments(arguments: ["edit", "abcdef12"], message: "no survey with id abcdef12"),
        BadArguments(arguments: ["finalize"], message: "Missing expected argument '<id>'"),
        BadArguments(arguments: ["finalize", "abcdef12"], message: "no survey with id"),
        BadArguments(arguments: ["discard", "abcdef12", "--yes"], message: "no survey with id"),
        BadArguments(arguments: ["show"], message: "Missing expected argument '<id>'"),
        BadArguments(arguments: ["show", "abcdef12"], message: "no survey with id"),
        BadArguments(arguments: ["list", "--status", "lost"], message: "unknown status 'lost'"),
        BadArguments(arguments: ["list", "--unit", "12"], message: "the unit code must be 12 digits"),
        BadArguments(arguments: ["export", "--format", "xml"], message: "The value 'xml' is invalid for '--format <format>'"),
        BadArguments(arguments: ["export", "--status", "old"], message: "unknown status 'old'"),
        BadArguments(arguments: ["form", "validate", "village-branch"], message: "Missing expected argument '<answers>'"),
        BadArguments(arguments: ["list", "--lang", "fr"], message: "--lang must be zh or en"),
        BadArguments(arguments: ["list", "--forms", "/nonexistent/forms"], message: "no such forms directory"),
    ]

    @Test(arguments: Self.badArguments)
    func badArgumentsAreExplained(_ bad: BadArguments) throws {
        let language = bad.arguments.contains("--lang") ? [] : ["--lang", "en"]
        let run = try vsurvey(bad.arguments + language, environment: ["VSURVEY_HOME": try dataDirectory()])
        #expect(run.status != 0)
        #expect((run.stderr + run.stdout).contains(bad.message), "\(run.stderr)\(run.stdout)")
    }

    @Test("every error path above, and more, said in Chinese: no English words left untranslated")
    func errorsInChinese() throws {
        let bad = try scratchDirectory("zh-errors")
        try Data("answers:\n  members_total: @40\n".utf8).write(to: bad.appendingPathComponent("bad.yaml"))
        try Data("code,name,level,parent\n130102001201,".utf8 + [0xB6, 0xAB] + Data(",village,130102001000\n".utf8)).write(
            to: bad.appendingPathComponent("gbk.csv"))
        // (An unknown --lang is said in both languages: it cannot know which.)
        var runs: [(String, [String])] = Self.badArguments.filter { !$0.arguments.contains("--lang") }.map { ("vsurvey", $0.arguments) }
        runs += [
            ("vsurvey", ["form", "validate", "village-branch", bad.appendingPathComponent("bad.yaml").path]),
            ("vsurvey", ["fill", "village-branch", "--answers", "forms/samples/village-branch-valid.json", "--period", "2030"] + today),
            ("vsurvey", ["report", "village-branch", "--unit", "999999999999"]), ("vsurvey", ["export", "--format", "csv", "--values", "words"]),
            ("vsurvey", ["list", "--bogus"]), ("vsurvey", ["list", "extra"]), ("vsurvey", ["list", "--unit"]), ("vsurvey", ["lisst"]),
            ("vsurvey", ["sync"]), ("vsurvey", ["report", "village-branch", "--remote"]),
            ("vsurvey-server", ["token", "create", "--name", "x"]), ("vsurvey-server", ["serve", "--port", "99999"]),
            (
                "vsurvey-server",
                ["token", "create", "--db", bad.appendingPathComponent("none.sqlite").path, "--name", "x", "--role", "viewer", "--unit", "130102000000"]
            ),
            ("vsurvey-server", ["units", "import", bad.appendingPathComponent("gbk.csv").path, "--db", bad.appendingPathComponent("s.sqlite").path]),
            ("vsurvey-server", ["token", "create", "--name", "x", "--role", "boss", "--unit", "1"]),
        ]
        let allowed: Set<String> = [
            "vsurvey", "server", "fill", "resume", "edit", "finalize", "discard", "show", "list", "export", "login", "sync", "status", "report", "form",
            "validate", "token", "create", "serve", "units", "import", "help", "YAML", "CSV", "JSON", "UTF", "Excel", "WPS", "GBK", "Tab", "ID",
            "id", "zh", "en", "draft", "finalized", "sent", "rejected", "mismatch", "held", "xlsx", "csv", "json", "jsonl", "labels", "codes",
            "collector", "viewer", "reviewer", "admin", "village", "branch", "nonesuch", "lost", "old", "xml", "words", "extra", "lisst", "bogus", "forms",
            "remote", "sqlite", "postgres", "YYYY", "MM", "DD", "Q", "URL",
        ]
        for (binary, arguments) in runs {
            let run = try CommandRun.run(
                try Binaries.url(binary), arguments, in: Fixtures.root, environment: ["VSURVEY_HOME": try dataDirectory(), "LANG": "zh_CN.UTF-8"])
            #expect(run.status != 0, "\(binary) \(arguments)")
            for line in (run.stderr + run.stdout).split(separator: "\n") where !line.hasPrefix("用法:") && !line.hasPrefix("  详见") {
                var text = String(line)
                // Option names, placeholders, paths and files, quoted input, hyphenated ids.
                for pattern in [
                    #"[A-Za-z0-9_.-]*[/@][A-Za-z0-9_./@-]*"#, #"[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+"#, "<[^>]*>", "“[^”]*”", "'[^']*'", #""[^"]*""#,
                    #"(^|[^A-Za-z])--?[A-Za-z][A-Za-z-]*"#, #"\b[a-z]+(-[a-z]+)+\b"#, #"\b[A-Za-z]*[0-9][A-Za-z0-9]*\b"#,
                ] {
                    text = text.replacing(try Regex(pattern), with: " ")
                }
                let words = text.matches(of: #/[A-Za-z]{2,}/#).map { String($0.output) }.filter { !allowed.contains($0) }
                #expect(words.isEmpty, "\(binary) \(arguments.joined(separator: " ")): English left in “\(line)”: \(words)")
            }
        }
    }

    @Test func helpInBothLanguages() throws {
        let root = try vsurvey(["--help"])
        #expect(root.stdout.contains("fill"))
        #expect(root.stdout.contains("填写一份调查 / Fill in a survey"))
        for command in ["fill", "resume", "edit", "finalize", "discard", "list", "show", "export"] {
            let help = try vsurvey([command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("--data-dir"), "\(command)")
            #expect(help.stdout.contains(" / "), "\(command)")
        }
    }
}
