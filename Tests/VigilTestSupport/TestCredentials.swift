import VigilCrypto
import Foundation
import HummingbirdBcrypt

/// Credentials as a test config writes them: API tokens by their SHA-256, users by a bcrypt hash
/// at the lowest cost (a real login still runs bcrypt, only faster).
public enum TestCredentials {
    /// The `sha256:` of an `auth.tokens` entry.
    public static func tokenSHA256(_ token: String) -> String {
        Digest.sha256(Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The `password_hash:` of an `auth.users` entry.
    public static func passwordHash(_ password: String) -> String {
        Bcrypt.hash(password, cost: 4)
    }
}
