import FoundationEssentials
import Logging
import ServiceLifecycle
import VigilAlerts
import VigilCore
import VigilForward
import VigilIngest
import VigilLive
import VigilStore

/// The gateway's long-running services, in start order; shutdown runs them down in reverse.
enum GatewayServices {
    static func make(_ parts: GatewayParts, http: any Service, configPath: String, process: ProcessSetup) -> [any Service] {
        let config = parts.config
        let (alerts, hub, bus, board, rejects) = (parts.alerts, parts.hub, parts.bus, parts.board, parts.rejects)
        alerts.addObserver { changed in
            for instance in changed { hub.sendEvent(AlertJSON.event(instance, silencedBy: [])) }
        }
        var services: [any Service] = [http, hub]
        let levelControl = process.levelControl
        var hooks: [@Sendable (VigilConfiguration) -> Void] = [
            { levelControl.level = $0.logging.level },
            { alerts.reload($0.alerts, now: WallClock.nowMs()) },
        ]
        if let tls = parts.tls {
            let tlsLogger = Logger(label: "vigil.tls")
            hooks.append { TLSProvisioning.reload(tls, $0.http.tls, dataDir: $0.dataDir, gatewayName: $0.gatewayName, logger: tlsLogger) }
        }
        services.append(ReloadService(configPath: configPath, current: config, hooks: hooks, logger: Logger(label: "vigil.reload")))
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
        services.append(StoreService(store: parts.store, subscription: storeQueue, ledger: ledger,
                                     flushInterval: config.store.flushInterval, health: parts.storeHealth,
                                     logger: Logger(label: "vigil.store")))
        for endpoint in config.forward.remoteWrite {
            services.append(RemoteWriteForwarder(config: endpoint, store: parts.store, board: board, dataDir: config.dataDir,
                                                 logger: Logger(label: "vigil.forward")))
        }
        let selfReadings = SelfReadings(board: board, rejects: rejects, hub: hub,
                                        storeDirectory: FilePaths.parent(config.store.path), center: alerts)
        services.append(AlertService(center: alerts, subscription: bus.subscribe("alerts", capacity: 200_000),
                                     brokers: config.mqtt.clientOptionsByBroker, selfReadings: { selfReadings($0) },
                                     logger: Logger(label: "vigil.alerts")))
        services.append(BusCloser(bus: bus))
        let context = SourceContext(bus: bus, board: board, rejects: rejects, normalizer: parts.normalizer)
        for port in config.serial.ports {
            services.append(SerialSource(config: port, context: context, logger: Logger(label: "vigil.serial")))
        }
        for modbusBus in config.modbus.buses {
            services.append(ModbusBusSource(config: modbusBus, context: context, logger: Logger(label: "vigil.modbus")))
        }
        for broker in config.mqtt.brokers {
            services.append(MQTTSource(config: broker, context: context, logger: Logger(label: "vigil.mqtt")))
        }
        services.append(HeapTrimService())
        // Last in the list, so the first to hear of a shutdown: running queries stop at once.
        services.append(QueryCanceller())
        return services
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
