import FoundationEssentials
import HTTPTypes
import Hummingbird
import VigilCore

/// `POST /api/v1/login` (JSON `{"username","password"}` or a form), `POST /api/v1/logout` and
/// `GET /api/v1/session` (who am I). The session id travels only in an HttpOnly, Secure,
/// SameSite=Strict cookie.
enum LoginRoutes {
    /// `consoleTree`: the labels of the console's navigation tree (`http.console_tree`), told to the
    /// console with the session.
    static func add(to router: Router<VigilRequestContext>, authenticator: Authenticator, secureCookies: Bool,
                    consoleTree: [String] = ["site", "device"]) {
        let tree = "[" + consoleTree.map { "\"\(JSONText.escape($0))\"" }.joined(separator: ",") + "]"
        router.post("/api/v1/login") { request, context in
            let body = try await request.body.collect(upTo: 16 * 1024)
            var username = "", password = ""
            let type = request.headers[.contentType] ?? ""
            if type.hasPrefix("application/json") {
                let credentials = try RequestBody.decode(Credentials.self, from: body)
                username = credentials.username ?? ""
                password = credentials.password ?? ""
            } else {
                let form = QueryRoutes.Form(pairs: QueryRoutes.formPairs(String(buffer: body)))
                username = form.first("username") ?? ""
                password = form.first("password") ?? ""
            }
            guard !username.isEmpty, !password.isEmpty else {
                return APIErrors.response(.badRequest, "bad_data", "username and password are required")
            }
            switch try await authenticator.checkPassword(user: username, password: password, clientAddress: context.clientAddress) {
            case .failure(let failure):
                return APIErrors.response(for: failure == .invalid ? .invalid : failure, request: request)
            case .success(let role):
                let (id, expires) = authenticator.sessions.create(user: username, role: role)
                let maxAge = max(0, (expires - Int64(Date().timeIntervalSince1970 * 1000)) / 1000)
                var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
                headers[.setCookie] = cookie(id, maxAge: maxAge, secure: secureCookies)
                let json = "{\"user\":\"\(JSONText.escape(username))\",\"role\":\"\(role.rawValue)\",\"expires\":\(QueryJSON.seconds(expires)),\"tree\":\(tree)}"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
            }
        }
        router.post("/api/v1/logout") { request, _ in
            if let id = Authenticator.cookie(SessionStore.cookieName, in: request.headers) { authenticator.sessions.delete(id) }
            var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
            headers[.setCookie] = cookie("", maxAge: 0, secure: secureCookies)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"success\"}")))
        }
        router.get("/api/v1/session") { request, context in
            switch try await authenticator.authenticate(request, clientAddress: context.clientAddress) {
            case .success(let principal):
                return QueryRoutes.json("{\"user\":\"\(JSONText.escape(principal.name))\",\"role\":\"\(principal.role.rawValue)\",\"via\":\"\(principal.kind.rawValue)\",\"tree\":\(tree)}")
            case .failure(let failure):
                return APIErrors.response(for: failure, request: request)
            }
        }
    }

    struct Credentials: Decodable {
        var username: String?
        var password: String?
    }

    /// `HttpOnly` (no script reads it), `Secure` (HTTPS only; off only when TLS is off behind a
    /// proxy), `SameSite=Strict` (not sent on cross-site requests), whole site.
    static func cookie(_ id: String, maxAge: Int64, secure: Bool) -> String {
        "\(SessionStore.cookieName)=\(id); Path=/; Max-Age=\(maxAge); HttpOnly; \(secure ? "Secure; " : "")SameSite=Strict"
    }
}

/// Security headers on every response: HSTS (HTTPS only), no MIME sniffing, no referrer, and for
/// HTML a strict Content-Security-Policy that also forbids framing.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    let https: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if https { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        }
        return response
    }
}
