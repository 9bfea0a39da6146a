import Metrics
import Prometheus
import VigilAlerts
import VigilCore
import VigilStore

/// `/metrics`: everything counted through swift-metrics (one Prometheus registry for the
/// process), plus values read at scrape time: build info, process, bus and source states.
public final class MetricsExposition: Sendable {
    public let registry: PrometheusCollectorRegistry
    let bus: ReadingBus
    let board: SourceStatusBoard
    let store: StoreMetricsSource?
    let alerts: AlertCenter?
    let ledger: IngestLedger?

    init(registry: PrometheusCollectorRegistry, bus: ReadingBus, board: SourceStatusBoard, store: StoreMetricsSource? = nil,
         alerts: AlertCenter? = nil, ledger: IngestLedger? = nil, gatewayName: String) {
        self.registry = registry
        self.ledger = ledger
        self.bus = bus
        self.board = board
        self.store = store
        self.alerts = alerts
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "vigil", unitName: "build_info",
                                             helpText: "Always 1; the labels describe the running build."),
            labels: [("version", BuildInfo.version), ("swift", BuildInfo.swiftVersion), ("os", BuildInfo.os),
                     ("arch", BuildInfo.arch), ("gateway", gatewayName)]
        ).set(1.0)
    }

    public func render() -> String {
        var out = registry.emitToString()
        ProcessMetrics.render(into: &out)
        HeapAllocator.render(into: &out)
        renderBus(into: &out)
        renderSources(into: &out)
        renderLedger(into: &out)
        store?.render(into: &out)
        renderAlerts(into: &out)
        return out
    }

    private func renderBus(into out: inout String) {
        let stats = bus.statistics()
        guard !stats.isEmpty else { return }
        out += "# HELP vigil_bus_pending_readings Readings waiting for a bus subscriber.\n# TYPE vigil_bus_pending_readings gauge\n"
        for s in stats { out += "vigil_bus_pending_readings{subscriber=\"\(Labels.escape(s.name))\"} \(s.pending)\n" }
        out += "# HELP vigil_bus_delivered_readings_total Readings handed to a bus subscriber.\n# TYPE vigil_bus_delivered_readings_total counter\n"
        for s in stats { out += "vigil_bus_delivered_readings_total{subscriber=\"\(Labels.escape(s.name))\"} \(s.delivered)\n" }
        out += "# HELP vigil_bus_dropped_readings_total Readings dropped because a subscriber lagged its queue capacity behind.\n# TYPE vigil_bus_dropped_readings_total counter\n"
        for s in stats { out += "vigil_bus_dropped_readings_total{subscriber=\"\(Labels.escape(s.name))\"} \(s.dropped)\n" }
    }

    private func renderSources(into out: inout String) {
        let sources = board.snapshot()
        guard !sources.isEmpty else { return }
        out += "# HELP vigil_source_up 1 when the source is connected.\n# TYPE vigil_source_up gauge\n"
        for s in sources {
            out += "vigil_source_up{source=\"\(Labels.escape(s.name))\",kind=\"\(s.kind)\"} \(s.state == .connected ? 1 : 0)\n"
        }
        out += "# HELP vigil_source_last_message_timestamp_seconds When the source last delivered a message.\n# TYPE vigil_source_last_message_timestamp_seconds gauge\n"
        for s in sources {
            let seconds = s.lastMessageMs.map { Double($0) / 1000 } ?? 0
            out += "vigil_source_last_message_timestamp_seconds{source=\"\(Labels.escape(s.name))\"} \(seconds)\n"
        }
    }

    /// `vigil_ingest_ledger_total{source,outcome,reason}`: received = stored + duplicate + refused +
    /// dropped (+ in flight), per source.
    private func renderLedger(into out: inout String) {
        guard let ledger else { return }
        let entries = ledger.snapshot().sorted { $0.key < $1.key }
        guard !entries.isEmpty else { return }
        out += "# HELP vigil_ingest_ledger_total Readings per source by outcome: received = stored + duplicate + refused + dropped, once none is in flight.\n"
        out += "# TYPE vigil_ingest_ledger_total counter\n"
        for (source, entry) in entries {
            let name = Labels.escape(source)
            func line(_ outcome: String, _ reason: String, _ value: UInt64) {
                out += "vigil_ingest_ledger_total{source=\"\(name)\",outcome=\"\(outcome)\",reason=\"\(reason)\"} \(value)\n"
            }
            line("received", "", entry.received)
            line("stored", "", entry.stored)
            line("duplicate", "", entry.duplicate)
            for (reason, count) in entry.refused.sorted(by: { $0.key < $1.key }) { line("refused", reason, count) }
            for (reason, count) in entry.dropped.sorted(by: { $0.key < $1.key }) { line("dropped", reason, count) }
        }
    }

    private func renderAlerts(into out: inout String) {
        guard let alerts else { return }
        out += "# HELP vigil_alerts Alert instances by rule and state.\n# TYPE vigil_alerts gauge\n"
        for (rule, state, count) in alerts.stateCounts() {
            out += "vigil_alerts{rule=\"\(Labels.escape(rule))\",state=\"\(state.rawValue)\"} \(count)\n"
        }
        let outbox = alerts.outboxStatistics(now: WallClock.nowMs())
        guard !outbox.isEmpty else { return }
        out += "# HELP vigil_alert_outbox_depth Notifications waiting in the outbox, per notifier.\n# TYPE vigil_alert_outbox_depth gauge\n"
        for s in outbox { out += "vigil_alert_outbox_depth{notifier=\"\(Labels.escape(s.notifier))\"} \(s.depth)\n" }
        out += "# HELP vigil_alert_outbox_oldest_age_seconds Age of the oldest waiting notification (0 when none).\n# TYPE vigil_alert_outbox_oldest_age_seconds gauge\n"
        for s in outbox { out += "vigil_alert_outbox_oldest_age_seconds{notifier=\"\(Labels.escape(s.notifier))\"} \(s.oldestAgeSeconds)\n" }
    }
}
