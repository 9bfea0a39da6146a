import SwiftProtobuf
import Synchronization
import VigilCore

/// Turns one MQTT message into readings: the first subscription whose filter matches the topic
/// decides the payload format, the names and the labels; the normalizer does the rest.
/// Thread-safe: it runs on the broker connection's thread for every message.
public struct MessageMapper: Sendable {
    public let subscriptions: [SubscriptionConfig]
    public let normalizer: Normalizer
    /// Devices publish to the same few topics over and over: what a topic resolves to (its
    /// subscription, labels and metric) and the series keys built from it are remembered.
    let cache = TopicCache()
    /// The host application state of each `format: sparkplug` subscription, by index.
    let sparkplug: [Int: SparkplugSessions]

    /// `broker` labels the Sparkplug counters. `explain`: read every Sparkplug message as if its
    /// node and device were born (`vigil mapping explain`), and publish nothing.
    public init(subscriptions: [SubscriptionConfig], normalizer: Normalizer = Normalizer(config: NormalizeConfig()),
                broker: String? = nil, explain: Bool = false) {
        self.subscriptions = subscriptions
        self.normalizer = normalizer
        var sparkplug: [Int: SparkplugSessions] = [:]
        for (index, subscription) in subscriptions.enumerated() {
            guard case .sparkplug(let options) = subscription.format else { continue }
            sparkplug[index] = SparkplugSessions(options: options, naming: SparkplugNaming(prefix: subscription.metric, labels: subscription.labels),
                                                 broker: broker, assumeBorn: explain)
        }
        self.sparkplug = sparkplug
    }

    /// What one message gave: readings, and a reason for each part that could not be used.
    public struct Outcome: Sendable {
        public var readings: [Reading] = []
        public var rejects: [PayloadReject] = []
        /// Index of the subscription that matched (for the liveness watchdog).
        public var subscription: Int?
        /// Sparkplug: messages to publish in answer (rebirth requests).
        public var commands: [SparkplugCommand] = []
        /// Sparkplug: edge nodes and devices born or dead.
        public var changes: [SparkplugStateChange] = []
        /// Sparkplug: what was not taken and why, for the log (a death of another session).
        public var notice: String?
    }

    public func map(topic: String, payload: [UInt8], receivedMs: Int64) -> Outcome {
        var outcome = Outcome()
        let entry = cache.entry(for: topic) ?? cache.store(resolve(topic), for: topic)
        let resolved = entry.resolution
        let (index, topicLabels, baseMetric): (Int, Labels, String?)
        switch resolved {
        case .rejected(let reason, let subscription):
            outcome.subscription = subscription
            outcome.rejects = [reason]
            return outcome
        case .resolved(let i, let labels, let metric):
            (index, topicLabels, baseMetric) = (i, labels, metric)
        }
        outcome.subscription = index
        let subscription = subscriptions[index]
        if let sessions = sparkplug[index] {
            mapSparkplug(topic: topic, payload: payload, receivedMs: receivedMs, subscription: subscription, sessions: sessions,
                         into: &outcome)
            return outcome
        }
        let decoded = subscription.format.decode(payload, receivedMs: receivedMs)
        outcome.rejects = decoded.rejects
        var candidates: [Normalizer.Candidate] = []
        candidates.reserveCapacity(decoded.samples.count)
        for sample in decoded.samples {
            let series: SeriesKey
            if sample.labels.isEmpty, let known = entry.single, known.name == sample.name, known.exact == sample.exactName {
                series = known.key  // one value per message under this topic: no second lookup
            } else if sample.labels.isEmpty, let known = cache.series(topic: topic, name: sample.name, exact: sample.exactName) {
                series = known
            } else {
                guard let metric = metricName(sample, base: baseMetric) else {
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
                series = SeriesKey(metric: metric, labels: labels)
                if sample.labels.isEmpty { cache.remember(series, topic: topic, name: sample.name, exact: sample.exactName) }
            }
            candidates.append(Self.candidate(series, value: sample.value, deviceMs: sample.timestampMs, unit: sample.unit,
                                             subscription: subscription, receivedMs: receivedMs))
        }
        let normalized = normalizer.normalize(candidates, receivedMs: receivedMs)
        outcome.readings = normalized.readings
        outcome.rejects += normalized.rejects
        return outcome
    }

    func mapSparkplug(topic: String, payload: [UInt8], receivedMs: Int64, subscription: SubscriptionConfig,
                      sessions: SparkplugSessions, into outcome: inout Outcome) {
        guard let parsed = sessions.parse(topic) else {
            outcome.rejects = [.sparkplugTopic]
            return
        }
        guard !payload.isEmpty || parsed.type == .state else {
            outcome.rejects = [.empty]
            return
        }
        guard payload.count <= sessions.options.maxPayloadBytes else {
            outcome.rejects = [.tooLarge]
            return
        }
        if parsed.type == .state { return }  // another host's JSON state: nothing to decode
        let decoded: Org_Eclipse_Tahu_Protobuf_Payload
        do {
            decoded = try Org_Eclipse_Tahu_Protobuf_Payload(serializedBytes: payload, options: Self.decodingOptions)
        } catch {
            outcome.rejects = [.invalidSparkplug]
            return
        }
        let result = sessions.handle(parsed, decoded, receivedMs: receivedMs)
        outcome.commands = result.commands
        outcome.changes = result.changes
        outcome.notice = result.notice
        var candidates: [Normalizer.Candidate] = []
        candidates.reserveCapacity(result.samples.count)
        for sample in result.samples {
            candidates.append(Self.candidate(sample.series, value: sample.value, deviceMs: sample.timestampMs, unit: sample.unit,
                                             subscription: subscription, receivedMs: receivedMs))
        }
        let normalized = normalizer.normalize(candidates, receivedMs: receivedMs)
        outcome.readings = normalized.readings
        outcome.rejects = result.rejects + normalized.rejects
    }

    /// A named value as the normalizer takes it: the device's time when the subscription uses
    /// device times and the payload had one, else the receive time; the payload's unit, else the
    /// subscription's.
    static func candidate(_ series: SeriesKey, value: Double, deviceMs: Int64?, unit: String?,
                          subscription: SubscriptionConfig, receivedMs: Int64) -> Normalizer.Candidate {
        let deviceTime = subscription.timestamps == .device && deviceMs != nil
        let reading = Reading(series: series, timestampMs: deviceTime ? deviceMs! : receivedMs, value: value,
                              unit: unit ?? subscription.unit)
        return Normalizer.Candidate(reading: reading, deviceTime: deviceTime)
    }

    /// The broker connection is gone: every Sparkplug node and device online so far is shown
    /// offline until it publishes again.
    public func connectionLost() -> [SparkplugStateChange] {
        sparkplug.keys.sorted().flatMap { sparkplug[$0]!.connectionLost() }
    }

    /// Unknown fields (data sets, templates, metadata: not read here) are dropped while decoding
    /// rather than kept in memory; nesting is shallow in this schema.
    static let decodingOptions: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.discardUnknownFields = true
        options.messageDepthLimit = 16
        return options
    }()

