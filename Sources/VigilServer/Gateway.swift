#if canImport(Glibc)
import VigilLive
import Glibc
#endif
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals
import VigilAlerts
import VigilCore
import VigilForward
import VigilIngest
import VigilStore

/// The running gateway: one ServiceGroup holding the HTTPS listener, the reload handler, the bus
/// consumers and the ingest sources.
///
/// Shutdown (SIGTERM or SIGINT) runs in reverse start order, each step finishing before the next:
/// ingest sources disconnect, the bus is closed, its consumers drain what is queued (the store's
/// flush lands here), and the HTTP listener closes last. The whole drain is bounded by
/// `gateway.shutdown_timeout`; past it, remaining work is cancelled.
public struct Gateway: Sendable {
    public let configPath: String
    public let config: VigilConfiguration

    public init(configPath: String, config: VigilConfiguration) {
        self.configPath = configPath
        self.config = config
    }

    public func run() async throws {
        let levelControl = LogLevelControl(config.logging.level)
        let format = config.logging.format
        LoggingSystem.bootstrap { label in VigilLogHandler(label: label, format: format, control: levelControl) }
        let logger = Logger(label: "vigil")
        logger.notice("starting Vigil", metadata: [
            "version": "\(BuildInfo.version)", "gateway": "\(config.gatewayName)", "config": "\(configPath)",
        ])
        for warning in config.warnings { logger.warning("\(warning)") }

        let dataLock = try DataDirectory.prepare(config.dataDir)
        defer { dataLock.release() }

        let store: MetricStore
        do {
            store = try MetricStore(options: config.store.options)
        } catch {
            throw StartupError("cannot open the metric store at \(config.store.path): \(error)")
        }
        logger.notice("store opened", metadata: ["path": "\(config.store.path)", "series": "\(store.seriesCount)"])
        let storeHealth = StoreHealth()

        let bus = ReadingBus()
        let board = SourceStatusBoard()
        let rejects = IngestRejects(logger: Logger(label: "vigil.ingest"))
        let alerts: AlertCenter
        do {
            alerts = try AlertCenter(config: config.alerts, databasePath: (config.dataDir as NSString).appendingPathComponent("alerts.db"),
                                     gateway: config.gatewayName, externalURL: externalURL(), logger: Logger(label: "vigil.alerts"))
        } catch {
            throw StartupError("cannot open the alert state in \(config.dataDir)/alerts.db: \(error)")
        }
        let metrics = MetricsExposition(registry: PrometheusCollectorRegistry(), bus: bus, board: board,
                                        store: StoreMetricsSource(store: store, health: storeHealth),
                                        alerts: alerts, ledger: rejects.ledger, gatewayName: config.gatewayName)
        metrics.bootstrapMetricsSystem()
        // After the bootstrap: it makes its counters when it is created.
        let normalizer = Normalizer(config: config.normalize)

        let tls = try TLSProvisioning.load(config.http.tls, dataDir: config.dataDir, gatewayName: config.gatewayName,
                                           logger: logger)
        if let tls {
            logger.notice("TLS certificate loaded", metadata: [
                "path": "\(tls.certificatePath)", "sha256_fingerprint": "\(tls.fingerprint)",
            ])
        }

        let router = Router(context: VigilRequestContext.self)
        router.add(middleware: SecurityHeaders(https: tls != nil))
        OperationalRoutes.add(to: router, metrics: metrics, board: board, storeHealth: storeHealth)
        let sessions = SessionStore(path: (config.dataDir as NSString).appendingPathComponent("sessions.json"),
                                    ttl: config.auth.sessionTTL)
        let authenticator = Authenticator(settings: config.auth, sessions: sessions, logger: Logger(label: "vigil.auth"))
        LoginRoutes.add(to: router, authenticator: authenticator, secureCookies: tls != nil)
        let hub = LiveHub(settings: config.http.ws, store: store, board: board, bus: bus, logger: Logger(label: "vigil.live"))
        let gate = LiveRoutes.Gate(http: config.http, https: tls != nil, authenticator: authenticator, hub: hub)
        LiveRoutes.addRefusals(to: router, gate: gate)
        let api = router.group("/api/v1").add(middleware: RequireRole(authenticator: authenticator, minimum: .viewer))
        QueryRoutes.add(to: api, store: store, limits: config.query)
        IngestRoutes.add(to: api, board: board, rejects: rejects)
        AlertRoutes.add(to: api, center: alerts)
        alerts.addObserver { changed in
            for instance in changed { hub.sendEvent(AlertJSON.event(instance, silencedBy: [])) }
        }
        ConsoleRoutes.add(to: router)
        let scheme = tls == nil ? "http" : "https"
        let http = config.http
        // WebSocket upgrades become NIO handlers (WebSocket/); everything else goes to the router.
        let decide = LiveRoutes.decider(gate: gate, logger: Logger(label: "vigil.live"))
        let base = HTTPServerBuilder { responder in
            VigilServerChannel(responder: responder, decide: decide, idleTimeout: http.idleTimeout, limits: ConnectionLimits(http))
        }
        let server: HTTPServerBuilder = if let tls { try .tls(base, tlsConfiguration: tls.configuration) } else { base }
        let application = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(http.host, port: http.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? http.port
                let host = http.host.contains(":") ? "[\(http.host)]" : http.host
                logger.notice("listening", metadata: ["url": "\(scheme)://\(host):\(port)/", "address": "\(host):\(port)"])
            },
            logger: Logger(label: "vigil.http"))

