import ArgumentParser
import Foundation
import SurveyCore
import SurveyStore

/// Where the device's survey database lives.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp("数据目录 / Data directory (also VSURVEY_HOME; default $XDG_DATA_HOME/vsurvey or ~/.local/share/vsurvey)", valueName: "dir"))
    var dataDirectory: String?

    func directory(_ environment: [String: String]) -> URL {
        SurveyStore.dataDirectory(explicit: dataDirectory, environment: environment)
    }

    /// Opens the store, or stops with a message saying what is wrong.
    func open(_ console: Console, environment: [String: String]) throws -> SurveyStore {
        do {
            return try SurveyStore(directory: directory(environment))
        } catch let error as StoreError {
            console.error(error.message)
            throw ExitCode.failure
        }
    }
}

/// Runs a store operation, turning its errors into a message and exit 1.
func storeStep<T>(_ console: Console, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StoreError {
        console.error(error.message)
        throw ExitCode.failure
    }
}

extension Console {
    /// `130102001203 东关村`, or the code alone when the registry does not know it.
    func unitName(_ code: String, _ registry: UnitRegistry?) -> String {
        guard let unit = UnitCode(code), let known = registry?.unit(unit) else { return code }
        return "\(code) \(known.name)"
    }
}
