import Foundation
import SurveyCore
import SurveyFixtures
import SurveySpreadsheet
import SurveyXLSForm
import Testing

/// A form as a person compares two of them: every field with its type,
/// texts, expressions and limits; every choice list; the settings; the
/// indicators and charts. Two forms with equal digests are the same form.
func digest(_ form: Form) -> [String] {
    func text(_ value: LocalizedText?) -> String { value.map { "\($0.zh)|\($0.en ?? "")" } ?? "-" }
    func expression(_ value: FormExpression?) -> String { value?.source ?? "-" }
    var lines = [
        "form \(form.id)@\(form.version) \(text(form.title)) \(form.periodType) \(form.unitLevel) \(form.defaultLanguage)",
        "constants \(form.constants.map { "\($0.name)=\($0.value)" })", "due \(form.dueDates.sorted { $0.key < $1.key })",
        "review \(form.reviewLevels)", "outliers \(String(describing: form.outliers))",
    ]
    for field in form.fields {
        let requirement: String
        switch field.requirement {
        case .optional: requirement = "optional"
        case .required: requirement = "required"
        case .when(let condition): requirement = "when \(condition.source)"
        }
        lines.append(
            [
                "field \(field.name) \(field.type) parent=\(field.parent.map { form.fields[$0].name } ?? "-")", text(field.label), text(field.hint),
                text(field.measure), requirement, text(field.requiredMessage), expression(field.relevant), expression(field.constraint),
                text(field.constraintMessage), expression(field.calculation), "\(String(describing: field.dataType))",
                "\(String(describing: field.defaultValue))", "\(field.readOnly)", "\(String(describing: field.minimum))",
                "\(String(describing: field.maximum))", "\(field.minCount)-\(String(describing: field.maxCount))", "prefill=\(field.prefill)",
                "filter=\(expression(field.choiceFilter))",
                "warnings=\(field.warnings.map { "\($0.name):\($0.condition.source):\(text($0.message))" })",
            ].joined(separator: " ¦ "))
    }
    for (name, list) in form.choiceLists.sorted(by: { $0.key < $1.key }) {
        lines.append("list \(name): " + list.choices.map { "\($0.name)=\(text($0.label))\($0.properties.sorted { $0.key < $1.key })" }.joined(separator: ", "))
    }
    for indicator in form.indicators {
        let kind: String
        switch indicator.kind {
        case .sum(let value): kind = "sum \(value.source)"
        case .average(let value): kind = "average \(value.source)"
        case .count(let condition): kind = "count \(expression(condition))"
        case .share(let condition): kind = "share \(condition.source)"
        case .ratio(let numerator, let denominator): kind = "ratio \(numerator.source) / \(denominator.source)"
        case .completeness: kind = "completeness"
        }
        lines.append(
            "indicator \(indicator.name) \(text(indicator.label)) \(kind) \(indicator.format) scale=\(indicator.scale) watch=\(indicator.watch) detail=\(expression(indicator.detail)) desc=\(indicator.descending)"
        )
    }
    for chart in form.charts {
        let kind: String
        switch chart.kind {
        case .stacked(let series): kind = "stacked \(series)"
        case .histogram(let value, let bins, let mark): kind = "histogram \(value.source) \(bins) \(String(describing: mark))"
        case .completeness: kind = "completeness"
        }
        lines.append("chart \(text(chart.title)) \(kind)")
    }
    return lines
}

/// What validating an answer file gives, to compare two forms by.
func outcome(_ form: Form, _ answers: JSONObject) -> String {
    let result = form.validate(answers, today: CivilDate.parse("2026-11-25")!)
    let issues = result.issues.map { "\($0.path) \($0.code) \($0.message.zh)" }.sorted()
    let warnings = result.warnings.map { "\($0.path) \($0.code)" }.sorted()
    return "valid=\(result.isValid) issues=\(issues) warnings=\(warnings) answers=\(JSONValue.object(result.answers).serialized())"
}

/// Writes sheets as an .xlsx and reads them back, as a person's
/// spreadsheet program would hold them.
func throughWorkbook(_ sheets: [Sheet]) throws -> [ReadSheet] {
    try XLSXReader.read(try XLSXWriter.data(sheets), name: "form.xlsx")
}

@Suite("XLSForm: forms written in Excel, imported and exported")
struct XLSFormTests {
    static let today = CivilDate.parse("2026-11-25")!

