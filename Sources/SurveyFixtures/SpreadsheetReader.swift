import Foundation
import SurveyCore

/// A Python with openpyxl, when `VSURVEY_TEST_PYTHON` names it (`.ci/run`
/// installs one in a virtual environment; `VSURVEY_TEST_REQUIRE_PYTHON=1`
/// makes its absence a failure): how the tests open workbooks as a
/// spreadsheet user's program would.
public enum SpreadsheetReader {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    public static var python: String? { environment["VSURVEY_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } }
    public static var wanted: Bool { python != nil || environment["VSURVEY_TEST_REQUIRE_PYTHON"] == "1" }

    /// The workbook as openpyxl reads it: sheets, each with its title, frozen
    /// pane, header boldness and rows of (value, type).
    public static func read(_ path: String) throws -> JSONValue {
        guard let python else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "VSURVEY_TEST_REQUIRE_PYTHON=1 but VSURVEY_TEST_PYTHON is not set"])
        }
        let run = try CommandRun.run(
            URL(fileURLWithPath: python), [Fixtures.root.appendingPathComponent("Tests/Tools/read_xlsx.py").path, path], in: Fixtures.root)
        guard run.status == 0 else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "openpyxl: \(run.stderr)"]) }
        return try JSONParser().parse(run.stdout)
    }
}
