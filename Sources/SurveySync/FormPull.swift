import Foundation
import SurveyCore
import SurveyHTTP
import SurveyStore

/// What a pull brought.
public struct PullSummary: Sendable, Equatable {
    /// `id@version` of every form written (new or changed), in server order.
    public var forms: [String] = []
    /// Units in the registry file, when it was written (nil: unchanged).
    public var units: Int?

    public init() {}
}

extension SyncEngine {
    /// The file a pulled form version is kept in.
    static func formFile(_ directory: URL, id: String, version: String) -> URL {
        directory.appendingPathComponent("\(id)@\(version).yaml")
    }

    /// The pulled unit registry (the token's scope), beside the forms.
    static func unitsFile(_ directory: URL) -> URL {
        directory.appendingPathComponent("units").appendingPathComponent("server.csv")
    }

    /// Fetches the forms and the unit registry that changed on the server
    /// into `directory`: a form version whose file is missing or whose
    /// SHA-256 differs from the server's hash, and the registry when its hash
    /// (sent as `If-None-Match`) changed. Each download is checked (hash,
    /// form syntax, registry rows) before it replaces a file, and files are
    /// replaced atomically, so a broken download never hides a good form.
    /// Forms the server no longer lists are kept: surveys may use them.
    public func pull(into directory: URL) throws(SyncError) -> PullSummary {
        var summary = PullSummary()
        let list = try getJSON("/api/v1/forms")
        for entry in list["forms"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.stringValue, let version = entry["version"]?.stringValue, let hash = entry["hash"]?.stringValue,
                Self.safeFileName(id), Self.safeFileName(version)
            else { continue }
            let file = Self.formFile(directory, id: id, version: version)
            if let local = try? Data(contentsOf: file), Digests.sha256Hex(local) == hash { continue }
            let detail = try getJSON("/api/v1/forms/\(id)/\(version)")
            guard let source = detail["source"]?.stringValue else {
                throw SyncError(message: L("服务器返回的表单 \(id)@\(version) 不完整", "the server's copy of form \(id)@\(version) is incomplete"), transient: true)
            }
            let data = Data(source.utf8)
            guard Digests.sha256Hex(data) == hash else {
                throw SyncError(
                    message: L("表单 \(id)@\(version) 下载后校验不符,已丢弃", "form \(id)@\(version) did not match its hash after download; discarded"), transient: true)
            }
            do {
                let form = try FormLoader.load(data: data, file: file.lastPathComponent)
                guard form.id == id, form.version == version else {
                    throw SyncError(
                        message: L(
                            "服务器的表单 \(id)@\(version) 实际是 \(form.id)@\(form.version)",
                            "the server's form \(id)@\(version) is actually \(form.id)@\(form.version)"),
                        transient: false)
                }
            } catch let error as SyncError {
                throw error
            } catch {
                throw SyncError(
                    message: L("服务器的表单 \(id)@\(version) 无法载入:\(error)", "the server's form \(id)@\(version) does not load: \(error)"), transient: false)
            }
            try Self.replace(file, with: data)
            summary.forms.append("\(id)@\(version)")
        }

        let unitsFile = Self.unitsFile(directory)
        let knownHash = FileManager.default.fileExists(atPath: unitsFile.path) ? try? store.syncValue("units_hash") : nil
        let response = try get("/api/v1/units", ifNoneMatch: knownHash.map { "\"\($0)\"" })
        if response.status != 304 {
            guard let json = try? JSONParser().parse(response.body), let units = json["units"]?.arrayValue, let hash = json["hash"]?.stringValue else {
                throw SyncError(message: L("服务器返回的单位名录不完整", "the server's unit registry is incomplete"), transient: true)
            }
            let csv = Self.registryCSV(units)
            do {
                _ = try UnitRegistry.parse(csv, file: unitsFile.lastPathComponent)
            } catch {
                throw SyncError(message: L("服务器的单位名录有错误:\(error)", "the server's unit registry has errors: \(error)"), transient: false)
            }
            try Self.replace(unitsFile, with: Data(csv.utf8))
            do {
                try store.setSyncValue("units_hash", hash)
            } catch {
                throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
            }
            summary.units = units.count
        }
        return summary
    }

    /// The registry as CSV; a unit whose parent is outside the token's scope
    /// (the scope's own unit) is written without one.
    static func registryCSV(_ units: [JSONValue]) -> String {
        let codes = Set(units.compactMap { $0["code"]?.stringValue })
        var csv = "code,name,level,parent\n"
        for unit in units {
            let parent = unit["parent"]?.stringValue.flatMap { codes.contains($0) ? $0 : nil } ?? ""
            let fields = [unit["code"]?.stringValue ?? "", unit["name"]?.stringValue ?? "", unit["level"]?.stringValue ?? "", parent]
            csv += CSV.line(fields, ending: "\n")
        }
        return csv
    }

    /// A form id or version that can be part of a file name.
    static func safeFileName(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix(".") && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// Writes a file in full beside its final name, then renames it into place.
    static func replace(_ file: URL, with data: Data) throws(SyncError) {
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file, options: .atomic)
        } catch {
            throw SyncError(message: L("无法写入 \(file.path):\(error)", "cannot write \(file.path): \(error)"), transient: false)
        }
    }

    func get(_ path: String, ifNoneMatch: String? = nil) throws(SyncError) -> HTTPResponse {
        var headers = self.headers
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch)) }
        let response: HTTPResponse
        do {
            response = try client.send(HTTPRequest(url: settings.server + path, headers: headers))
        } catch {
            throw SyncError(message: error.message, transient: error.isTransient)
        }
        guard response.status == 200 || response.status == 304 else {
            let reason = Self.errorMessage(response) ?? "HTTP \(response.status)"
            throw SyncError(
                message: L("服务器拒绝 \(path):\(reason)", "the server refused \(path): \(reason)"),
                transient: response.status >= 500 || response.status == 429)
        }
        return response
    }

    func getJSON(_ path: String) throws(SyncError) -> JSONValue {
        let response = try get(path)
        guard let json = try? JSONParser().parse(response.body) else {
            throw SyncError(message: L("服务器对 \(path) 的答复不是 JSON", "the server's answer to \(path) is not JSON"), transient: true)
        }
        return json
    }
}
