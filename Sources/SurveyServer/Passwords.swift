import Crypto
import Foundation
import SurveyCore
import _CryptoExtras

/// People's passwords, kept only as scrypt hashes (swift-crypto's
/// `KDF.Scrypt`, a slow standard KDF): `scrypt$N$r$p$salt$hash`, salt and
/// hash in base64. Checking one takes tens of milliseconds and 16 MiB, which
/// makes guessing slow and costs a sign-in little.
public enum PasswordHash {
    static let rounds = 1 << 14
    static let blockSize = 8
    static let parallelism = 1

    /// The hash to keep for a password, with a new random salt.
    public static func make(_ password: String) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(password, salt: salt, rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        return "scrypt$\(rounds)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$\(key.base64EncodedString())"
    }

    /// Whether `password` is the one `stored` was made from; false for a
    /// stored value that is not such a hash.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let rounds = Int(parts[1]), let blockSize = Int(parts[2]), let parallelism = Int(parts[3]),
            (1 << 10...1 << 20).contains(rounds), (1...32).contains(blockSize), (1...16).contains(parallelism),
            let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]), !expected.isEmpty,
            let key = try? derive(password, salt: Array(salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism, length: expected.count)
        else { return false }
        // Compared in constant time.
        return zip(key, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0 && key.count == expected.count
    }

    static func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int, length: Int = 32) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: length, rounds: rounds, blockSize: blockSize, parallelism: parallelism,
            maxMemory: 64 << 20)
        return key.withUnsafeBytes { Data($0) }
    }

    /// Why a new password is refused, if it is.
    public static func problem(_ password: String) -> LocalizedText? {
        if password.count < 10 { return L("密码至少 10 个字符", "a password needs at least 10 characters") }
        if password.trimmingCharacters(in: .whitespaces) != password {
            return L("密码不能以空格开头或结尾", "a password cannot start or end with a space")
        }
        return nil
    }
}
