import Foundation
import SurveyCore
import SurveyHTTP
import SurveyStore

extension SyncEngine {
    /// Fetches last period's surveys of the token's units for each form and
    /// period asked (`baselinesWanted`), keeping only what changed: the
    /// server lists each unit's content hash, and the answers are fetched
    /// for the units whose hash the device does not hold; baselines of units
    /// the server no longer lists are dropped. Returns how many were fetched.
    public func pullBaselines(_ wanted: [(formID: String, period: String)]) throws(SyncError) -> Int {
        var fetched = 0
        for (formID, period) in wanted {
            let base = "/api/v1/baselines?form=\(Self.query(formID))&period=\(Self.query(period))"
            var listed: [String: String] = [:]
            var after: String?
            while true {
                let path = base + "&limit=1000" + (after.map { "&after=\($0)" } ?? "")
                // A server from before baselines has no such route.
                let probe: HTTPResponse
                do {
                    probe = try client.send(HTTPRequest(url: settings.server + path, headers: headers))
                } catch {
                    throw SyncError(message: error.message, transient: error.isTransient)
                }
                if probe.status == 404, after == nil, (try? JSONParser().parse(probe.body))?["error"]?["code"]?.stringValue != "unknown_form" {
                    return fetched
                }
                if probe.status == 404 { break }
                let json = try Self.baselineJSON(probe.status == 200 ? probe : try get(path), path)
                for item in json["baselines"]?.arrayValue ?? [] {
                    guard let unit = item["unit"]?.stringValue, let hash = item["hash"]?.stringValue else { continue }
                    listed[unit] = hash
                }
                guard let next = json["next"]?.stringValue else { break }
                after = next
            }
            let held: [String: String]
            do {
                held = try store.baselineHashes(formID: formID, period: period)
            } catch {
                throw SyncError(message: L("无法读取本机数据库:\(error)", "cannot read the local database: \(error)"), transient: false)
            }
            let needed = listed.filter { held[$0.key] != $0.value }.keys.sorted()
            let gone = held.keys.filter { listed[$0] == nil }.sorted()
            for start in stride(from: 0, to: needed.count, by: 200) {
                let part = needed[start..<min(start + 200, needed.count)]
                let json = try Self.baselineJSON(try get(base + "&units=" + part.joined(separator: ",")), base)
                var baselines: [StoredBaseline] = []
                for item in json["baselines"]?.arrayValue ?? [] {
                    guard let unit = item["unit"]?.stringValue, let instance = item["instance_id"]?.stringValue,
                        case .integer(let revision)? = item["revision"], let version = item["version"]?.stringValue,
                        let hash = item["hash"]?.stringValue, case .object(let answers)? = item["answers"]
                    else { continue }
                    baselines.append(
                        StoredBaseline(
                            formID: formID, period: period, unitCode: unit, formVersion: version, instanceID: instance, revision: revision,
                            contentHash: hash, answers: JSONValue.object(answers).serialized()))
                }
                do {
                    try store.saveBaselines(baselines, formID: formID, period: period)
                } catch {
                    throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
                }
                fetched += baselines.count
            }
            if !gone.isEmpty {
                do {
                    try store.saveBaselines([], removing: gone, formID: formID, period: period)
                } catch {
                    throw SyncError(message: L("无法写入本机数据库:\(error)", "cannot write the local database: \(error)"), transient: true)
                }
            }
        }
        return fetched
    }

    static func baselineJSON(_ response: HTTPResponse, _ path: String) throws(SyncError) -> JSONValue {
        guard let json = try? JSONParser().parse(response.body), json["baselines"]?.arrayValue != nil else {
            throw SyncError(message: L("服务器对 \(path) 的答复无法读取", "the server's answer to \(path) cannot be read"), transient: true)
        }
        return json
    }

    /// A query value with what a URL cannot carry escaped.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~@"))) ?? text
    }
}
