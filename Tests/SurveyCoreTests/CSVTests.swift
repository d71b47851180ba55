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

@Suite("Addresses in logs and messages")
struct RedactionTests {
    @Test("user information and the values of secret query parameters are taken out; the rest is kept")
    func urls() {
        #expect(
            Redacted.url("/api/v1/reports/x?scope=130102000000&token=vst_abc&period=2026") == "/api/v1/reports/x?scope=130102000000&token=REDACTED&period=2026")
        #expect(
            Redacted.url("https://user:pw@survey.example/api?Access_Token=a&api_key=b#top")
                == "https://REDACTED@survey.example/api?Access_Token=REDACTED&api_key=REDACTED#top")
        #expect(Redacted.url("https://survey.example/x?password=p") == "https://survey.example/x?password=REDACTED")
        #expect(Redacted.url("http://127.0.0.1:8080") == "http://127.0.0.1:8080")
        #expect(Redacted.url("/health") == "/health")
        #expect(Redacted.url("/x?flag&lang=en") == "/x?flag&lang=en")
    }
}
