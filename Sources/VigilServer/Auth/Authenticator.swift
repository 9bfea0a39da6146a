import VigilCrypto
import FoundationEssentials
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix
import Synchronization
import VigilCore

/// Who is asking: a console user (session cookie or HTTP Basic) or a machine client (API token).
public struct Principal: Sendable, Equatable {
    public enum Kind: String, Sendable { case session, token, basic }
    public let name: String
    public let role: AuthSettings.Role
    public let kind: Kind
}

/// Resolves a request's credentials to a `Principal`: the session cookie, `Authorization: Bearer`
/// (API tokens, compared by SHA-256 in constant time) or `Authorization: Basic` (bcrypt, verified
/// pairs remembered five minutes by a SHA-256 key). Credentials in the URL are refused: they end
/// up in logs and browser history.
public final class Authenticator: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        case missing
        case invalid
        case tokenInURL
        case tooManyAttempts(retryAfterSeconds: Int)
    }

    let settings: AuthSettings
    public let sessions: SessionStore
    let verified = VerifiedCredentials()
    public let limiter = LoginLimiter()
    let logger: Logger

    public init(settings: AuthSettings, sessions: SessionStore, logger: Logger) {
        self.settings = settings
        self.sessions = sessions
        self.logger = logger
    }

    public func authenticate(_ request: Request, clientAddress: String) async throws -> Result<Principal, Failure> {
        try await authenticate(headers: request.headers, query: request.uri.query, clientAddress: clientAddress)
    }

    /// The same from a request's header fields and query string (the WebSocket upgrade has no Request).
    func authenticate(headers: HTTPFields, query: String?, clientAddress: String) async throws -> Result<Principal, Failure> {
        if let query, Self.hasCredentialParameter(query) { return .failure(.tokenInURL) }
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return .failure(.invalid) }
            switch parts[0].lowercased() {
            case "bearer": return token(String(parts[1]).trimmingSpaces())
            case "basic": return try await basic(authorization, clientAddress: clientAddress)
            default: return .failure(.invalid)
            }
        }
        if let id = Self.cookie(SessionStore.cookieName, in: headers) {
            guard let (user, role) = sessions.lookup(id) else { return .failure(.invalid) }
            return .success(Principal(name: user, role: role, kind: .session))
        }
        return .failure(.missing)
    }

    func token(_ presented: String) -> Result<Principal, Failure> {
        let digest = Digest.sha256(Array(presented.utf8))
        var match: AuthSettings.Token?
        for token in settings.tokens where Self.constantTimeEqual(token.sha256, digest) { match = token }
        guard let match else { return .failure(.invalid) }
        return .success(Principal(name: match.name, role: match.role, kind: .token))
    }

    func basic(_ header: String, clientAddress: String) async throws -> Result<Principal, Failure> {
        guard let (name, password) = BasicCredentials.parse(header) else { return .failure(.invalid) }
        switch try await checkPassword(user: name, password: password, clientAddress: clientAddress) {
        case .success(let role): return .success(Principal(name: name, role: role, kind: .basic))
        case .failure(let failure): return .failure(failure)
        }
    }

    /// Checks a user's password (login and Basic), with the brute-force limiter.
    public func checkPassword(user name: String, password: String, clientAddress: String) async throws
        -> Result<AuthSettings.Role, Failure> {
        if let wait = limiter.retryAfter(address: clientAddress, user: name) { return .failure(.tooManyAttempts(retryAfterSeconds: wait)) }
        guard let user = settings.users.first(where: { $0.name == name }), !user.passwordHash.isEmpty else {
            // Same cost as a real check, so user names cannot be probed by timing.
            _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: Self.dummyHash) }
            limiter.failed(address: clientAddress, user: name)
            logger.warning("login failed", metadata: ["user": "\(name)", "client": "\(clientAddress)"])
            return .failure(.invalid)
        }
        let key = VerifiedCredentials.key(name: name, password: password, hash: user.passwordHash)
        if verified.contains(key) { return .success(user.role) }
        let hash = user.passwordHash
        let ok = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        guard ok else {
            limiter.failed(address: clientAddress, user: name)
            logger.warning("login failed", metadata: ["user": "\(name)", "client": "\(clientAddress)"])
            return .failure(.invalid)
        }
        verified.insert(key)
        return .success(user.role)
    }

    static let dummyHash = Bcrypt.hash("not a password", cost: 10)

    static func hasCredentialParameter(_ query: String) -> Bool {
        query.split(separator: "&").contains { item in
            let name = item.split(separator: "=", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            return ["token", "access_token", "api_key", "apikey", "session", SessionStore.cookieName, "password"].contains(name)
        }
    }

    static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces() == name {
                    return pair[1].trimmingSpaces()
                }
            }
        }
        return nil
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// Brute-force protection for passwords: at most 5 failures per client address and per user name
/// in 5 minutes; past that, 429 with Retry-After until the oldest failure ages out.
public final class LoginLimiter: Sendable {
    let limit = 5
    let window: Duration = .seconds(300)
    private let failures = Mutex([String: [ContinuousClock.Instant]]())

    func retryAfter(address: String, user: String) -> Int? {
        let now = ContinuousClock.now
        return failures.withLock { failures -> Int? in
            var wait: Duration?
            for key in ["addr:" + address, "user:" + user] {
                let recent = (failures[key] ?? []).filter { now - $0 < window }
                failures[key] = recent
                if recent.count >= limit, let oldest = recent.first {
                    let remaining = window - (now - oldest)
                    wait = max(wait ?? .zero, remaining)
                }
            }
            return wait.map { Int(($0.components.seconds)) + 1 }  // checked: a lockout of minutes, Int64 to Int
        }
    }

    func failed(address: String, user: String) {
        failures.withLock { failures in
            if failures.count > 10_000 { failures.removeAll() }
            for key in ["addr:" + address, "user:" + user] { failures[key, default: []].append(.now) }
        }
    }
}
