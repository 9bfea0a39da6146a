import FoundationEssentials
import VigilAlerts
import VigilCore
import VigilStore

/// The JSON form of alerts and silences, shared by `/api/v1/alerts` and the live `alert` event.
enum AlertJSON {
    struct AlertView: Encodable {
        let id: String
        let rule: String
        let series: String
        let state: String
        let severity: String
        let labels: [String: String]
        let annotations: [String: String]
        let value: Double?
        let unit: String?
        let activeAt: String?
        let firedAt: String?
        let resolvedAt: String?
        let ack: Ack?
        let silencedBy: [String]

        struct Ack: Encodable {
            let by: String
            let at: String
            let until: String?
            let comment: String
        }

        init(_ instance: AlertInstance, silencedBy: [String]) {
            id = instance.key.id
            rule = instance.rule
            series = instance.key.series
            state = instance.state.rawValue
            severity = instance.severity
            labels = instance.labels
            annotations = instance.annotations
            value = instance.value.flatMap { $0.isFinite ? $0 : nil }
            unit = instance.unit
            activeAt = instance.activeSinceMs.map(RFC3339.format)
            firedAt = instance.firedAtMs.map(RFC3339.format)
            resolvedAt = instance.resolvedAtMs.map(RFC3339.format)
            ack = instance.ack.map { Ack(by: $0.by, at: RFC3339.format($0.atMs), until: $0.untilMs.map(RFC3339.format), comment: $0.comment) }
            self.silencedBy = silencedBy
        }
    }

    struct SilenceView: Encodable {
        let id: String
        let matchers: String
        let startsAt: String
        let endsAt: String
        let createdBy: String
        let comment: String
        let active: Bool

        init(_ silence: Silence, now: Int64) {
            id = silence.id
            matchers = silence.matchers
            startsAt = RFC3339.format(silence.startsAtMs)
            endsAt = RFC3339.format(silence.endsAtMs)
            createdBy = silence.createdBy
            comment = silence.comment
            active = silence.isActive(at: now)
        }
    }

    struct RuleView: Encodable {
        let name: String
        let selector: String
        let condition: String
        let `for`: String
        let keepFiringFor: String
        let severity: String
        let builtIn: Bool
        let origin: String?

        init(_ rule: AlertRule) {
            name = rule.name
            selector = rule.selector.description
            condition = rule.condition.summary
            self.for = rule.pendingFor.compactDescription
            keepFiringFor = rule.keepFiringFor.compactDescription
            severity = rule.severity
            builtIn = rule.builtIn
            origin = rule.origin
        }
    }

    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
    }

    /// `{"type":"alert","alert":{…}}` for the live stream.
    static func event(_ instance: AlertInstance, silencedBy: [String]) -> String {
        "{\"type\":\"alert\",\"alert\":" + encode(AlertView(instance, silencedBy: silencedBy)) + "}"
    }
}
