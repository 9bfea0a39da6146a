import FoundationEssentials
import VigilCore

/// What every notifier sends, in Vigil's own JSON (the webhook body; the MQTT payload; the
/// Alertmanager notifier maps it to Alertmanager's format). Built and stored in the outbox when the
/// alert changes, so a notification delivered after a crash says what was true when it was made.
///
/// `id` is unique per notification and identical on every retry: receivers drop duplicates by it.
public struct AlertNotification: Sendable, Codable, Equatable {
    public var version = 1
    public var id: String
    public var gateway: String
    /// `firing` or `resolved`.
    public var status: String
    /// `firing` (first), `repeat` (still firing) or `resolved`.
    public var reason: String
    public var alert: String
    public var rule: String
    public var severity: String
    public var series: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var value: Double?
    public var unit: String?
    /// RFC 3339, when the condition started holding.
    public var startsAt: String
    /// RFC 3339, when it resolved; absent while firing.
    public var endsAt: String?
    public var generatorURL: String
    /// RFC 3339, when this notification was made.
    public var createdAt: String

    static func make(_ instance: AlertInstance, reason: NotificationPlanner.Reason, gateway: String, externalURL: String,
                     now: Int64) -> AlertNotification {
        AlertNotification(
            id: "\(gateway)-\(UUID().uuidString.lowercased())",
            gateway: gateway,
            status: instance.state == .resolved ? "resolved" : "firing",
            reason: reason.rawValue,
            alert: instance.key.id,
            rule: instance.rule,
            severity: instance.severity,
            series: instance.key.series,
            labels: instance.labels,
            annotations: instance.annotations,
            value: instance.value.flatMap { $0.isFinite ? $0 : nil },
            unit: instance.unit,
            startsAt: RFC3339.format(instance.activeSinceMs ?? now),
            endsAt: instance.resolvedAtMs.map(RFC3339.format),
            generatorURL: externalURL.hasSuffix("/") ? "\(externalURL)#alerts" : "\(externalURL)/#alerts",
            createdAt: RFC3339.format(now))
    }

    /// Canonical bytes: sorted keys, so the body (and its signature) is the same on every retry.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public static func decode(_ bytes: [UInt8]) -> AlertNotification? {
        try? JSONDecoder().decode(AlertNotification.self, from: Data(bytes))
    }
}
