import VigilConfig

/// The `auth:` section: console users (bcrypt hashes made by `vigil passwd`) and session lifetime.
/// There are no default users and no default passwords.
public struct AuthSettings: Sendable {
    public enum Role: String, Sendable, CaseIterable, Comparable {
        case viewer, `operator`, admin

        public static func < (a: Role, b: Role) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public struct User: Sendable, CustomStringConvertible {
        public var name: String
        /// Empty when the user exists but has no password yet (login disabled).
        public var passwordHash: String
        public var role: Role
        /// Never prints the hash.
        public var description: String { "\(name) (\(role.rawValue))" }
    }

    /// A machine client's token: only its SHA-256 is in the config (`vigil passwd --token`).
    public struct Token: Sendable, CustomStringConvertible {
        public var name: String
        public var sha256: [UInt8]
        public var role: Role
        public var description: String { "token \(name) (\(role.rawValue))" }
    }

    public var users: [User]
    public var tokens: [Token] = []
    public var sessionTTL: Duration

    static func decode(_ object: ConfigObject) throws(ConfigError) -> AuthSettings {
        var users: [User] = []
        for entry in try object.objects("users") {
            let name = try entry.requiredString("name")
            if users.contains(where: { $0.name == name }) {
                throw ConfigError("\(entry.path).name: user '\(name)' is defined twice", at: entry.location(of: "name"))
            }
            let hash = try entry.string("password_hash", default: "")
            if hash.isEmpty {
                entry.warn("user '\(name)' has no password_hash: this user cannot log in (make one with `vigil passwd`)",
                           at: entry.location(of: "password_hash"))
            } else if !isBcryptHash(hash) {
                throw ConfigError(
                    "\(entry.qualified("password_hash")): not a bcrypt hash (expected $2b$NN$… as printed by `vigil passwd`)",
                    at: entry.location(of: "password_hash"))
            }
            let role = try entry.choice("role", from: Role.allCases.map(\.rawValue), default: "viewer")
            users.append(User(name: name, passwordHash: hash, role: Role(rawValue: role) ?? .viewer))
            try entry.finish()
        }
        var tokens: [Token] = []
        for entry in try object.objects("tokens") {
            let name = try entry.requiredString("name")
            let hex = try entry.requiredString("sha256")
            guard let digest = hexBytes(hex), digest.count == 32 else {
                throw ConfigError("\(entry.qualified("sha256")): expected the 64 hex digits printed by `vigil passwd --token`",
                                  at: entry.location(of: "sha256"))
            }
            let role = try entry.choice("role", from: Role.allCases.map(\.rawValue), default: "viewer")
            tokens.append(Token(name: name, sha256: digest, role: Role(rawValue: role) ?? .viewer))
            try entry.finish()
        }
        let ttl = try object.duration("session_ttl", default: .seconds(12 * 3600))
        guard ttl >= .seconds(60) else {
            throw ConfigError("auth.session_ttl: must be at least 1m", at: object.location(of: "session_ttl"))
        }
        try object.finish()
        return AuthSettings(users: users, tokens: tokens, sessionTTL: ttl)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.lowercased().utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }

    /// `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 53 characters of bcrypt's base64.
    static func isBcryptHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
              [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
              bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$"),
              let cost = Int(String(decoding: bytes[4...5], as: UTF8.self)), (4...31).contains(cost)
        else { return false }
        return bytes[7...].allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/")
        }
    }
}
