/// One survey as it travels from a device to the server: the envelope of
/// `Submission` plus the identity and revision that make sending it again
/// harmless. The server refuses anything that does not have exactly this
/// shape.
public struct WireSurvey: Sendable, Equatable {
    /// A UUID made on the device, shared by all revisions of the survey.
    public var instanceID: String
    /// 1 for the first sending; an edit after sending makes the next number.
    public var revision: Int
    /// The revision this one replaces, if it is an edit.
    public var replaces: Int?
    public var formID: String
    public var formVersion: String
    public var unit: String
    public var period: String
    public var answers: JSONObject
    /// When the device finalized it (ISO 8601), if it says.
    public var finalizedAt: String?
    /// The person's confirmations of answers that soft checks doubted.
    public var confirmations: [WarningConfirmation] = []

    public static let keys: [String] = [
        "instance_id", "revision", "replaces", "form", "version", "unit", "period", "answers", "finalized_at", "confirmations",
    ]
    public static let largestRevision = 1_000_000

    public init(
        instanceID: String, revision: Int, replaces: Int? = nil, formID: String, formVersion: String, unit: String, period: String,
        answers: JSONObject, finalizedAt: String? = nil
    ) {
        self.instanceID = instanceID
        self.revision = revision
        self.replaces = replaces
        self.formID = formID
        self.formVersion = formVersion
        self.unit = unit
        self.period = period
        self.answers = answers
        self.finalizedAt = finalizedAt
    }

    /// Reads one survey of a batch; every problem with its shape comes back
    /// as an `envelope` issue naming the key.
    public static func read(_ value: JSONValue) -> Result<WireSurvey, EnvelopeProblems> {
        guard case .object(let object) = value else {
            return .failure(
                EnvelopeProblems(issues: [
                    issue("", L("每份调查应为 JSON 对象,而不是\(value.typeName)", "each survey must be a JSON object, not \(value.typeNameWithArticle)"))
                ]))
        }
        var issues: [ValidationIssue] = []
        for key in object.keys where !keys.contains(key) {
            issues.append(issue(key, L("未知的键 “\(key)”(可用:\(keys.joined(separator: "、")))", "unknown key '\(key)' (use \(keys.joined(separator: ", ")))")))
        }
        func text(_ key: String, required: Bool = true, limit: Int = 64) -> String? {
            switch object[key] {
            case .string(let value)?:
                if value.isEmpty || value.utf8.count > limit {
                    issues.append(issue(key, L("\(key) 应为 1 至 \(limit) 个字节的文字", "\(key) must be text of 1 to \(limit) bytes")))
                    return nil
                }
                return value
            case nil, .null?:
                if required { issues.append(issue(key, L("缺少 \(key)", "\(key) is missing"))) }
                return nil
            case let other?:
                issues.append(issue(key, L("\(key) 应为文字,而不是\(other.typeName)", "\(key) must be a string, not \(other.typeNameWithArticle)")))
                return nil
            }
        }
        func number(_ key: String, required: Bool) -> Int? {
            switch object[key] {
            case .integer(let value)? where (1...largestRevision).contains(value): return value
            case nil, .null?:
                if required { issues.append(issue(key, L("缺少 \(key)", "\(key) is missing"))) }
                return nil
            default:
                issues.append(issue(key, L("\(key) 应为 1 至 \(largestRevision) 的整数", "\(key) must be a whole number from 1 to \(largestRevision)")))
                return nil
            }
        }
        let instanceID = text("instance_id")
        if let instanceID, !isUUID(instanceID) {
            issues.append(issue("instance_id", L("instance_id “\(instanceID)” 不是 UUID", "instance_id '\(instanceID)' is not a UUID")))
        }
        let revision = number("revision", required: true)
        let replaces = number("replaces", required: false)
        if let revision, let replaces, replaces >= revision {
            issues.append(issue("replaces", L("replaces 应小于 revision(\(revision))", "replaces must be less than revision (\(revision))")))
        }
        let formID = text("form")
        let formVersion = text("version")
        let unit = text("unit")
        let period = text("period")
        let finalizedAt = text("finalized_at", required: false)
        var answers: JSONObject?
        switch object["answers"] {
        case .object(let value)?: answers = value
        case nil: issues.append(issue("answers", L("缺少 answers", "answers is missing")))
        case let other?: issues.append(issue("answers", L("answers 应为对象,而不是\(other.typeName)", "answers must be an object, not \(other.typeNameWithArticle)")))
        }
        var confirmations: [WarningConfirmation] = []
        if let list = object["confirmations"], list != .null {
            switch WarningConfirmation.read(list) {
            case .success(let read): confirmations = read
            case .failure(let message): issues.append(issue("confirmations", message))
            }
        }
        guard issues.isEmpty, let instanceID, let revision, let formID, let formVersion, let unit, let period, let answers else {
            return .failure(EnvelopeProblems(issues: issues))
        }
        var survey = WireSurvey(
            instanceID: instanceID.lowercased(), revision: revision, replaces: replaces, formID: formID, formVersion: formVersion, unit: unit,
            period: period, answers: answers, finalizedAt: finalizedAt)
        survey.confirmations = confirmations
        return .success(survey)
    }

    private static func issue(_ key: String, _ message: LocalizedText) -> ValidationIssue {
        ValidationIssue(path: key, field: key, code: .envelope, message: message)
    }

    /// 8-4-4-4-12 hexadecimal digits.
    public static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (offset, byte) in bytes.enumerated() {
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                if byte != UInt8(ascii: "-") { return false }
            } else if !((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte))
            {
                return false
            }
        }
        return true
    }

    /// The survey as JSON, in the order of `keys`.
    public var json: JSONValue {
        var object = JSONObject(minimumCapacity: 9)
        object.appendUnique("instance_id", .string(instanceID))
        object.appendUnique("revision", .integer(revision))
        if let replaces { object.appendUnique("replaces", .integer(replaces)) }
        object.appendUnique("form", .string(formID))
        object.appendUnique("version", .string(formVersion))
        object.appendUnique("unit", .string(unit))
        object.appendUnique("period", .string(period))
        object.appendUnique("answers", .object(answers))
        if let finalizedAt { object.appendUnique("finalized_at", .string(finalizedAt)) }
        if !confirmations.isEmpty { object.appendUnique("confirmations", WarningConfirmation.json(confirmations)) }
        return .object(object)
    }

    /// SHA-256 of a survey as it is kept: form, version, unit, period and
    /// the checked answers as validation puts them out (`kept`: the form's
    /// order, values dropped where a question is not asked, calculations
    /// recomputed). The same content sent in any key order has one hash, and
    /// a device that checks with the same engine computes the same one.
    public static func contentHash(formID: String, formVersion: String, unit: String, period: String, kept: [UInt8]) -> String {
        var input: [UInt8] = []
        input.reserveCapacity(kept.count + 64)
        for part in [formID, formVersion, unit, period] {
            input.append(contentsOf: part.utf8)
            input.append(10)
        }
        input.append(contentsOf: kept)
        return Digests.sha256Hex(input)
    }
}

/// What is wrong with a survey's envelope, key by key.
public struct EnvelopeProblems: Error, Sendable {
    public var issues: [ValidationIssue]
}
