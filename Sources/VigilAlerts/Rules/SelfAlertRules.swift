import VigilCore
import VigilStore

/// The gateway's own alerts, on by default (`alerts.self_alerts: false` turns them off; a config
/// rule with the same name replaces one). They watch readings the gateway makes about itself each
/// evaluation interval; these `vigil_self_*` series go to the alert engine only, not to the store.
public enum SelfAlertRules {
    public static let sourceUp = "vigil_self_source_up"
    public static let rejectedTotal = "vigil_self_ingest_rejected_total"
    public static let diskFreeRatio = "vigil_self_store_disk_free_ratio"
    public static let outboxOldestAge = "vigil_self_outbox_oldest_age_seconds"
    public static let liveDroppedTotal = "vigil_self_live_dropped_clients_total"

    public static let all: [AlertRule] = [
        rule("VigilSourceDown", sourceUp, .threshold(.equal, 0, clear: nil), pendingFor: .seconds(60),
             summary: "source {{ $labels.source }} is offline or silent"),
        rule("VigilIngestRejects", rejectedTotal, .change(.rate(per: .seconds(60)), window: .seconds(300), .greater, 60, clear: 30),
             pendingFor: .seconds(300), summary: "ingest rejects {{ $value }} per minute"),
        rule("VigilStoreDiskFull", diskFreeRatio, .threshold(.less, 0.1, clear: 0.15), pendingFor: .seconds(300),
             summary: "store disk has {{ $value }} of its space free", severity: "critical"),
        rule("VigilOutboxBacklog", outboxOldestAge, .threshold(.greater, 600, clear: 60), pendingFor: .zero,
             summary: "notifications for {{ $labels.notifier }} waiting {{ $value }} s"),
        rule("VigilLiveClientsDropped", liveDroppedTotal, .change(.delta, window: .seconds(600), .greater, 0, clear: nil),
             pendingFor: .zero, summary: "{{ $value }} live clients dropped in the last 10 minutes (too slow to keep up)",
             severity: "info"),
    ]

    static func rule(_ name: String, _ metric: String, _ condition: AlertCondition, pendingFor: Duration, summary: String,
                     severity: String = "warning") -> AlertRule {
        // Both are literals above; a typo fails the self-alert unit test.
        let selector = (try? SeriesSelector.parse(metric)) ?? SeriesSelector(matchers: [])
        let template = (try? AnnotationTemplate(summary)) ?? (try! AnnotationTemplate(name))
        return AlertRule(name: name, selector: selector, condition: condition, pendingFor: pendingFor, severity: severity,
                         labels: Labels(["source_kind": "gateway"]), annotations: [("summary", template)], builtIn: true)
    }
}
