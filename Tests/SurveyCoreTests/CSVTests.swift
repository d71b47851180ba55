import SurveyCore
import Testing

@Suite("CSV fields and spreadsheet cells")
struct CSVTests {
    @Test("a field is quoted when it holds a comma, a quote or any line break, Windows' included")
    func quoting() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        // "\r\n" is one Character in Swift: a check by Character misses it.
        #expect(CSV.field("two\r\nlines") == "\"two\r\nlines\"")
        #expect(CSV.line(["a", "b,c"]) == "a,\"b,c\"\r\n")
    }

    @Test("text a spreadsheet would run as a formula is written as text")
    func formulas() {
        for text in ["=HYPERLINK(\"http://evil.example/\",\"click\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            #expect(CSV.text(text) == "'" + text, "\(text)")
        }
        #expect(CSV.text("东关村") == "东关村")
        #expect(CSV.text("") == "")
    }
}
