import Crypto

/// SHA-256 digests (swift-crypto): the content hashes of forms and surveys,
/// token hashes, the copy's checksums.
public enum Digests {
    /// The digest of `input` as 64 lowercase hex digits.
    public static func sha256Hex<Bytes: Sequence>(_ input: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in sha256(input) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The 32 bytes of the digest of `input`.
    public static func sha256<Bytes: Sequence>(_ input: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let digest: SHA256.Digest
        if let bytes = input as? [UInt8] {
            digest = SHA256.hash(data: bytes)
        } else {
            digest = SHA256.hash(data: Array(input))
        }
        return Array(digest)
    }
}
