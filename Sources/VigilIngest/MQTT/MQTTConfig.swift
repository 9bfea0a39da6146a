import VigilConfig
import VigilCore

/// The `mqtt:` section: one entry per broker connection.
public struct MQTTConfig: Sendable {
    public var brokers: [BrokerConfig]

    public init(brokers: [BrokerConfig] = []) { self.brokers = brokers }

    public static func decode(_ section: ConfigObject, gatewayName: String) throws(ConfigError) -> MQTTConfig {
        var brokers: [BrokerConfig] = []
        for (i, object) in try section.objects("brokers").enumerated() {
            let broker = try BrokerConfig.decode(object, index: i, gatewayName: gatewayName)
            if let other = brokers.first(where: { $0.name == broker.name }) {
                throw ConfigError("\(object.path).name: broker name '\(other.name)' is used twice; names must be unique",
                                  at: object.location(of: "name"))
            }
            brokers.append(broker)
        }
        try section.finish()
        return MQTTConfig(brokers: brokers)
    }
}

/// One broker connection and its subscriptions.
public struct BrokerConfig: Sendable {
    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case v311 = "3.1.1"
        case v5 = "5"
    }

    public struct TLSSettings: Sendable, Equatable {
        /// PEM file of the CA(s) that signed the broker's certificate; nil: the system's store.
        public var caFile: String?
        /// Client certificate and key (PEM) for brokers that require them.
        public var certFile: String?
        public var keyFile: String?
        /// Skip certificate and host name verification. For tests only: never in production.
        public var insecure: Bool
    }

    public var name: String
    public var host: String
    public var port: Int
    public var clientID: String
    /// TLS settings when the URL is `mqtts://`.
    public var tls: TLSSettings?
    /// MQTT 3.1.1 or 5.
    public var protocolVersion: ProtocolVersion
    /// MQTT 5 session expiry: how long the broker keeps the session (and queues QoS 1/2 messages)
    /// after the gateway disconnects, when `clean_session` is false.
    public var sessionExpiry: Duration
    public var username: String?
    public var password: String?
    public var keepalive: Int
    public var cleanSession: Bool
    public var reconnectMinimum: Duration
    public var reconnectMaximum: Duration
    /// Retained `online`/`offline` (will) messages on `vigil/<gateway>/status`.
    public var statusTopic: String?
    public var subscriptions: [SubscriptionConfig]

    /// The Sparkplug host application id a subscription's `sparkplug.host_id` gives this
    /// connection (its STATE messages and will).
    public var sparkplugHostID: String? {
        for subscription in subscriptions {
            if case .sparkplug(let options) = subscription.format, let host = options.hostID { return host }
        }
        return nil
    }

    static func decode(_ object: ConfigObject, index: Int, gatewayName: String) throws(ConfigError) -> BrokerConfig {
        let urlText = try object.string("url", default: "mqtt://127.0.0.1:1883")
        let endpoint = try BrokerURL.parse(urlText, at: object.location(of: "url"), key: object.qualified("url"))
        let name = try object.string("name", default: index == 0 ? "default" : "broker\(index + 1)")
        guard NameRules.isValidLabelName(name.replacing("-", with: "_")) else {
            throw ConfigError("\(object.qualified("name")): use letters, digits, '-' and '_' (found '\(name)')",
                              at: object.location(of: "name"))
        }
        let safeGateway = gatewayName.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }
        let version = try object.choice("protocol", from: ProtocolVersion.allCases.map(\.rawValue), default: "3.1.1")
        var broker = BrokerConfig(
            name: name, host: endpoint.host, port: endpoint.port,
            clientID: try object.string("client_id", default: "vigil-\(String(safeGateway))-\(name)"),
            tls: nil, protocolVersion: ProtocolVersion(rawValue: version) ?? .v311,
            sessionExpiry: try object.duration("session_expiry", default: .seconds(86_400)),
            username: try object.optionalString("username"),
            password: try object.optionalString("password"),
            keepalive: try object.int("keepalive", default: 30, in: 5...3600),
            cleanSession: try object.bool("clean_session", default: false),
            reconnectMinimum: .seconds(1), reconnectMaximum: .seconds(60),
            statusTopic: nil, subscriptions: [])
        if broker.password != nil, broker.username == nil {
            throw ConfigError("\(object.qualified("password")) is set without a username", at: object.location(of: "password"))
        }
        guard broker.clientID.utf8.count <= 65535, !broker.clientID.isEmpty else {
            throw ConfigError("\(object.qualified("client_id")) must not be empty", at: object.location(of: "client_id"))
        }
        if let tlsObject = try object.object("tls") {
            guard endpoint.tls else {
                throw ConfigError("\(object.qualified("tls")): TLS settings need an mqtts:// url", at: object.location(of: "tls"))
            }
            var settings = TLSSettings(caFile: nil, certFile: nil, keyFile: nil, insecure: false)
            for (key, keyPath) in [("ca_file", \TLSSettings.caFile), ("cert_file", \TLSSettings.certFile), ("key_file", \TLSSettings.keyFile)] {
                guard let path = try tlsObject.optionalString(key) else { continue }
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw ConfigError("\(tlsObject.qualified(key)): cannot read \(path)", at: tlsObject.location(of: key))
                }
                settings[keyPath: keyPath] = path
            }
            if (settings.certFile == nil) != (settings.keyFile == nil) {
                throw ConfigError("\(tlsObject.path): cert_file and key_file go together", at: tlsObject.location)
            }
            settings.insecure = try tlsObject.bool("insecure", default: false)
            if settings.insecure {
                tlsObject.warn("\(tlsObject.qualified("insecure")) is true: the broker's certificate is not verified (tests only)",
                               at: tlsObject.location(of: "insecure"))
            }
            try tlsObject.finish()
            broker.tls = settings
        } else if endpoint.tls {
            broker.tls = TLSSettings(caFile: nil, certFile: nil, keyFile: nil, insecure: false)
        }
        let reconnect = try object.section("reconnect")
        broker.reconnectMinimum = try reconnect.duration("min_delay", default: .seconds(1))
        broker.reconnectMaximum = try reconnect.duration("max_delay", default: .seconds(60))
        guard broker.reconnectMinimum >= .milliseconds(100), broker.reconnectMaximum >= broker.reconnectMinimum else {
            throw ConfigError("\(reconnect.path): need 100ms <= min_delay <= max_delay", at: reconnect.location)
        }
        try reconnect.finish()
        let announce = try object.bool("status_messages", default: true)
        broker.statusTopic = announce ? "vigil/\(String(safeGateway))/status" : nil
        let subscriptionObjects = try object.objects("subscriptions")
        if subscriptionObjects.isEmpty {
            object.warn("\(object.path) has no subscriptions: nothing will be ingested from it", at: object.location)
        }
        for subscription in subscriptionObjects {
            let decoded = try SubscriptionConfig.decode(subscription)
            if case .sparkplug(let options) = decoded.format, let host = options.hostID,
               let other = broker.sparkplugHostID, other != host {
                throw ConfigError("\(subscription.qualified("sparkplug")).host_id: '\(host)', but another subscription of this broker says '\(other)'; one connection is one host application",
                                  at: subscription.location(of: "sparkplug"))
            }
            broker.subscriptions.append(decoded)
        }
        try object.finish()
        return broker
    }
}

