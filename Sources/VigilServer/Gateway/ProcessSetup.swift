import Logging
import Metrics
import Prometheus

/// What is set up once per process, before the gateway opens anything: the allocator's tuning, the
/// log handler (with its runtime-adjustable level) and the Prometheus registry every module's
/// swift-metrics counters report into. `vigil run` bootstraps them; tests that run a gateway in process make their own
/// without touching the process-wide systems (which can be bootstrapped only once).
public struct ProcessSetup: Sendable {
    public let levelControl: LogLevelControl
    public let registry: PrometheusCollectorRegistry

    /// For `vigil run`: installs the log handler and the metrics factory for the whole process.
    public static func bootstrap(_ logging: LoggingSettings) -> ProcessSetup {
        HeapAllocator.configure()
        let setup = ProcessSetup(levelControl: LogLevelControl(logging.level), registry: PrometheusCollectorRegistry())
        let format = logging.format
        let control = setup.levelControl
        LoggingSystem.bootstrap { label in VigilLogHandler(label: label, format: format, control: control) }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: setup.registry))
        return setup
    }

    /// For a gateway inside another process (tests): nothing global changes.
    public static func local(level: Logger.Level = .info) -> ProcessSetup {
        ProcessSetup(levelControl: LogLevelControl(level), registry: PrometheusCollectorRegistry())
    }
}
