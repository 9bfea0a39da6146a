import Hummingbird
import HummingbirdCore
import Logging
import VigilCore
import VigilLive

/// The gateway's HTTP side, from its parts: the router (console, login, API, metrics) and the
/// Hummingbird application whose connections can also become live WebSockets.
enum GatewayRouter {
    static func make(_ parts: GatewayParts) -> Router<VigilRequestContext> {
        let router = Router(context: VigilRequestContext.self)
        router.add(middleware: SecurityHeaders(https: parts.tls != nil))
        OperationalRoutes.add(to: router, metrics: parts.metrics, board: parts.board, storeHealth: parts.storeHealth)
        LoginRoutes.add(to: router, authenticator: parts.authenticator, secureCookies: parts.tls != nil,
                        consoleTree: parts.config.http.consoleTree)
        LiveRoutes.addRefusals(to: router, gate: gate(parts))
        let api = router.group("/api/v1").add(middleware: RequireRole(authenticator: parts.authenticator, minimum: .viewer))
        QueryRoutes.add(to: api, store: parts.store, limits: parts.config.query, units: parts.hub.known)
        IngestRoutes.add(to: api, board: parts.board, rejects: parts.rejects)
        AlertRoutes.add(to: api, center: parts.alerts)
        ConsoleRoutes.add(to: router)
        return router
    }

    static func gate(_ parts: GatewayParts) -> LiveRoutes.Gate {
        LiveRoutes.Gate(http: parts.config.http, https: parts.tls != nil, authenticator: parts.authenticator, hub: parts.hub)
    }

    /// The listener: WebSocket upgrades become NIO handlers (VigilWebSocket); everything else goes
    /// to the router. `onListening` gets the bound port (0 in the config asks for any free one).
    static func application(_ parts: GatewayParts, router: Router<VigilRequestContext>, logger: Logger,
                            onListening: @escaping @Sendable (Int) -> Void = { _ in }) throws -> some ApplicationProtocol {
        let http = parts.config.http
        let decide = LiveRoutes.decider(gate: gate(parts), logger: Logger(label: "vigil.live"))
        let server = HTTPServerBuilder { responder in
            VigilServerChannel(responder: responder, decide: decide, idleTimeout: http.idleTimeout, limits: ConnectionLimits(http), tls: parts.tls)
        }
        let scheme = parts.tls == nil ? "http" : "https"
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(http.host, port: http.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? http.port
                let host = http.host.contains(":") ? "[\(http.host)]" : http.host
                logger.notice("listening", metadata: ["url": "\(scheme)://\(host):\(port)/", "address": "\(host):\(port)"])
                onListening(port)
            },
            logger: Logger(label: "vigil.http"))
    }
}
