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
    public var name: String
    public var host: String
    public var port: Int
    public var clientID: String
    public var username: String?
    public var password: String?
    public var keepalive: Int
    public var cleanSession: Bool
    public var reconnectMinimum: Duration
    public var reconnectMaximum: Duration
    /// Retained `online`/`offline` (will) messages on `vigil/<gateway>/status`.
    public var statusTopic: String?
    public var subscriptions: [SubscriptionConfig]

    static func decode(_ object: ConfigObject, index: Int, gatewayName: String) throws(ConfigError) -> BrokerConfig {
        let urlText = try object.string("url", default: "mqtt://127.0.0.1:1883")
        let endpoint = try BrokerURL.parse(urlText, at: object.location(of: "url"), key: object.qualified("url"))
        let name = try object.string("name", default: index == 0 ? "default" : "broker\(index + 1)")
        guard NameRules.isValidLabelName(name.replacingOccurrences(of: "-", with: "_")) else {
            throw ConfigError("\(object.qualified("name")): use letters, digits, '-' and '_' (found '\(name)')",
                              at: object.location(of: "name"))
        }
        let safeGateway = gatewayName.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }
        var broker = BrokerConfig(
            name: name, host: endpoint.host, port: endpoint.port,
            clientID: try object.string("client_id", default: "vigil-\(String(safeGateway))-\(name)"),
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
            broker.subscriptions.append(try SubscriptionConfig.decode(subscription))
        }
        try object.finish()
        return broker
    }
}

/// One topic filter with how its messages become readings.
public struct SubscriptionConfig: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        /// The payload is a single number or state word.
        case value
    }

    public var filter: TopicFilter
    public var qos: Int
    public var pattern: TopicPattern?
    /// A fixed metric name; otherwise the pattern's `{metric}` capture names it.
    public var metric: String?
    public var labels: Labels
    public var unit: String?
    public var format: Format

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
        if metric == nil, pattern?.capturesMetric != true {
            throw ConfigError(
                "\(object.path): say which metric the messages are: set 'metric', or capture it with {metric} in 'pattern'",
                at: object.location)
        }
        var labels = Labels()
        for (name, value, location) in try object.stringMap("labels") {
            guard NameRules.isValidLabelName(name) else {
                throw ConfigError("\(object.qualified("labels")).\(name): '\(name)' is not a valid label name", at: location)
            }
            labels[name] = value
        }
        let formatName = try object.choice("format", from: Format.allCases.map(\.rawValue), default: "value")
        let subscription = SubscriptionConfig(
            filter: filter,
            qos: try object.int("qos", default: 1, in: 0...2),
            pattern: pattern, metric: metric, labels: labels,
            unit: try object.optionalString("unit"),
            format: Format(rawValue: formatName) ?? .value)
        try object.finish()
        return subscription
    }
}

/// `mqtt://host[:port]`; IPv6 hosts in brackets.
public enum BrokerURL {
    public static func parse(_ text: String, at location: ConfigLocation, key: String) throws(ConfigError) -> (host: String, port: Int) {
        guard let schemeEnd = text.range(of: "://") else {
            throw ConfigError("\(key): expected a broker URL like mqtt://127.0.0.1:1883, found '\(text)'", at: location)
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "mqtt" || scheme == "tcp" else {
            if scheme == "mqtts" || scheme == "ssl" {
                throw ConfigError("\(key): TLS connections to brokers (mqtts://) are not supported in this version yet", at: location)
            }
            throw ConfigError("\(key): unknown scheme '\(scheme)' (use mqtt://)", at: location)
        }
        var rest = String(text[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.contains("@") else {
            throw ConfigError("\(key): put credentials in 'username' and 'password', not in the URL", at: location)
        }
        guard !rest.contains("/") else {
            throw ConfigError("\(key): a broker URL has no path ('\(text)')", at: location)
        }
        if rest.hasPrefix("["), rest.hasSuffix("]") { rest += ":1883" }
        if !rest.contains(":") { rest += ":1883" }
        guard let (host, port) = ConfigValues.parseHostPort(rest), port > 0, !host.isEmpty, !rest.hasPrefix(":") else {
            throw ConfigError("\(key): expected mqtt://HOST:PORT, found '\(text)'", at: location)
        }
        return (host, port)
    }
}

import Foundation
