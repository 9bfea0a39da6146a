import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import VigilCore

/// The WebSocket endpoints: `/api/v1/live` (Origin-checked, authenticated, subprotocol
/// `vigil.v1.json`) and, when `http.diagnostics_echo` is on, `/diagnostics/echo` for the Autobahn
/// conformance suite. A refused upgrade falls through to the plain HTTP route of the same path,
/// which answers 403, 401, 400 or 503 with the reason: the WebSocket upgrader alone can only say 400.
enum LiveRoutes {
    static let subprotocol = "vigil.v1.json"

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
                          message: "offer the WebSocket subprotocol \(LiveRoutes.subprotocol) (Sec-WebSocket-Protocol)")
                case .full:
                    .init(status: .serviceUnavailable, type: "unavailable", message: "too many live connections (http.ws.max_connections)")
                }
            }
        }

        func check(_ request: Request, clientAddress: String) async throws -> Result<Principal, Refusal> {
            // Cross-site WebSocket hijacking: the browser always sends Origin; a page elsewhere
            // cannot fake it. No Origin, or a foreign one, is refused before anything else.
            guard let origin = request.headers[.origin], originAllowed(origin, host: request.head.authority) else {
                return .failure(.origin(request.headers[.origin] ?? "none"))
            }
            let principal: Principal
            switch try await authenticator.authenticate(request, clientAddress: clientAddress) {
            case .success(let found): principal = found
            case .failure(let failure): return .failure(.auth(failure))
            }
            let offered = request.headers[values: .secWebSocketProtocol].flatMap { $0.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard offered.contains(LiveRoutes.subprotocol) else { return .failure(.subprotocol) }
            guard hub.connections.load(ordering: .relaxed) < http.ws.maxConnections else { return .failure(.full) }
            return .success(principal)
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

    static func addUpgrades(to router: Router<VigilRequestContext>, gate: Gate, logger: Logger) {
        let limiter = RateLimiter(burst: 5, window: .seconds(60))
        router.ws("/api/v1/live", shouldUpgrade: { request, context in
            switch try await gate.check(request, clientAddress: context.clientAddress) {
            case .success: return .upgrade([.secWebSocketProtocol: subprotocol])
            case .failure(let refusal):
                let answer = refusal.answer
                if limiter.check("\(answer.status.code)").emit {
                    logger.info("live upgrade refused", metadata: [
                        "status": "\(answer.status.code)", "reason": "\(answer.message)", "client": "\(context.clientAddress)",
                        "host": "\(request.head.authority ?? "-")",
                    ])
                }
                // The upgrader answers every refusal with a bare 400; write the real answer (403,
                // 401, …) first and close, so the client learns why.
                try await writeRefusal(refusal.answer, on: context.channel)
                return .dontUpgrade
            }
        }, onUpgrade: { inbound, outbound, context in
            guard case .success(let principal) = try await gate.check(context.request, clientAddress: context.requestContext.clientAddress) else {
                return
            }
            gate.hub.connected(+1)
            defer { gate.hub.connected(-1) }
            await LiveConnection(hub: gate.hub, principal: principal, inbound: inbound, outbound: outbound, logger: logger).run()
        })
        if gate.http.diagnosticsEcho {
            router.ws("/diagnostics/echo") { inbound, outbound, _ in
                for try await message in inbound.messages(maxSize: 16 << 20) {
                    switch message {
                    case .text(let text): try await outbound.write(.text(text))
                    case .binary(let buffer): try await outbound.write(.binary(buffer))
                    }
                }
            }
        }
    }

    /// A plain GET of the endpoint: what is missing for an upgrade.
    static func addRefusals(to router: Router<VigilRequestContext>, gate: Gate) {
        router.get("/api/v1/live") { request, context in
            switch try await gate.check(request, clientAddress: context.clientAddress) {
            case .failure(let refusal): return refusal.answer.response
            case .success: return APIErrors.response(.badRequest, "bad_data", "this is a WebSocket endpoint: send an upgrade request")
            }
        }
    }

    static func writeRefusal(_ answer: APIErrors.Answer, on channel: any Channel) async throws {
        var headers = HTTPHeaders()
        for field in answer.headers { headers.add(name: field.name.rawName, value: field.value) }
        let body = ByteBuffer(string: answer.body)
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        headers.replaceOrAdd(name: "connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: Int(answer.status.code)), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        try await channel.close()
    }
}