        var services: [any Service] = [application, hub]
        let hooks: [@Sendable (VigilConfiguration) -> Void] = [
            { levelControl.level = $0.logging.level },
            { alerts.reload($0.alerts, now: WallClock.nowMs()) },
        ]
        services.append(ReloadService(configPath: configPath, current: config, hooks: hooks,
                                      logger: Logger(label: "vigil.reload")))
        if config.logging.ingestSummaryInterval > .zero {
            services.append(IngestSummaryService(subscription: bus.subscribe("ingest-summary", capacity: 100_000),
                                                 interval: config.logging.ingestSummaryInterval,
                                                 logger: Logger(label: "vigil.ingest")))
        }
        // Generous capacity: the store is the one consumer that must not lose readings to a burst.
        let ledger = rejects.ledger
        let storeQueue = bus.subscribe("store", capacity: 1_000_000) { dropped in
            ledger.settled(dropped.source, dropped: [("store_queue_full", dropped.readings.count)])
        }
        services.append(StoreService(store: store, subscription: storeQueue, ledger: ledger,
                                     flushInterval: config.store.flushInterval, health: storeHealth,
                                     logger: Logger(label: "vigil.store")))
        for endpoint in config.forward.remoteWrite {
            services.append(RemoteWriteForwarder(config: endpoint, store: store, board: board, dataDir: config.dataDir,
                                                 logger: Logger(label: "vigil.forward")))
        }
        let selfReadings = SelfReadings(board: board, rejects: rejects, hub: hub,
                                        storeDirectory: (config.store.path as NSString).deletingLastPathComponent, center: alerts)
        services.append(AlertService(center: alerts, subscription: bus.subscribe("alerts", capacity: 200_000),
                                     brokers: config.mqtt.clientOptionsByBroker, selfReadings: { selfReadings($0) },
                                     logger: Logger(label: "vigil.alerts")))
        services.append(BusCloser(bus: bus))
        for port in config.serial.ports {
            services.append(SerialSource(config: port, bus: bus, board: board, rejects: rejects, normalizer: normalizer,
                                         logger: Logger(label: "vigil.serial")))
        }
        for modbusBus in config.modbus.buses {
            services.append(ModbusBusSource(config: modbusBus, bus: bus, board: board, rejects: rejects, normalizer: normalizer,
                                            logger: Logger(label: "vigil.modbus")))
        }
        for broker in config.mqtt.brokers {
            services.append(MQTTSource(config: broker, bus: bus, board: board, rejects: rejects, normalizer: normalizer,
                                       logger: Logger(label: "vigil.mqtt")))
        }
        // Last in the list, so the first to hear of a shutdown: running queries stop at once.
        services.append(QueryCanceller())

        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "vigil.services"))
        groupConfiguration.maximumGracefulShutdownDuration = config.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = .seconds(2)
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            throw describeStartupFailure(error)
        }
        logger.notice("stopped")
    }

    /// Where notifications link to: `alerts.external_url`, or this gateway's own listener
    /// (with the host name when it listens on every address).
    func externalURL() -> String {
        if let url = config.alerts.externalURL { return url }
        let scheme = config.http.tls == .off ? "http" : "https"
        var host = config.http.host
        if host == "0.0.0.0" || host == "::" || host.isEmpty { host = VigilConfiguration.hostName() }
        if host.contains(":") { host = "[\(host)]" }
        return "\(scheme)://\(host):\(config.http.port)/"
    }

    /// Turns the listener's bind errors into one actionable line.
    func describeStartupFailure(_ error: any Error) -> any Error {
        let address = config.http.listenDescription
        let place = config.http.listenLocation.map { " (http.listen at \($0))" } ?? ""
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return StartupError("cannot listen on \(address)\(place): address already in use")
            case EACCES: return StartupError("cannot listen on \(address)\(place): permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)")
            case EADDRNOTAVAIL: return StartupError("cannot listen on \(address)\(place): no such address on this machine")
            default: return StartupError("cannot listen on \(address)\(place): \(io)")
            }
        }
        return error
    }
}

/// Cancels every running query when graceful shutdown begins, so the HTTP listener never waits
/// on one.
struct QueryCanceller: Service {
    func run() async throws {
        try? await gracefulShutdown()
        QueryBudget.cancelAll()
    }
}

/// Closes the bus during shutdown, after the sources (started after it) have stopped, so the
/// consumers (started before it) receive everything still queued and then end.
struct BusCloser: Service {
    let bus: ReadingBus
    func run() async throws {
        try? await gracefulShutdown()
        bus.finish()
    }
}
