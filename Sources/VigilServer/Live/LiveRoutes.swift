import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import VigilCore
import VigilLive
import VigilWebSocket

/// The WebSocket endpoints: `/api/v1/live` (Origin-checked, authenticated, subprotocol
/// `vigil.v1.json`) and, when `http.diagnostics_echo` is on, `/diagnostics/echo` for the Autobahn
/// conformance suite. `decide` runs in the upgrade handshake; a refused upgrade is answered with
/// 403, 401, 400, 404 or 503 and the reason (a plain GET of the endpoint gets the same answer).
enum LiveRoutes {

    struct Gate: Sendable {
        let http: HTTPSettings
        let https: Bool
        let authenticator: Authenticator
        let hub: LiveHub

        enum Refusal: Error {
            case origin(String)
            case auth(Authenticator.Failure)
            case subprotocol
            case full

            var answer: APIErrors.Answer {
                switch self {
                case .origin(let origin):
                    .init(status: .forbidden, type: "forbidden", message: "Origin '\(origin)' may not open the live stream (http.allowed_origins)")
                case .auth(let failure): APIErrors.answer(for: failure)
                case .subprotocol:
                    .init(status: .badRequest, type: "bad_data",
                          message: "offer the WebSocket subprotocol \(LiveMessages.subprotocol) (Sec-WebSocket-Protocol)")
                case .full:
                    .init(status: .serviceUnavailable, type: "unavailable", message: "too many live connections (http.ws.max_connections)")
                }
            }
        }

        func check(headers: HTTPFields, query: String?, authority: String?, clientAddress: String) async throws -> Result<Principal, Refusal> {
            // Cross-site WebSocket hijacking: the browser always sends Origin, and a page elsewhere
            // cannot fake it; a foreign Origin is refused before anything else, whatever the
            // credentials. Without Origin the client is not a browser, and only a bearer token
            // lets it in: hijacking needs ambient credentials (the cookie a browser adds by itself),
            // and a token is never ambient. Its cookies are ignored.
            var headers = headers
            if let origin = headers[.origin] {
                guard originAllowed(origin, host: authority) else { return .failure(.origin(origin)) }
            } else {
                guard Self.hasBearer(headers) else { return .failure(.origin("none")) }
                headers[.cookie] = nil
            }
            let principal: Principal
            switch try await authenticator.authenticate(headers: headers, query: query, clientAddress: clientAddress) {
            case .success(let found): principal = found
            case .failure(let failure): return .failure(.auth(failure))
            }
            let offered = headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters() }
            guard offered.contains(LiveMessages.subprotocol) else { return .failure(.subprotocol) }
            guard hub.connections.load(ordering: .relaxed) < http.ws.maxConnections else { return .failure(.full) }
            return .success(principal)
        }

        static func hasBearer(_ headers: HTTPFields) -> Bool {
            guard let value = headers[.authorization] else { return false }
            return value.count > 7 && value.prefix(7).lowercased() == "bearer "
        }

        /// In `http.allowed_origins`, or, when that list is empty, the origin this request came
        /// to (scheme and Host): the console served by this gateway.
        func originAllowed(_ origin: String, host: String?) -> Bool {
            // Browsers send http(s) origins; non-browser clients (which can send any Origin, so the
            // check does not concern them) sometimes send ws(s)://: read those as http(s).
            var origin = origin
            if origin.hasPrefix("wss://") { origin = "https://" + origin.dropFirst(6) }
            if origin.hasPrefix("ws://") { origin = "http://" + origin.dropFirst(5) }
            guard let normalized = HTTPSettings.normalizeOrigin(origin) else { return false }
            if !http.allowedOrigins.isEmpty { return http.allowedOrigins.contains(normalized) }
            guard let host, let own = HTTPSettings.normalizeOrigin((https ? "https://" : "http://") + host) else { return false }
            return normalized == own
        }
    }

    /// The upgrade decision for the gateway's server channel.
    static func decider(gate: Gate, logger: Logger) -> VigilServerChannel.Upgrader.Decide {
        let limiter = RateLimiter(burst: 5, window: .seconds(60))
        let ws = gate.http.ws
        let echo = gate.http.diagnosticsEcho
        return { head, channel in
            let (path, query) = splitURI(head.uri)
            let offers = head.headers["sec-websocket-extensions"]
            switch path {
            case "/api/v1/live":
                let headers = fields(head.headers)
                let client = channel.remoteAddress?.ipAddress ?? "unknown"
                let result: Result<Principal, Gate.Refusal>
                do {
                    result = try await gate.check(headers: headers, query: query, authority: head.headers["host"].first, clientAddress: client)
                } catch {
                    return .failure(WebSocketRefusal(.init(status: .serviceUnavailable, type: "unavailable", message: "\(error)")))
                }
                switch result {
                case .success(let principal):
                    let deflate = ws.compression ? PerMessageDeflate.negotiate(offers: offers, askClientNoContextTakeover: true) : nil
                    let limits = WebSocketConnection.Limits(maxMessage: ws.maxMessageBytes, compressMinimum: 256)
                    let hub = gate.hub
                    return .success(WebSocketAcceptance(headers: [("Sec-WebSocket-Protocol", LiveMessages.subprotocol)], deflate: deflate, limits: limits) {
                        LiveSession(hub: hub, user: LiveUser(name: principal.name, role: principal.role.rawValue), logger: logger)
                    })
                case .failure(let refusal):
                    let answer = refusal.answer
                    if limiter.check("\(answer.status.code)").emit {
                        logger.info("live upgrade refused", metadata: [
                            "status": "\(answer.status.code)", "reason": "\(answer.message)", "client": "\(client)",
                            "host": "\(head.headers["host"].first ?? "-")",
                        ])
                    }
                    return .failure(WebSocketRefusal(answer))
                }
            case "/diagnostics/echo" where echo:
                // The conformance suite wants every message compressed when deflate is on (see
                // ../shared/notes: kosoku mis-hashes small uncompressed echoes) and 16 MiB messages.
                let deflate = PerMessageDeflate.negotiate(offers: offers, askClientNoContextTakeover: false)
                return .success(WebSocketAcceptance(deflate: deflate, limits: .init(maxMessage: 16 << 20, compressMinimum: 0)) { EchoEndpoint() })
            default:
                return .failure(WebSocketRefusal(.init(status: .notFound, type: "not_found", message: "no WebSocket endpoint at \(path)")))
            }
        }
    }

    /// A plain GET of the endpoint (or a refused upgrade): what is missing.
    static func addRefusals(to router: Router<VigilRequestContext>, gate: Gate) {
        router.get("/api/v1/live") { request, context in
            switch try await gate.check(headers: request.headers, query: request.uri.query, authority: request.head.authority,
                                        clientAddress: context.clientAddress) {
            case .failure(let refusal): return refusal.answer.response
            case .success: return APIErrors.response(.badRequest, "bad_data", "this is a WebSocket endpoint: send an upgrade request")
            }
        }
    }

    static func splitURI(_ uri: String) -> (path: String, query: String?) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }

    static func fields(_ headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }
}

/// `/diagnostics/echo`: every message back as it came (text as text, binary as binary).
final class EchoEndpoint: WebSocketEndpoint {
    func opened(_ socket: WebSocketConnection) {}
    func received(text: ByteBuffer, on socket: WebSocketConnection) { socket.send(text: text) }
    func received(binary: ByteBuffer, on socket: WebSocketConnection) { socket.send(binary: binary) }
    func becameWritable(_ socket: WebSocketConnection) {}
    func closed(_ socket: WebSocketConnection) {}
}