    @Test("each shipped form exported to xlsx and imported again is the same form, and validates every sample answer file exactly as the original")
    func roundTrip() throws {
        let catalog = Fixtures.catalog()
        let samples = try FileManager.default.contentsOfDirectory(atPath: Fixtures.samplesDirectory.path).filter { $0.hasSuffix(".json") && $0 != "expectations.json" }
        #expect(catalog.allForms.count >= 4)
        var checked = 0
        for form in catalog.allForms {
            let sheets = try XLSFormExporter.sheets(formFile: URL(fileURLWithPath: form.file))
            #expect(sheets.map(\.name).starts(with: ["survey", "choices", "settings"]))
            let imported = try XLSFormImporter.convert(sheets: try throughWorkbook(sheets), file: "\(form.id).xlsx", directory: nil)
            #expect(imported.warnings.isEmpty, "\(form.id): \(imported.warnings)")
            let original = digest(form)
            let again = digest(imported.form)
            #expect(original.count == again.count)
            for (a, b) in zip(original, again) { #expect(a == b, "\(form.id)@\(form.version)") }
            for sample in samples.sorted() where sample.hasPrefix(form.id + "-") {
                let json = try JSONParser().parse(Data(contentsOf: Fixtures.samplesDirectory.appendingPathComponent(sample)))
                let answers = try #require(json["answers"]?.objectValue)
                #expect(outcome(form, answers) == outcome(imported.form, answers), "\(sample) with \(form.id)@\(form.version)")
                checked += 1
            }
            // Generated villages too: every branch of the form's rules.
            if form.id == "village-branch" {
                var generator = VillageBranchGenerator(seed: 20)
                for _ in 0..<60 {
                    let answers = generator.next()
                    #expect(outcome(form, answers) == outcome(imported.form, answers))
                    checked += 1
                }
            }
        }
        #expect(checked > 80)
    }

    @Test("the export is an XLSForm a spreadsheet reader sees: survey rows with begin and end group, translations as label::Chinese (zh), yes_no as a list")
    func exportShape() throws {
        let form = try Fixtures.form("village-branch")
        let sheets = try throughWorkbook(try XLSFormExporter.sheets(formFile: URL(fileURLWithPath: form.file)))
        let survey = try #require(sheets.first { $0.name == "survey" })
        let header = try #require(survey.rows.first).cells.sorted { $0.key < $1.key }.map(\.value.text)
        #expect(Array(header.prefix(4)) == ["type", "name", "label::Chinese (zh)", "label::English (en)"])
        let types = survey.rows.dropFirst().compactMap { $0[0]?.text }
        #expect(types.filter { $0 == "begin group" }.count == types.filter { $0 == "end group" }.count)
        #expect(types.contains("begin repeat") && types.contains("end repeat"))
        #expect(types.contains("select_one yes_no"))
        let choices = try #require(sheets.first { $0.name == "choices" })
        #expect(choices.rows.contains { $0[0]?.text == "yes_no" && $0[1]?.text == "yes" })
        let settings = try #require(sheets.first { $0.name == "settings" })
        let settingsHeader = settings.rows[0].cells.sorted { $0.key < $1.key }.map(\.value.text)
        let values = settings.rows[1].cells.sorted { $0.key < $1.key }.map(\.value.text)
        let byKey = Dictionary(uniqueKeysWithValues: zip(settingsHeader, values))
        #expect(byKey["form_id"] == "village-branch")
        #expect(byKey["form_title"] == "村党组织建设情况调查")
        #expect(byKey["review"] == "[township, county]")
        #expect(sheets.contains { $0.name == "indicators" } && sheets.contains { $0.name == "warnings" })
    }

    @Test(
        "an XLSForm written by openpyxl with every column and type: the YAML form, cascading and file-backed selects, and the validation of valid and invalid answers",
        .enabled(if: SpreadsheetReader.wanted))
    func openpyxlWorkbook() throws {
        let directory = try Self.workbooks()
        let imported = try XLSFormImporter.convert(workbook: directory.appendingPathComponent("full.xlsx"))
        let form = imported.form
        // Warnings name their cells: appearance and parameters are not kept.
        let warned = imported.warnings.map { "\($0.place.sheet)!\($0.place.column ?? "")\($0.place.row ?? 0)" }
        #expect(warned.contains("survey!S12"), "\(imported.warnings)")  // appearance of income
        #expect(warned.contains("survey!T13"), "\(imported.warnings)")  // parameters of sources
        #expect(form.id == "xf-village" && form.version == "2026.1" && form.title.zh == "村党组织简表")
        #expect(form.periodType == .annual && form.unitLevel == .village && form.dueDates["2026"] == CivilDate.parse("2026-11-30"))
        #expect(form.constants.map(\.name) == ["weak_income"])
        func field(_ name: String) throws -> Field { try #require(form.field(named: name), "\(name)") }
        #expect(try field("members_total").label == L("党员总数", "Members in total"))
        #expect(try field("members_total").hint == L("单位:人", "In persons"))
        #expect(try field("members_women").requiredMessage == L("有党员时须填女党员数", "Give the women when there are members"))
        #expect(try field("survey_date").defaultValue == .date(CivilDate.parse("2026-11-20")!))
        #expect(try field("origin").readOnly && field("origin").defaultValue == .string("县委组织部"))
        #expect(try field("consent").type == .selectOne(list: "acknowledge"))
        #expect(try field("cadre_party").type == .yesNo)
        #expect(try field("leader_village").choices?.choices.map(\.name) == ["v1", "v2", "v3"])
        #expect(try field("leader_village").choices?.choices[2].label.zh == "河口村, 南")
        #expect(try field("skills").choices?.choices.map(\.label) == [L("种植", "Farming"), L("经商", "Trade")])
        #expect(try field("cadres").minCount == 2 && field("cadres").maxCount == 2)
        #expect(try field("cadre_name").parent == form.fields.firstIndex { $0.name == "cadres" })
        #expect(form.indicators.map(\.name) == ["members", "women_share", "weak"])
        // The YAML says the same, and loads again by itself.
        #expect(imported.yaml.contains("choice_filter: 'township=${township}'"), "\(imported.yaml)")
        #expect(try FormLoader.load(data: Data(imported.yaml.utf8), file: "full.yaml").fields.count == form.fields.count)

        var answers: JSONObject = [
            "township": "t1", "village": "v2", "survey_date": "2026-11-20", "consent": "OK", "members_total": 40, "members_women": 12,
            "income": 3.5, "sources": ["land", "grant"], "leader_village": "v1", "skills": ["trade"], "remark": "good year",
            "cadres": [["cadre_name": "王", "cadre_birth_year": 1970, "cadre_party": "yes"], ["cadre_name": "李", "cadre_birth_year": 1985, "cadre_party": "no"]],
        ]
        let valid = form.validate(answers, today: Self.today)
        #expect(valid.isValid, "\(valid.issues)")
        #expect(valid.answers["first_cadre"] == "王")
        #expect(valid.answers["township_name"] == "城关镇")
        #expect(valid.answers["remark_head"] == "good")
        #expect(valid.answers["source_count"] == 2)
        #expect(valid.answers["origin"] == "县委组织部")
        let entries = valid.answers["cadres"]?.arrayValue?.compactMap { $0.objectValue?["cadre_number"] }
        #expect(entries == [1, 2])
        // once(uuid()): made once, then kept as sent.
        let key = try #require(valid.answers["record_key"]?.stringValue)
        #expect(key.count == 36)
        answers["record_key"] = .string(key)
        #expect(form.validate(answers, today: Self.today).answers["record_key"] == .string(key))

        func problems(_ change: (inout JSONObject) -> Void) -> [String] {
            var copy = answers
            change(&copy)
            return form.validate(copy, today: Self.today).issues.map { "\($0.path) \($0.code)" }
        }
        #expect(problems { $0["village"] = "v3" } == ["village choice"])  // a village of another township
        #expect(problems { $0["leader_village"] = "v3" } == ["leader_village choice"])
        #expect(problems { $0["village"] = "v9" } == ["village choice"])
        #expect(problems { $0["consent"] = "yes" } == ["consent choice"])
        #expect(problems { $0["members_total"] = 20_000 } == ["members_total constraint"])
        #expect(problems { $0["members_women"] = 41 } == ["members_women constraint"])
        #expect(problems { $0["members_women"] = nil } == ["members_women required"])
        #expect(problems { $0["members_total"] = 0; $0["members_women"] = 0; $0["income"] = nil }.isEmpty)
        #expect(problems { $0["skills"] = ["fishing"] } == ["skills choice"])
        #expect(problems { $0["cadres"] = [["cadre_name": "王"]] } == ["cadres repeatCount"])
        #expect(problems { $0["cadres"] = [["cadre_name": "王", "cadre_birth_year": 1930], ["cadre_name": "李"]] } == ["cadres[1].cadre_birth_year constraint"])
        #expect(problems { $0["survey_date"] = "2026-13-01" } == ["survey_date type"])
        var otherTownship = answers
        otherTownship["village"] = "v3"
        let message = form.validate(otherTownship, today: Self.today).issues.first?.message.text(.en) ?? ""
        #expect(message.contains("not offered given the earlier answers"), "\(message)")
    }

    @Test("what the engine cannot do is refused by sheet, row and column with the reason: GPS, images, nested repeats, pulldata(), entities, unknown types", .enabled(if: SpreadsheetReader.wanted))
    func refusals() throws {
        let directory = try Self.workbooks()
        do {
            _ = try XLSFormImporter.convert(workbook: directory.appendingPathComponent("refused.xlsx"))
            Issue.record("a workbook with GPS, images and nested repeats was imported")
        } catch {
            let errors = error.messages.filter(\.isError).map { "\($0.place.sheet)!\($0.place.column ?? "-")\($0.place.row.map(String.init) ?? "") \($0.message.text(.en))" }
            func has(_ place: String, _ words: String) -> Bool { errors.contains { $0.hasPrefix(place + " ") && $0.contains(words) } }
            #expect(has("survey!A2", "GPS questions are not supported"), "\(errors)")
            #expect(has("survey!A5", "repeats inside repeats are not supported"), "\(errors)")
            #expect(has("survey!D9", "pulldata() is not supported"), "\(errors)")
            #expect(has("survey!A10", "image, audio, video"), "\(errors)")
            #expect(has("survey!A12", "unknown type 'rating'"), "\(errors)")
            #expect(has("survey!A13", "has no matching begin row"), "\(errors)")
            #expect(has("entities!-", "entities are not supported"), "\(errors)")
            let warnings = error.messages.filter { !$0.isError }.map { "\($0.place.sheet)!\($0.place.column ?? "-")\($0.place.row.map(String.init) ?? "")" }
            #expect(warnings.contains("survey!E11"), "\(warnings)")  // appearance: a warning, not a refusal
            let rendered = try #require(error.messages.first { $0.place.row == 2 }).rendered(.zh, file: "refused.xlsx")
            #expect(rendered.hasPrefix("refused.xlsx:工作表 survey 第 2 行 A 列(type):"), "\(rendered)")
        }
    }

    @Test("a repeat_count that reads an answer is kept as repeat_count; a fixed one is min_count = max_count; jr:count is its alias")
    func repeatCounts() throws {
        func sheets(_ count: String, header: String = "repeat_count") -> [ReadSheet] {
            [
                ReadSheet(name: "survey", rows: [
                    ReadRow(number: 1, cells: [0: .text("type"), 1: .text("name"), 2: .text("label"), 3: .text(header)]),
                    ReadRow(number: 2, cells: [0: .text("integer"), 1: .text("n"), 2: .text("人数")]),
                    ReadRow(number: 3, cells: [0: .text("begin_repeat"), 1: .text("people"), 2: .text("成员"), 3: .text(count)]),
                    ReadRow(number: 4, cells: [0: .text("text"), 1: .text("person"), 2: .text("姓名")]),
                    ReadRow(number: 5, cells: [0: .text("end_repeat")]),
                ])
            ]
        }
        let computed = try XLSFormImporter.convert(sheets: sheets("${n}"), file: "r.xlsx", directory: nil).form
        let people = try #require(computed.field(named: "people"))
        #expect(people.repeatCount?.source == "${n}" && people.minCount == 0 && people.maxCount == nil)
        let issues = computed.validate(["n": 2, "people": [["person": "甲"]]], today: Self.today).issues
        #expect(issues.map(\.path) == ["people"] && issues.first?.code == .repeatCount)
        let fixed = try XLSFormImporter.convert(sheets: sheets("3", header: "jr:count"), file: "r.xlsx", directory: nil).form
        #expect(fixed.field(named: "people").map { ($0.repeatCount == nil, $0.minCount, $0.maxCount) }! == (true, 3, 3))
    }

    @Test("review levels in a settings cell may be a YAML list or words separated as a Chinese keyboard types them")
    func reviewLevels() throws {
        for cell in ["[township, county]", "township, county", "township\u{FF0C}county", "township、county", "township county"] {
            let sheets = [
                ReadSheet(name: "survey", rows: [
                    ReadRow(number: 1, cells: [0: .text("type"), 1: .text("name"), 2: .text("label")]),
                    ReadRow(number: 2, cells: [0: .text("integer"), 1: .text("n"), 2: .text("人数")]),
                ]),
                ReadSheet(name: "settings", rows: [
                    ReadRow(number: 1, cells: [0: .text("form_id"), 1: .text("review")]),
                    ReadRow(number: 2, cells: [0: .text("r"), 1: .text(cell)]),
                ]),
            ]
            let form = try XLSFormImporter.convert(sheets: sheets, file: "r.xlsx", directory: nil).form
            #expect(form.reviewLevels == [.township, .county], "\(cell)")
        }
    }

    @Test("a problem the form loader finds is named by the cell it came from, with the column inside the expression")
    func loaderProblemsByCell() throws {
        let sheets = [
            ReadSheet(name: "survey", rows: [
                ReadRow(number: 1, cells: [0: .text("type"), 1: .text("name"), 2: .text("label"), 3: .text("constraint"), 4: .text("relevant")]),
                ReadRow(number: 2, cells: [0: .text("integer"), 1: .text("a"), 2: .text("甲")]),
                ReadRow(number: 3, cells: [0: .text("integer"), 1: .text("b"), 2: .text("乙"), 3: .text(". < ${c}")]),
                ReadRow(number: 4, cells: [0: .text("select_one nowhere"), 1: .text("d"), 2: .text("丁"), 4: .text("${a} >")]),
            ]),
            ReadSheet(name: "settings", rows: [ReadRow(number: 1, cells: [0: .text("form_id")]), ReadRow(number: 2, cells: [0: .text("t")])]),
        ]
        do {
            _ = try XLSFormImporter.convert(sheets: sheets, file: "t.xlsx", directory: nil)
            Issue.record("imported a form with errors")
        } catch {
            let errors = error.messages.filter(\.isError)
            let places = errors.map { "\($0.place.column ?? "-")\($0.place.row ?? 0)" }
            #expect(places.contains("D3"), "\(error.messages)")
            #expect(places.contains("A4"), "\(error.messages)")
            #expect(places.contains("E4"), "\(error.messages)")
            let reference = try #require(errors.first { $0.place.column == "D" })
            #expect(reference.message.text(.en).contains("${c}") && reference.expressionColumn == 5)
        }
    }

    @Test(
        "pyxform reads the same fields, types, choice lists, labels and expressions from each test workbook it accepts as the importer",
        .enabled(if: SpreadsheetReader.wanted && ProcessInfo.processInfo.environment["VSURVEY_TEST_PYXFORM"] != "0"),
        arguments: [("full.xlsx", 25), ("forms/xlsx/cascade-sample.xlsx", 4)])
    func matchesPyxform(workbook: String, fields: Int) throws {
        let directory = try Self.workbooks()
        // (village-branch.xlsx is not among them: pyxform knows neither its constants nor previous().)
        let file = workbook.hasPrefix("forms/") ? Fixtures.root.appendingPathComponent(workbook) : directory.appendingPathComponent(workbook)
        let run = try CommandRun.run(
            URL(fileURLWithPath: try #require(SpreadsheetReader.python)), [Fixtures.root.appendingPathComponent("Tests/Tools/xlsforms.py").path, "pyxform", file.path],
            in: directory)
        try #require(run.status == 0, "\(run.stderr)")
        let theirs = try JSONParser().parse(Data(run.stdout.utf8))
        let ours = try XLSFormImporter.convert(workbook: file).form
        var expected: [String] = []
        func language(_ label: JSONValue?) -> String {
            guard let label else { return "-" }
            if let text = label.stringValue { return "\(text)|" }
            let object = label.objectValue ?? [:]
            let zh = object.first { $0.key.contains("(zh)") }?.value.stringValue ?? ""
            let en = object.first { $0.key.contains("(en)") }?.value.stringValue ?? ""
            return "\(zh)|\(en)"
        }
        let lists = theirs["choices"]?.objectValue ?? [:]
        func walk(_ node: JSONValue) {
            let children = node["children"]?.arrayValue ?? []
            // pyxform turns repeat_count into a calculation of its own.
            let counts = Set(children.compactMap { $0["control"]?["jr:count"]?.stringValue?.dropFirst(2).dropLast().description })
            for child in children {
                let name = child["name"]?.stringValue ?? ""
                if name == "meta" || counts.contains(name) { continue }
                var type = child["type"]?.stringValue ?? ""
                var list = child["itemset"]?.stringValue ?? child["list_name"]?.stringValue ?? ""
                switch type {
                case "select one": type = "select_one"
                case "select all that apply": type = "select_multiple"
                case "acknowledge": type = "select_one"; list = "acknowledge"
                default: break
                }
                if list.hasSuffix(".csv") { list = String(list.dropLast(4)) }
                let bind = child["bind"]?.objectValue ?? [:]
                let required = bind["required"]?.stringValue.map { ["yes", "true", "true()"].contains($0.lowercased()) ? "required" : "when \($0)" } ?? "optional"
                var line = "\(name) \(type) \(list) \(language(child["label"])) \(language(child["hint"])) \(required)"
                line += " rel=\(bind["relevant"]?.stringValue ?? "-") con=\(bind["constraint"]?.stringValue ?? "-") calc=\(bind["calculate"]?.stringValue ?? "-")"
                line += " filter=\(child["choice_filter"]?.stringValue ?? "-")"
                if type.hasPrefix("select"), let choices = lists[list]?.arrayValue {
                    line += " choices=" + choices.map { "\($0["name"]?.stringValue ?? "")=\(language($0["label"]))" }.joined(separator: ",")
                }
                expected.append(line)
                if type == "group" || type == "repeat" { walk(child) }
            }
        }
        walk(theirs)
        var actual: [String] = []
        for field in ours.fields {
            var type: String
            var list = field.type.choiceList ?? ""
            switch field.type {
            case .selectOne: type = "select_one"
            case .selectMultiple: type = "select_multiple"
            case .yesNo: type = "select_one"
            default: type = "\(field.type)"
            }
            if list == "file_villages" || list == "villages" { list = "villages" }
            let required: String
            switch field.requirement {
            case .optional: required = "optional"
            case .required: required = "required"
            case .when(let condition): required = "when \(condition.source)"
            }
            func languages(_ text: LocalizedText?) -> String { text.map { "\($0.zh)|\($0.en ?? "")" } ?? "-" }
            var line = "\(field.name) \(type) \(list) \(languages(field.label)) \(languages(field.hint)) \(required)"
            line += " rel=\(field.relevant?.source ?? "-") con=\(field.constraint?.source ?? "-") calc=\(field.calculation?.source ?? "-")"
            line += " filter=\(field.choiceFilter?.source ?? "-")"
            if type.hasPrefix("select"), !["villages", "skills", "acknowledge"].contains(list), let choices = field.choices {
                line += " choices=" + choices.choices.map { "\($0.name)=\($0.label.zh)|\($0.label.en ?? "")" }.joined(separator: ",")
            }
            actual.append(line)
        }
        // Lists from files and acknowledge: pyxform leaves their choices to the device.
        expected = expected.map { line in ["villages", "skills", "acknowledge"].contains { line.contains(" \($0) ") } ? String(line.split(separator: " choices=")[0]) : line }
        #expect(actual.count == expected.count && actual.count == fields, "\(actual)\n\(expected)")
        print("pyxform: \(expected.count) fields compared, first: \(expected.first ?? "")")
        for (a, b) in zip(actual, expected) { #expect(a == b) }
    }

    @Test("in a terminal, a cascading select offers only the villages of the township chosen, numbered among them; the survey keeps the village chosen")
    func cascadingSelectInTerminal() throws {
        let home = try scratchDirectory("cascade").path
        let session = try InteractiveProcess(
            ["fill", "cascade-sample", "--forms", "forms/xlsx", "--unit", "130102000000", "--period", "2026", "--lang", "en", "--today", "2026-11-25"],
            environment: ["VSURVEY_HOME": home], terminal: true)
        try session.waitFor("Chengguan")
        session.send("2")
        let offered = try session.waitFor("Liuwan")
        let villages = String(offered.components(separatedBy: "Village").last ?? "")
        #expect(villages.contains("1) Hekou") && villages.contains("2) Liuwan"), "\(villages)")
        #expect(!villages.contains("Dongguan") && !villages.contains("Xiguan"), "\(villages)")
        session.send("1")
        try session.waitFor("Name of the liaison")
        session.send("张三")
        try session.waitFor("Finalize now?")
        session.send("1")
        try session.waitFor("Finalized")
        #expect(session.finish() == 0, "\(session.transcript)")
        let listed = try vsurvey(["list", "--lang", "en", "--forms", "forms/xlsx"], environment: ["VSURVEY_HOME": home])
        #expect(listed.stdout.contains("cascade-sample"), "\(listed.stdout)")
        let shown = try vsurvey(["show", "--lang", "en", "--forms", "forms/xlsx", String(listed.stdout.split(separator: "\n").last { $0.contains("cascade-sample") }?.split(separator: " ").first ?? "")], environment: ["VSURVEY_HOME": home])
        #expect(shown.stdout.contains("Hekou") && shown.stdout.contains("河口村"), "\(shown.stdout)\(shown.stderr)")
    }

    @Test("vsurvey form export writes the workbooks in forms/xlsx byte for byte; form import reads one back into a form that form check accepts, and refuses to overwrite without --force")
    func commands() throws {
        let directory = try scratchDirectory("xlsform-cli")
        for (form, extra) in [("village-branch", [String]()), ("cascade-sample", ["--forms", "forms/xlsx"])] {
            let file = directory.appendingPathComponent("\(form).xlsx")
            let exported = try vsurvey(["form", "export", form, "--format", "xlsx", "--output", file.path, "--lang", "en"] + extra)
            #expect(exported.status == 0, "\(exported.stderr)")
            #expect(exported.stdout.contains("exported \(form)@"), "\(exported.stdout)")
            let shipped = try Data(contentsOf: Fixtures.formsDirectory.appendingPathComponent("xlsx/\(form).xlsx"))
            #expect(try Data(contentsOf: file) == shipped, "forms/xlsx/\(form).xlsx is not the export of the form: export it again")
        }
        let yaml = directory.appendingPathComponent("imported/village-branch.yaml")
        let imported = try vsurvey(["form", "import", "forms/xlsx/village-branch.xlsx", "--output", yaml.path, "--lang", "en"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported village-branch@2026.2:"), "\(imported.stdout)")
        let checked = try vsurvey(["form", "check", yaml.path, "--lang", "en"])
        #expect(checked.status == 0, "\(checked.stdout)")
        let again = try vsurvey(["form", "import", "forms/xlsx/village-branch.xlsx", "--output", yaml.path, "--lang", "en"])
        #expect(again.status == 1 && again.stderr.contains("exists; use --force"), "\(again.stderr)")
        let printed = try vsurvey(["form", "import", "forms/xlsx/cascade-sample.xlsx", "--output", "-"])
        #expect(printed.stdout.contains("choice_filter: township = ${township}") || printed.stdout.contains("choice_filter: 'township = ${township}'"), "\(printed.stdout)")
        let missing = try vsurvey(["form", "import", directory.appendingPathComponent("none.xlsx").path, "--lang", "en"])
        #expect(missing.status == 1 && missing.stderr.contains("no such file"))
        // A workbook that is not one: said plainly, nothing written.
        let broken = directory.appendingPathComponent("broken.xlsx")
        try Data("not a workbook".utf8).write(to: broken)
        let refused = try vsurvey(["form", "import", broken.path, "--output", directory.appendingPathComponent("b.yaml").path, "--lang", "en"])
        #expect(refused.status == 1 && refused.stderr.contains("cannot be imported"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("b.yaml").path))
    }

    /// The test workbooks, written by openpyxl once per run.
    static func workbooks() throws -> URL {
        try Self.made.get()
    }

    static let made: Result<URL, any Error> = Result {
        let directory = try scratchDirectory("xlsforms")
        let run = try CommandRun.run(
            URL(fileURLWithPath: SpreadsheetReader.python ?? "python3"), [Fixtures.root.appendingPathComponent("Tests/Tools/xlsforms.py").path, "make", directory.path],
            in: directory)
        guard run.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: run.stderr]) }
        return directory
    }
}