    /// The metric of a sample: its own name (with the subscription's metric in front unless the
    /// name was configured), or the subscription's metric.
    func metricName(_ sample: PayloadSample, base: String?) -> String? {
        guard let name = sample.name else { return base }
        // A field called `value` is the subscription's metric itself (as in Influx).
        let raw = sample.exactName ? name
            : name == "value" && base != nil ? base!
            : base.map { "\($0)_\(name)" } ?? name
        return NameRules.sanitizeMetricName(raw)
    }

    /// Which subscription a topic belongs to, with the labels and metric its pattern gives.
    func resolve(_ topic: String) -> TopicCache.Resolution {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = subscriptions.firstIndex(where: { $0.filter.matches(levels: levels) }) else {
            return .rejected(.noSubscription, subscription: nil)
        }
        let subscription = subscriptions[index]
        var topicLabels = subscription.labels
        var baseMetric = subscription.metric
        if let pattern = subscription.pattern {
            guard let match = pattern.match(levels: levels) else { return .rejected(.topicMismatch, subscription: index) }
            var captured = Labels()
            for (name, value) in match.labels { captured[name] = value }
            topicLabels = captured.merging(subscription.labels)  // static labels win
            if baseMetric == nil, let name = match.metric {
                guard let sanitized = NameRules.sanitizeMetricName(name) else {
                    return .rejected(.invalidMetricName, subscription: index)
                }
                baseMetric = sanitized
            }
        }
        return .resolved(subscription: index, labels: topicLabels, metric: baseMetric)
    }
}

/// Remembered topic resolutions and series keys, bounded (cleared when full: a topic space that
/// large gains nothing from a cache anyway). Used from one connection's thread; the lock is
/// uncontended.
final class TopicCache: Sendable {
    enum Resolution: Sendable {
        case resolved(subscription: Int, labels: Labels, metric: String?)
        case rejected(PayloadReject, subscription: Int?)
    }

    struct SeriesSlot: Hashable {
        let topic: String
        let name: String?
        let exact: Bool
    }

    /// Topics remembered per connection: a plant of 10 000 series on one topic each (the
    /// footprint bench) sat exactly at the old limit of 10 000 and cleared the cache every
    /// second; 25 000 topics cost about 3 MB at most.
    static let limit = 25_000

