import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix
import Synchronization
import VigilCore

/// HTTP Basic authentication against the configured users (`auth.users`), for the API.
///
/// bcrypt is slow on purpose (tens of milliseconds at cost 10), so a verified user and password
/// are remembered for a few minutes, keyed by a SHA-256 of the pair and the stored hash: a
/// dashboard polling every few seconds does not pay bcrypt each time, and a changed password in
/// the config invalidates the entry. Verification runs on the blocking thread pool.
struct APIAuthenticator<Context: RequestContext>: RouterMiddleware {
    let users: [AuthSettings.User]
    let cache: VerifiedCredentials
    let logger: Logger
    let rateLimiter = RateLimiter(burst: 5, window: .seconds(60))

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], let (name, password) = Self.basicCredentials(header) else {
            return Self.unauthorized("authentication required: HTTP Basic with a user from auth.users")
        }
        guard let user = users.first(where: { $0.name == name }), !user.passwordHash.isEmpty else {
            reject(name)
            return Self.unauthorized("wrong user name or password")
        }
        let key = VerifiedCredentials.key(name: name, password: password, hash: user.passwordHash)
        if !cache.contains(key) {
            let hash = user.passwordHash
            let ok = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
            guard ok else {
                reject(name)
                return Self.unauthorized("wrong user name or password")
            }
            cache.insert(key)
        }
        return try await next(request, context)
    }

    private func reject(_ name: String) {
        let decision = rateLimiter.check("reject")
        if decision.emit {
            // The user name is logged (it is not a secret); the password never is.
            logger.warning("API authentication failed", metadata: ["user": "\(name)", "suppressed_since_last": "\(decision.suppressed)"])
        }
    }

    static func basicCredentials(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func unauthorized(_ message: String) -> Response {
        Response(status: .unauthorized,
                 headers: [.contentType: "application/json", .wwwAuthenticate: "Basic realm=\"vigil\", charset=\"UTF-8\""],
                 body: .init(byteBuffer: ByteBuffer(string: QueryJSON.error("unauthorized", message))))
    }
}

/// Credentials verified recently (SHA-256 keys, never the passwords), for five minutes.
final class VerifiedCredentials: Sendable {
    private let entries = Mutex([String: ContinuousClock.Instant]())
    let lifetime: Duration = .seconds(300)

    static func key(name: String, password: String, hash: String) -> String {
        let digest = SHA256.hash(data: Data("\(name)\u{0}\(password)\u{0}\(hash)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    func contains(_ key: String) -> Bool {
        entries.withLock { entries in
            guard let expiry = entries[key] else { return false }
            if expiry < .now { entries[key] = nil; return false }
            return true
        }
    }

    func insert(_ key: String) {
        entries.withLock { entries in
            if entries.count > 1000 { entries = entries.filter { $0.value > .now } }
            entries[key] = .now + lifetime
        }
    }
}