/// One topic filter with how its messages become readings.
public struct SubscriptionConfig: Sendable {
    public enum TimestampSource: String, Sendable, CaseIterable {
        /// The payload's timestamp when it has one, else the receive time.
        case device
        /// Always the receive time.
        case receive
    }

    public var filter: TopicFilter
    public var qos: Int
    public var pattern: TopicPattern?
    /// A fixed metric name; otherwise the pattern's `{metric}` capture names it. With formats whose
    /// payloads name their values (json, influx, senml), it is a prefix: `<metric>_<name>`.
    public var metric: String?
    public var labels: Labels
    public var unit: String?
    public var format: PayloadFormat
    public var timestamps: TimestampSource
    /// The liveness watchdog: messages are expected at least this often (nil: no watchdog).
    public var expectEvery: Duration?
    /// Silence longer than `expectEvery × silenceFactor` counts as "connected but silent".
    public var silenceFactor: Int

    public static let formats = ["value", "json", "influx", "senml", "sparkplug"]

    public init(filter: TopicFilter, qos: Int = 1, pattern: TopicPattern? = nil, metric: String? = nil, labels: Labels = .empty,
                unit: String? = nil, format: PayloadFormat = .value, timestamps: TimestampSource = .device,
                expectEvery: Duration? = nil, silenceFactor: Int = 3) {
        self.filter = filter
        self.qos = qos
        self.pattern = pattern
        self.metric = metric
        self.labels = labels
        self.unit = unit
        self.format = format
        self.timestamps = timestamps
        self.expectEvery = expectEvery
        self.silenceFactor = silenceFactor
    }

