#if canImport(Glibc)
import Glibc
#endif
import VigilCrypto
import FoundationEssentials
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
    private let sessions = Mutex(Sessions())
    /// The generation last written to the file. Held across the whole write, so writes are one at
    /// a time (they share the temporary file) and an older snapshot never replaces a newer one.
    private let written = Mutex<UInt64>(0)

    private struct Sessions {
        var byHash: [String: Session] = [:]
        /// Bumped by every change, so a writer can tell whether the file is already current.
        var generation: UInt64 = 0
    }

    public init(path: String?, ttl: Duration) {
        self.path = path
        self.ttl = ttl
        if let path, let data = FileManager.default.contents(atPath: path),
           let stored = try? JSONDecoder().decode([String: Session].self, from: data) {
            let now = WallClock.nowMs()
            sessions.withLock { $0.byHash = stored.filter { $0.value.expiresMs > now } }
        }
    }

    /// A new session; returns the id for the cookie (never stored).
    public func create(user: String, role: AuthSettings.Role) -> (id: String, expiresMs: Int64) {
        let bytes = Secrets.randomBytes(32)
        let id = Data(bytes).base64EncodedString().replacing("+", with: "-")
            .replacing("/", with: "_").replacing("=", with: "")
        let expires = WallClock.nowMs() + ttl.milliseconds
        sessions.withLock { sessions in
            let now = WallClock.nowMs()
            sessions.byHash = sessions.byHash.filter { $0.value.expiresMs > now }
            sessions.byHash[Self.hash(id)] = Session(user: user, role: role.rawValue, expiresMs: expires)
            sessions.generation += 1
        }
        save()
        return (id, expires)
    }

    /// The user and role of a live session; nil for unknown, forged or expired ids.
    public func lookup(_ id: String) -> (user: String, role: AuthSettings.Role)? {
        // A dictionary keyed by the id's hash: timing reveals nothing about the id itself.
        let now = WallClock.nowMs()
        guard let session = sessions.withLock({ $0.byHash[Self.hash(id)] }), session.expiresMs > now,
              let role = AuthSettings.Role(rawValue: session.role) else { return nil }
        return (session.user, role)
    }

    public func delete(_ id: String) {
        sessions.withLock { sessions in
            if sessions.byHash.removeValue(forKey: Self.hash(id)) != nil { sessions.generation += 1 }
        }
        save()
    }

    static func hash(_ id: String) -> String {
        Secrets.hex(Digest.sha256(Array(id.utf8)))
    }

    /// Writes the current sessions if the file does not hold them yet. Concurrent logins each
    /// call this; they take turns, and the snapshot is taken inside the turn, so the last write
    /// always carries every change before it (two writers used to share the temporary file and
    /// could persist a torn file or an older snapshot last).
    private func save() {
        guard let path else { return }
        written.withLock { written in
            let (snapshot, generation) = sessions.withLock { ($0.byHash, $0.generation) }
            guard generation > written, let data = try? JSONEncoder().encode(snapshot) else { return }
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else { return }
            // rename(2) replaces atomically (FileManager.replaceItemAt fails on Linux when the file is new).
            if rename(temporary, path) == 0 { written = generation } else { unlink(temporary) }
        }
    }
}
