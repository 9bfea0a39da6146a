import VigilCore

/// Turns one MQTT message into readings: the first subscription whose filter matches the topic
/// decides the payload format, the names and the labels; the normalizer does the rest.
/// Thread-safe: it runs on the broker connection's thread for every message.
public struct MessageMapper: Sendable {
    public let subscriptions: [SubscriptionConfig]
    public let normalizer: Normalizer

    public init(subscriptions: [SubscriptionConfig], normalizer: Normalizer = Normalizer(config: NormalizeConfig())) {
        self.subscriptions = subscriptions
        self.normalizer = normalizer
    }

    /// What one message gave: readings, and a reason for each part that could not be used.
    public struct Outcome: Sendable {
        public var readings: [Reading] = []
        public var rejects: [PayloadReject] = []
        /// Index of the subscription that matched (for the liveness watchdog).
        public var subscription: Int?
    }

    public func map(topic: String, payload: [UInt8], receivedMs: Int64) -> Outcome {
        var outcome = Outcome()
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = subscriptions.firstIndex(where: { $0.filter.matches(levels: levels) }) else {
            outcome.rejects = [.noSubscription]
            return outcome
        }
        outcome.subscription = index
        let subscription = subscriptions[index]
        var topicLabels = subscription.labels
        var baseMetric = subscription.metric
        if let pattern = subscription.pattern {
            guard let match = pattern.match(levels: levels) else {
                outcome.rejects = [.topicMismatch]
                return outcome
            }
            var captured = Labels()
            for (name, value) in match.labels { captured[name] = value }
            topicLabels = captured.merging(subscription.labels)  // static labels win
            if baseMetric == nil, let name = match.metric {
                guard let sanitized = NameRules.sanitizeMetricName(name) else {
                    outcome.rejects = [.invalidMetricName]
                    return outcome
                }
                baseMetric = sanitized
            }
        }
        let decoded = subscription.format.decode(payload, receivedMs: receivedMs)
        outcome.rejects = decoded.rejects
        var candidates: [Normalizer.Candidate] = []
        candidates.reserveCapacity(decoded.samples.count)
        for sample in decoded.samples {
            let metric: String?
            if let name = sample.name {
                // A field called `value` is the subscription's metric itself (as in Influx).
                let raw = sample.exactName ? name
                    : name == "value" && baseMetric != nil ? baseMetric!
                    : baseMetric.map { "\($0)_\(name)" } ?? name
                metric = NameRules.sanitizeMetricName(raw)
            } else {
                metric = baseMetric
            }
            guard let metric else {
                outcome.rejects.append(.invalidMetricName)
                continue
            }
            var labels = topicLabels
            if !sample.labels.isEmpty {
                var fromPayload = Labels()
                for label in sample.labels {
                    if let name = NameRules.sanitizeLabelName(label.name) { fromPayload[name] = label.value }
                }
                labels = fromPayload.merging(topicLabels)  // topic and static labels win
            }
            let deviceTime = subscription.timestamps == .device && sample.timestampMs != nil
            let reading = Reading(metric: metric, labels: labels, timestampMs: deviceTime ? sample.timestampMs! : receivedMs,
                                  value: sample.value, unit: sample.unit ?? subscription.unit)
            candidates.append(Normalizer.Candidate(reading: reading, deviceTime: deviceTime))
        }
        let normalized = normalizer.normalize(candidates, receivedMs: receivedMs)
        outcome.readings = normalized.readings
        outcome.rejects += normalized.rejects
        return outcome
    }
}
