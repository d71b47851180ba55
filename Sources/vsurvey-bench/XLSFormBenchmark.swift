import Foundation
import SurveyCore
import SurveySpreadsheet
import SurveyXLSForm

/// `vsurvey-bench xlsform [--questions N] [--rounds R]`: a generated XLSForm
/// with N questions (default 2,000) in groups, with choice lists, relevance,
/// constraints, calculations and a cascading select, written as .xlsx and
/// imported R times (default 5): the workbook read, the YAML written and
/// loaded. Prints each round and the median.
enum XLSFormBenchmark {
    static func run(questions: Int, rounds: Int) throws {
        let data = try XLSXWriter.data(sheets(questions: questions))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vsurvey-bench-\(UUID().uuidString).xlsx")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        print("xlsform: \(questions) questions, workbook \(data.count / 1024) KiB")
        var times: [Double] = []
        for round in 1...rounds {
            let started = DispatchTime.now()
            let imported = try XLSFormImporter.convert(workbook: file)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            times.append(seconds)
            let asked = imported.form.fields.filter(\.takesAnswer).count
            // Where the time goes: the workbook read, then the YAML loaded alone.
            let readStart = DispatchTime.now()
            _ = try XLSXReader.read(file)
            let read = Double(DispatchTime.now().uptimeNanoseconds - readStart.uptimeNanoseconds) / 1e9
            let loadStart = DispatchTime.now()
            _ = try FormLoader.load(data: Data(imported.yaml.utf8), file: "bench.yaml")
            let load = Double(DispatchTime.now().uptimeNanoseconds - loadStart.uptimeNanoseconds) / 1e9
            print(
                String(
                    format: "round %d: %.3f s (%d fields, %d questions, YAML %d KiB); of which reading the workbook %.3f s, loading the YAML %.3f s",
                    round, seconds, imported.form.fields.count, asked, imported.yaml.utf8.count / 1024, read, load))
        }
        let median = times.sorted()[times.count / 2]
        print(String(format: "median import: %.3f s for %d questions (target < 2 s)", median, questions))
    }

    /// The sheets: one group per 50 questions; integers with limits and
    /// constraints on the one before, selects, text, dates, a calculation
    /// per group.
    static func sheets(questions: Int) -> [Sheet] {
        let header = ["type", "name", "label::Chinese (zh)", "label::English (en)", "hint::Chinese (zh)", "required", "relevant", "constraint",
            "constraint_message::Chinese (zh)", "calculation", "choice_filter"]
        var rows: [[SheetCell]] = []
        func row(_ values: [String]) { rows.append(values.map { $0.isEmpty ? .empty : .text($0) }) }
        var previous = ""
        var made = 0
        var group = 0
        row(["select_one area", "area", "片区", "Area", "", "yes", "", "", "", "", ""])
        row(["select_one place", "place", "地点", "Place", "", "yes", "", "", "", "", "area = ${area}"])
        made = 2
        while made < questions {
            group += 1
            row(["begin group", "g\(group)", "第 \(group) 部分", "Part \(group)", "", "", group > 1 ? "${q\(made - 1)} != ''" : "", "", "", "", ""])
            var inGroup: [String] = []
            for _ in 0..<50 where made < questions {
                made += 1
                let name = "q\(made)"
                switch made % 5 {
                case 0: row(["select_one level", name, "第 \(made) 题 等级", "Question \(made), level", "", "yes", "", "", "", "", ""])
                case 1: row(["text", name, "第 \(made) 题 说明", "Question \(made), notes", "", "", previous.isEmpty ? "" : "${\(previous)} > 0", "string-length(.) <= 200", "不超过 200 字", "", ""])
                case 2: row(["date", name, "第 \(made) 题 日期", "Question \(made), date", "YYYY-MM-DD", "", "", ". <= today()", "不能晚于今天", "", ""])
                default:
                    row(["integer", name, "第 \(made) 题 人数", "Question \(made), persons", "单位:人", "yes", "", previous.isEmpty ? ". >= 0" : ". >= 0 and . <= ${\(previous)} + 1000", "人数不合理", "", ""])
                    inGroup.append(name)
                    previous = name
                }
            }
            if !inGroup.isEmpty {
                row(["calculate", "g\(group)_sum", "", "", "", "", "", "", "", inGroup.map { "${\($0)}" }.joined(separator: " + "), ""])
            }
            row(["end group", "", "", "", "", "", "", "", "", "", ""])
        }
        var choices: [[SheetCell]] = []
        for (index, (zh, en)) in [("优", "good"), ("良", "fair"), ("中", "average"), ("差", "poor")].enumerated() {
            choices.append([.text("level"), .text("l\(index + 1)"), .text(zh), .text(en), .empty])
        }
        for area in 1...20 {
            choices.append([.text("area"), .text("a\(area)"), .text("片区 \(area)"), .text("Area \(area)"), .empty])
            for place in 1...10 {
                choices.append([.text("place"), .text("a\(area)p\(place)"), .text("地点 \(area)-\(place)"), .text("Place \(area)-\(place)"), .text("a\(area)")])
            }
        }
        return [
            Sheet(name: "survey", header: header, rows: rows),
            Sheet(name: "choices", header: ["list_name", "name", "label::Chinese (zh)", "label::English (en)", "area"], rows: choices),
            Sheet(name: "settings", header: ["form_id", "version", "form_title"], rows: [[.text("bench-large"), .text("1"), .text("大表单")]]),
        ]
    }
}
