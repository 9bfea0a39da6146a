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
            options.birth = .init(topic: topic, payload: "online", qos: 1, retain: true)
        }
        return options
    }
}

extension MQTTConfig {
    /// Each broker's connection options by name: what other parts (the MQTT alert notifier)
    /// connect with, without knowing ingest's configuration.
    public var clientOptionsByBroker: [String: MosquittoClient.Options] {
        Dictionary(brokers.map { ($0.name, $0.clientOptions()) }, uniquingKeysWith: { first, _ in first })
    }
}
