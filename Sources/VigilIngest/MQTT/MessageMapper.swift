import VigilCore

/// Turns one MQTT message into readings using the first subscription whose filter matches.
/// Pure and thread-safe: it runs on the broker connection's thread for every message.
public struct MessageMapper: Sendable {
    let subscriptions: [SubscriptionConfig]

    public init(subscriptions: [SubscriptionConfig]) {
        self.subscriptions = subscriptions
    }

    public func map(topic: String, payload: [UInt8], receivedMs: Int64) -> Result<[Reading], PayloadReject> {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let subscription = subscriptions.first(where: { $0.filter.matches(levels: levels) }) else {
            return .failure(.noSubscription)
        }
        var labels = subscription.labels
        var metric = subscription.metric
        if let pattern = subscription.pattern {
            guard let match = pattern.match(levels: levels) else { return .failure(.topicMismatch) }
            for (name, value) in match.labels { labels[name] = value }
            if metric == nil, let captured = match.metric {
                guard let sanitized = NameRules.sanitizeMetricName(captured) else { return .failure(.invalidMetricName) }
                metric = sanitized
            }
        }
        guard let metric else { return .failure(.invalidMetricName) }
        switch subscription.format {
        case .value:
            switch PlainValueParser.parse(payload) {
            case .success(let value):
                return .success([Reading(metric: metric, labels: labels, timestampMs: receivedMs, value: value,
                                         unit: subscription.unit)])
            case .failure(let reject):
                return .failure(reject)
            }
        }
    }
}
