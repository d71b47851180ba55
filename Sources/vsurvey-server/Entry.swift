import ArgumentParser
import VSurveyServerCLI

@main
struct Entry {
    static func main() async {
        await VSurveyServer.mainLocalized()
    }
}
