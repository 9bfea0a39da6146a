#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Synchronization
import VigilCore

/// Browser sessions: a random 256-bit id in an HttpOnly cookie, and on the server only its
/// SHA-256, the user, the role and the expiry. Persisted to `data_dir/sessions.json` (hashes only:
/// the file does not let anyone log in) so a restart does not log everyone out.
public final class SessionStore: Sendable {
    struct Session: Codable, Sendable {
        var user: String
        var role: String
        var expiresMs: Int64
    }

    public static let cookieName = "vigil_session"
    let path: String?
    let ttl: Duration
    private let sessions = Mutex([String: Session]())

    public init(path: String?, ttl: Duration) {
        self.path = path
        self.ttl = ttl
        if let path, let data = FileManager.default.contents(atPath: path),
           let stored = try? JSONDecoder().decode([String: Session].self, from: data) {
            let now = WallClock.nowMs()
            sessions.withLock { $0 = stored.filter { $0.value.expiresMs > now } }
        }
    }

    /// A new session; returns the id for the cookie (never stored).
    public func create(user: String, role: AuthSettings.Role) -> (id: String, expiresMs: Int64) {
        let bytes = Secrets.randomBytes(32)
        let id = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let expires = WallClock.nowMs() + ttl.milliseconds
        sessions.withLock { sessions in
            let now = WallClock.nowMs()
            sessions = sessions.filter { $0.value.expiresMs > now }
            sessions[Self.hash(id)] = Session(user: user, role: role.rawValue, expiresMs: expires)
        }
        save()
        return (id, expires)
    }

    /// The user and role of a live session; nil for unknown, forged or expired ids.
    public func lookup(_ id: String) -> (user: String, role: AuthSettings.Role)? {
        // A dictionary keyed by the id's hash: timing reveals nothing about the id itself.
        let now = WallClock.nowMs()
        guard let session = sessions.withLock({ $0[Self.hash(id)] }), session.expiresMs > now,
              let role = AuthSettings.Role(rawValue: session.role) else { return nil }
        return (session.user, role)
    }

    public func delete(_ id: String) {
        sessions.withLock { _ = $0.removeValue(forKey: Self.hash(id)) }
        save()
    }

    static func hash(_ id: String) -> String {
        Secrets.hex(SHA256.hash(data: Data(id.utf8)))
    }

    private func save() {
        guard let path else { return }
        let snapshot = sessions.withLock { $0 }
        guard let data = try? JSONEncoder().encode(snapshot) else { return }
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        // rename(2) replaces atomically (FileManager.replaceItemAt fails on Linux when the file is new).
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}
