import VigilCore
import VigilStore

/// What one subscription of a stream asks for: the series a selector matches (new series
/// included), or exactly a list of series, which the console keeps to what is on its screen and
/// changes as the operator scrolls (`change`, docs/live-protocol.md).
package enum LiveSubscription: Sendable, CustomStringConvertible {
    case selector(SeriesSelector)
    case series(Set<SeriesKey>)

    /// At most this many series in one `series` subscription: what a screen shows is a few
    /// hundred; a client wanting everything uses a selector.
    package static let maxSeries = 5_000

    package func matches(_ key: SeriesKey) -> Bool {
        switch self {
        case .selector(let selector): selector.matches(key)
        case .series(let keys): keys.contains(key)
        }
    }

    /// A stable text for grouping connections with the same subscriptions (they share an update body).
    package var description: String {
        switch self {
        case .selector(let selector): selector.description
        case .series(let keys): "[" + keys.map(\.description).sorted().joined(separator: "\n") + "]"
        }
    }

    /// A series as the protocol spells it (`temperature{device="boiler-1",site="north"}`, as the
    /// `series` field of a reading): a metric name and equality matchers only.
    package static func seriesKey(_ text: String) throws(StoreError) -> SeriesKey {
        let selector = try SeriesSelector.parse(text)
        var metric: String?
        var labels: [(String, String)] = []
        for matcher in selector.matchers {
            guard matcher.op == .equal else { throw .invalidSelector("\(text): a series is a name and label=\"value\" pairs, without \(matcher.op.rawValue)") }
            if matcher.name == "__name__" { metric = matcher.value } else if !matcher.value.isEmpty { labels.append((matcher.name, matcher.value)) }
        }
        guard let metric, !metric.isEmpty else { throw .invalidSelector("\(text): a series needs its metric name") }
        return SeriesKey(metric: metric, labels: Labels(labels))
    }

    /// The keys of a client's `series` list, refused whole when one is bad or there are too many.
    package static func seriesKeys(_ list: [JSONValue], already: Int = 0) throws(StoreError) -> [SeriesKey] {
        guard already + list.count <= maxSeries else {
            throw .invalidSelector("at most \(maxSeries) series in one subscription (use a selector for more)")
        }
        var keys: [SeriesKey] = []
        keys.reserveCapacity(list.count)
        for item in list {
            guard let text = item.string else { throw .invalidSelector("series must be strings such as temperature{site=\"north\"}") }
            keys.append(try seriesKey(text))
        }
        return keys
    }
}