    /// The entries sit in an array of their own and the table maps a topic to its position: a
    /// table of entries kept room for 16 384 of the ~96-byte entries at 10 000 topics (1.8 MB,
    /// heaptrack); a table of 4-byte positions keeps that room for 0.3 MB beside 0.96 MB of
    /// entries. The table is keyed by the topic's hash, and the topics' bytes sit one after
    /// another in one array, compared on every hit: a table keyed by the topics kept each as a
    /// string of its own (0.7 MB of 36-byte topics at 10 000, with their headers) and 16 bytes
    /// for each of its 16 384 places. A topic whose hash another holds is resolved every time.
    private struct Tables {
        var positions: [Int: Int32] = [:]
        var entries: ContiguousArray<Entry> = []
        /// By position: where each entry's topic is in `topicBytes`.
        var topicSpans: ContiguousArray<(start: UInt32, count: UInt32)> = []
        var topicBytes: [UInt8] = []
        var series: [SeriesSlot: SeriesKey] = [:]
        /// One copy of each topic label set. The topics of one device differ in their metric
        /// level only and resolve to equal labels: 10 000 topics of 4 444 devices held 0.96 MB of
        /// label arrays, one per topic (heaptrack), where 4 444 suffice; the series keys made from
        /// them share the copy too.
        var labelSets: Set<Labels> = []

        mutating func sharingLabels(_ resolution: Resolution) -> Resolution {
            guard case .resolved(let subscription, let labels, let metric) = resolution, !labels.isEmpty else { return resolution }
            return .resolved(subscription: subscription, labels: labelSets.insert(labels).memberAfterInsert, metric: metric)
        }

        func position(of topic: String) -> Int? {
            guard let position = positions[topic.hashValue].map(Int.init) else { return nil }
            let span = topicSpans[position]
            let stored = topicBytes[Int(span.start)..<Int(span.start + span.count)]
            return topic.utf8.count == stored.count && topic.utf8.elementsEqual(stored) ? position : nil
        }

        mutating func removeAll() {
            positions.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
            topicSpans.removeAll(keepingCapacity: true)
            topicBytes.removeAll(keepingCapacity: true)
            labelSets.removeAll()
        }

        mutating func append(_ entry: Entry, topic: String) {
            // Past 1024 entries by an eighth at a time rather than doubling: the arrays are the
            // larger part now.
            if entries.count == entries.capacity && entries.count >= 1024 {
                entries.reserveCapacity(entries.count + entries.count / 8)
                topicSpans.reserveCapacity(entries.count + entries.count / 8)
            }
            let count = topic.utf8.count
            if topicBytes.count + count > topicBytes.capacity {
                topicBytes.reserveCapacity(max(topicBytes.count + count, topicBytes.count + topicBytes.count / 8, 4096))
            }
            positions[topic.hashValue] = Int32(entries.count)
            entries.append(entry)
            topicSpans.append((UInt32(topicBytes.count), UInt32(count)))
            topicBytes.append(contentsOf: topic.utf8)
        }
    }

    private let state = Mutex(Tables())

    /// What a topic resolves to, and the series key of the first label-less value seen under it:
    /// most topics carry one value per message, whose key then comes with the topic's lookup.
    struct Entry: Sendable {
        let resolution: Resolution
        var single: (name: String?, exact: Bool, key: SeriesKey)?
    }

    func entry(for topic: String) -> Entry? {
        state.withLock { state in state.position(of: topic).map { state.entries[$0] } }
    }

    func store(_ resolution: Resolution, for topic: String) -> Entry {
        state.withLock { state in
            if let position = state.position(of: topic) {
                state.entries[position] = Entry(resolution: state.sharingLabels(resolution))
                return state.entries[position]
            }
            if state.positions[topic.hashValue] != nil { return Entry(resolution: resolution) }  // a hash taken
            if state.entries.count >= Self.limit { state.removeAll() }
            let entry = Entry(resolution: state.sharingLabels(resolution))
            state.append(entry, topic: topic)
            return entry
        }
    }

    func series(topic: String, name: String?, exact: Bool) -> SeriesKey? {
        state.withLock { $0.series[SeriesSlot(topic: topic, name: name, exact: exact)] }
    }

    func remember(_ key: SeriesKey, topic: String, name: String?, exact: Bool) {
        state.withLock { state in
            // The first key of a topic stays with the topic only: with one value per topic (the
            // usual plant) a second table of every key cost about 1.2 MB at 10 000 topics.
            if let position = state.position(of: topic), state.entries[position].single == nil {
                state.entries[position].single = (name, exact, key)
                return
            }
            if state.series.count >= Self.limit * 4 { state.series.removeAll(keepingCapacity: true) }
            state.series[SeriesSlot(topic: topic, name: name, exact: exact)] = key
        }
    }
}