    static func decode(_ object: ConfigObject) throws(ConfigError) -> SubscriptionConfig {
        let topicText = try object.requiredString("topic")
        let filter: TopicFilter
        switch TopicFilter.parse(topicText) {
        case .success(let parsed): filter = parsed
        case .failure(let error):
            throw ConfigError("\(object.qualified("topic")): invalid topic filter '\(topicText)': \(error)",
                              at: object.location(of: "topic"))
        }
        var pattern: TopicPattern?
        if let (text, location) = try object.scalar("pattern") {
            switch TopicPattern.parse(text) {
            case .success(let parsed): pattern = parsed
            case .failure(let error):
                throw ConfigError("\(object.qualified("pattern")): \(error)", at: location)
            }
        }
        let metric = try object.optionalString("metric")
        if let metric, !NameRules.isValidMetricName(metric) {
            throw ConfigError(
                "\(object.qualified("metric")): '\(metric)' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                at: object.location(of: "metric"))
        }
        var labels = Labels()
        for (name, value, location) in try object.stringMap("labels") {
            guard NameRules.isValidLabelName(name) else {
                throw ConfigError("\(object.qualified("labels")).\(name): '\(name)' is not a valid label name", at: location)
            }
            labels[name] = value
        }
        let formatName = try object.choice("format", from: formats, default: "value")
        for other in formats where other != formatName && object.has(other) {
            throw ConfigError("\(object.qualified(other)): options for the '\(other)' format, but format is '\(formatName)'",
                              at: object.location(of: other))
        }
        let format = try decodeFormat(formatName, object)
        if case .sparkplug = format {
            if object.has("pattern") {
                throw ConfigError("\(object.qualified("pattern")): Sparkplug topics name group, node and device themselves; remove 'pattern'",
                                  at: object.location(of: "pattern"))
            }
            if !topicText.hasPrefix("spBv1.0/"), topicText != "#" {
                object.warn("\(object.qualified("topic")): Sparkplug B topics start with spBv1.0/ (found '\(topicText)')",
                            at: object.location(of: "topic"))
            }
        }
        if case .value = format, metric == nil, pattern?.capturesMetric != true {
            throw ConfigError(
                "\(object.path): say which metric the messages are: set 'metric', or capture it with {metric} in 'pattern'",
                at: object.location)
        }
        let timestamps = try object.choice("timestamps", from: TimestampSource.allCases.map(\.rawValue), default: "device")
        var expectEvery: Duration?
        if object.has("expect_every") {
            let interval = try object.duration("expect_every", default: .seconds(0))
            guard interval >= .milliseconds(100) else {
                throw ConfigError("\(object.qualified("expect_every")): must be at least 100ms", at: object.location(of: "expect_every"))
            }
            expectEvery = interval
        }
        let subscription = SubscriptionConfig(
            filter: filter,
            qos: try object.int("qos", default: 1, in: 0...2),
            pattern: pattern, metric: metric, labels: labels,
            unit: try object.optionalString("unit"),
            format: format,
            timestamps: TimestampSource(rawValue: timestamps) ?? .device,
            expectEvery: expectEvery,
            silenceFactor: try object.int("silence_factor", default: 3, in: 1...1000))
        try object.finish()
        return subscription
    }

    static func decodeFormat(_ name: String, _ object: ConfigObject) throws(ConfigError) -> PayloadFormat {
        switch name {
        case "json":
            var options = JSONPayloadOptions()
            guard let json = try object.object("json") else { return .json(options) }
            for field in try json.objects("fields") {
                let path = try field.requiredString("path")
                let name = try field.optionalString("metric")
                if let name, !NameRules.isValidMetricName(name) {
                    throw ConfigError("\(field.qualified("metric")): '\(name)' is not a valid metric name", at: field.location(of: "metric"))
                }
                options.fields.append(.init(path: path, name: name, unit: try field.optionalString("unit")))
                try field.finish()
            }
            if let items = try json.optionalString("items") { options.items = items.split(separator: ".") }
            if let timestamp = try json.object("timestamp") {
                options.timestampPath = try timestamp.requiredString("path").split(separator: ".")
                let unit = try timestamp.choice("unit", from: PayloadTimestamp.Unit.allCases.map(\.rawValue), default: "auto")
                options.timestampUnit = PayloadTimestamp.Unit(rawValue: unit) ?? .auto
                try timestamp.finish()
            }
            for (label, path, location) in try json.stringMap("labels") {
                guard NameRules.isValidLabelName(label) else {
                    throw ConfigError("\(json.qualified("labels")).\(label): '\(label)' is not a valid label name", at: location)
                }
                options.labelPaths.append((label, path.split(separator: ".")))
            }
            try json.finish()
            return .json(options)
        case "influx":
            guard let influx = try object.object("influx") else { return .influx(.ns) }
            let precision = try influx.choice("precision", from: InfluxLineParser.Precision.allCases.map(\.rawValue), default: "ns")
            try influx.finish()
            return .influx(InfluxLineParser.Precision(rawValue: precision) ?? .ns)
        case "senml":
            var options = SenMLOptions()
            if let senml = try object.object("senml") {
                options.baseNameLabel = try senml.string("base_name_label", default: "device")
                if !options.baseNameLabel.isEmpty, !NameRules.isValidLabelName(options.baseNameLabel) {
                    throw ConfigError("\(senml.qualified("base_name_label")): not a valid label name", at: senml.location(of: "base_name_label"))
                }
                try senml.finish()
            }
            return .senml(options)
        case "sparkplug":
            return .sparkplug(try SparkplugOptions.decode(try object.object("sparkplug")))
        default:
            return .value
        }
    }
}

/// `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (TLS, 8883); IPv6 hosts in brackets.
public enum BrokerURL {
    public static func parse(_ text: String, at location: ConfigLocation, key: String) throws(ConfigError) -> (host: String, port: Int, tls: Bool) {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw ConfigError("\(key): expected a broker URL like mqtt://127.0.0.1:1883, found '\(text)'", at: location)
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let tls = scheme == "mqtts" || scheme == "ssl"
        guard scheme == "mqtt" || scheme == "tcp" || tls else {
            throw ConfigError("\(key): unknown scheme '\(scheme)' (use mqtt:// or mqtts://)", at: location)
        }
        let defaultPort = tls ? ":8883" : ":1883"
        var rest = String(text[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.contains("@") else {
            throw ConfigError("\(key): put credentials in 'username' and 'password', not in the URL", at: location)
        }
        guard !rest.contains("/") else {
            throw ConfigError("\(key): a broker URL has no path ('\(text)')", at: location)
        }
        if rest.hasPrefix("["), rest.hasSuffix("]") { rest += defaultPort }
        if !rest.contains(":") { rest += defaultPort }
        guard let (host, port) = ConfigValues.parseHostPort(rest), port > 0, !host.isEmpty, !rest.hasPrefix(":") else {
            throw ConfigError("\(key): expected mqtt://HOST:PORT, found '\(text)'", at: location)
        }
        return (host, port, tls)
    }
}

import FoundationEssentials
