import VigilCrypto
import FoundationEssentials
import HTTPTypes
import Hummingbird
import Synchronization
import VigilCore

/// Every `/api/v1/` route except login needs a principal (session cookie, API token or HTTP
/// Basic) with at least `minimum` role; the principal is resolved by `Authenticator`.
struct RequireRole<Context: PrincipalRequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    let authenticator: Authenticator
    let minimum: AuthSettings.Role

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        switch try await authenticator.authenticate(request, clientAddress: address) {
        case .success(let principal):
            guard principal.role >= minimum else {
                return APIErrors.response(.forbidden, "forbidden", "the \(principal.role.rawValue) role may not do this")
            }
            var context = context
            context.principal = principal
            return try await next(request, context)
        case .failure(let failure):
            return APIErrors.response(for: failure, request: request)
        }
    }
}

enum APIErrors {
    static func response(_ status: HTTPResponse.Status, _ type: String, _ message: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: QueryJSON.error(type, message))))
    }

    struct Answer {
        let status: HTTPResponse.Status
        let type: String
        let message: String
        var headers: HTTPFields = [:]
        var response: Response { APIErrors.response(status, type, message, headers: headers) }
        var body: String { QueryJSON.error(type, message) }
    }

    static func response(for failure: Authenticator.Failure) -> Response { answer(for: failure).response }

    /// The same, without the Basic challenge for a script's fetch (`Sec-Fetch-Mode` other than
    /// `navigate`): a browser answers a challenge with its own password dialog, which would stall
    /// the console's request instead of letting it show its login page.
    static func response(for failure: Authenticator.Failure, request: Request) -> Response {
        var answer = answer(for: failure)
        if let mode = request.headers[HTTPField.Name("Sec-Fetch-Mode")!], mode != "navigate" {
            answer.headers[.wwwAuthenticate] = nil
        }
        return answer.response
    }

    static func answer(for failure: Authenticator.Failure) -> Answer {
        let challenge: HTTPFields = [.wwwAuthenticate: "Basic realm=\"vigil\", charset=\"UTF-8\""]
        switch failure {
        case .missing:
            return Answer(status: .unauthorized, type: "unauthorized",
                          message: "log in (POST /api/v1/login), or send an API token or HTTP Basic credentials", headers: challenge)
        case .invalid:
            return Answer(status: .unauthorized, type: "unauthorized", message: "wrong user name, password, token or session",
                          headers: challenge)
        case .tokenInURL:
            return Answer(status: .badRequest, type: "bad_data",
                          message: "credentials in the URL are refused: send them in the Authorization header")
        case .tooManyAttempts(let seconds):
            return Answer(status: .tooManyRequests, type: "too_many_requests",
                          message: "too many failed logins; try again in \(seconds) s", headers: [.retryAfter: "\(seconds)"])
        }
    }
}

/// HTTP Basic's `user:password`.
enum BasicCredentials {
    static func parse(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
              let data = Data(base64Encoded: String(parts[1]).trimmingSpaces()),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// Credentials verified recently (SHA-256 keys, never the passwords), for five minutes: bcrypt
/// costs tens of milliseconds on purpose, and a polling client should not pay it every time.
final class VerifiedCredentials: Sendable {
    private let entries = Mutex([String: ContinuousClock.Instant]())
    let lifetime: Duration = .seconds(300)

    static func key(name: String, password: String, hash: String) -> String {
        let digest = Digest.sha256(Array("\(name)\u{0}\(password)\u{0}\(hash)".utf8))
        return Secrets.hex(digest)
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
