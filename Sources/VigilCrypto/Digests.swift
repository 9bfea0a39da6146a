import COpenSSL

/// The hashes and the MAC Vigil needs (SHA-1 for the WebSocket handshake only, SHA-256 for token
/// and session digests and certificate fingerprints, HMAC-SHA256 for webhook signatures), from
/// the system's libcrypto: the same library the TLS listener already links, so security fixes
/// arrive with the distribution and no second crypto library ships inside the binary.
public enum Digest {
    public static func sha256<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        digest(bytes, EVP_sha256(), size: 32)
    }

    /// SHA-1: only where a protocol requires it (RFC 6455's `Sec-WebSocket-Accept`); never for secrets.
    public static func sha1<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        digest(bytes, EVP_sha1(), size: 20)
    }

    /// HMAC-SHA256 of `message` under `key` (RFC 2104).
    public static func hmacSHA256<Key: Collection, Message: Collection>(key: Key, message: Message) -> [UInt8]
    where Key.Element == UInt8, Message.Element == UInt8 {
        let key = Array(key), message = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let done = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),  // checked: keys are short secrets from the config
                     messageBytes.bindMemory(to: UInt8.self).baseAddress, messageBytes.count, &out, &length)
            }
        }
        precondition(done != nil && length == 32, "HMAC-SHA256 failed: libcrypto is out of memory")
        return out
    }

    private static func digest<Bytes: Collection>(_ bytes: Bytes, _ method: OpaquePointer?, size: Int) -> [UInt8]
    where Bytes.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        let done = Array(bytes).withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &out, &length, method, nil)
        }
        // EVP_Digest fails only when it cannot allocate its context; there is nothing to recover.
        precondition(done == 1 && Int(length) == size, "EVP_Digest failed: libcrypto is out of memory")  // checked: 20 or 32
        return out
    }
}
