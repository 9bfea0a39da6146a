import VigilConfig

/// A place notifications go. Every notifier delivers through the durable outbox: written first,
/// sent in order, retried with exponential backoff until it succeeds.
public struct NotifierConfig: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case webhook(Webhook)
        case alertmanager(Alertmanager)
        case mqtt(MQTT)
    }

    public struct Webhook: Sendable, Equatable {
        public var url: String
        /// Key for the `X-Vigil-Signature: sha256=<hex HMAC of the body>` header; nil sends no signature.
        public var secret: Secret?
        public var headers: [String: String]
        public var caFile: String?
        public var insecureSkipVerify: Bool
    }

    public struct Alertmanager: Sendable, Equatable {
        /// Base URL; alerts go to `<url>/api/v2/alerts`.
        public var url: String
        /// Firing alerts are re-sent this often, as Alertmanager expects (it resolves alerts it
        /// stops hearing about after their `endsAt`, which is set to 4 × this interval ahead).
        public var resendInterval: Duration
        public var headers: [String: String]
        public var caFile: String?
        public var insecureSkipVerify: Bool
    }

    public struct MQTT: Sendable, Equatable {
        /// Name of a broker under `mqtt.brokers`; its address, TLS and credentials are used.
        public var broker: String
        public var topic: AnnotationTemplate
        public var qos: Int
        public var retain: Bool
    }

    public var name: String
    public var kind: Kind
    public var timeout: Duration
    public var retryInitial: Duration
    public var retryMax: Duration

    public var typeName: String {
        switch kind {
        case .webhook: "webhook"
        case .alertmanager: "alertmanager"
        case .mqtt: "mqtt"
        }
    }
}

/// A string that never prints: `description` is `<redacted>`, so a secret cannot end up in a log line.
public struct Secret: Sendable, Equatable, CustomStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
}

/// Which notifiers get an alert, and how often a still-firing alert is repeated.
public struct AlertRoute: Sendable {
    /// Empty means any.
    public var severities: [String]
    /// Empty means any.
    public var rules: [String]
    public var notifiers: [String]
    public var repeatInterval: Duration

    public func matches(rule: String, severity: String) -> Bool {
        (severities.isEmpty || severities.contains(severity)) && (rules.isEmpty || rules.contains(rule))
    }
}
