import VigilCore
import VigilMQTT
extension BrokerConfig {
    /// Connection options for this broker: address, TLS, credentials, reconnect backoff, the
    /// configured subscriptions and the status topic's will and birth messages.
    public func clientOptions() -> MosquittoClient.Options {
        var options = MosquittoClient.Options(host: host, port: port, clientID: clientID)
        options.cleanSession = cleanSession
        options.keepalive = keepalive
        options.username = username
        options.password = password
        options.reconnectMinimum = reconnectMinimum
        options.reconnectMaximum = reconnectMaximum
        options.subscriptions = subscriptions.map { ($0.filter.description, $0.qos) }
        options.mqtt5 = protocolVersion == .v5
        options.sessionExpirySeconds = UInt32(clamping: sessionExpiry.components.seconds)
        if let tls = tls {
            options.tls = .init(caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, insecure: tls.insecure)
        }
        if let topic = statusTopic {
            options.will = .init(topic: topic, payload: "offline", qos: 1, retain: true)
            options.births = [.init(topic: topic, payload: "online", qos: 1, retain: true)]
        }
        if let host = sparkplugHostID {
            // One will per connection: a Sparkplug host application's must be its STATE (edge
            // nodes act on it); the status topic then says "offline" on a clean stop only.
            let topic = SparkplugTopic.hostState(host)
            options.will = .init(topic: topic, payload: SparkplugCommands.hostState(online: false, timestampMs: sessionStartMs),
                                 qos: 1, retain: true)
            options.births.append(.init(topic: topic, payload: SparkplugCommands.hostState(online: true, timestampMs: sessionStartMs),
                                        qos: 1, retain: true))
        }
        return options
    }

    /// The timestamp of this process's Sparkplug STATE messages (birth and will alike).
    private var sessionStartMs: Int64 { BrokerConfig.processStartMs }
    static let processStartMs = WallClock.nowMs()
}

extension MQTTConfig {
    /// Each broker's connection options by name: what other parts (the MQTT alert notifier)
    /// connect with, without knowing ingest's configuration.
    public var clientOptionsByBroker: [String: MosquittoClient.Options] {
        Dictionary(brokers.map { ($0.name, $0.clientOptions()) }, uniquingKeysWith: { first, _ in first })
    }
}
