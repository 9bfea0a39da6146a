import VigilCore
#if canImport(Glibc)
import Glibc
#endif

/// A range query: every `step` from `start` to `end`, the samples of each matching series in the
/// window (t − step, t] aggregated with `aggregation`, optionally combined across series that
/// share the `groupBy` labels.
public struct RangeQuery: Sendable {
    public enum Aggregation: String, Sendable, CaseIterable {
        case avg, min, max, sum, count, last
        /// Per-second increase of a counter over the window, counting a drop as a reset to zero.
        case rate
    }

    public var selector: SeriesSelector
    public var start: Int64
    public var end: Int64
    public var step: Int64
    public var aggregation: Aggregation
    /// Nil: one result per series. Otherwise one result per distinct value of these labels
    /// (`__name__` for the metric name; empty: everything in one result).
    public var groupBy: [String]?

    /// Like Prometheus, refuse answers that would be mostly points nobody can draw.
    public static let maxPoints = 11_000

    public init(selector: SeriesSelector, start: Int64, end: Int64, step: Int64,
                aggregation: Aggregation = .avg, groupBy: [String]? = nil) {
        self.selector = selector
        self.start = start
        self.end = end
        self.step = step
        self.aggregation = aggregation
        self.groupBy = groupBy
    }

    public var pointCount: Int { end < start ? 0 : Int((end &- start) / step) + 1 }  // checked: Int64 to Int (64-bit)

    /// The source resolution: raw samples for steps under a minute, else the coarsest rollup that
    /// still fits in a step.
    public var resolution: RollupResolution? { RollupResolution.best(forStep: step) }
}

/// One result series: its labels (with `__name__` when there is a metric name) and its points;
/// steps without data are left out.
public struct QuerySeries: Sendable, Equatable {
    public var labels: Labels
    public var timestamps: [Int64]
    public var values: [Double]
}

public enum QueryError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let message): message }
    }
}

extension MetricStore {
    public func query(_ query: RangeQuery, budget: QueryBudget? = nil) throws -> [QuerySeries] {
        guard query.step > 0 else { throw QueryError.invalid("step must be positive") }
        guard query.end >= query.start else { throw QueryError.invalid("end is before start") }
        guard query.pointCount <= RangeQuery.maxPoints else {
            throw QueryError.invalid("\(query.pointCount) points per series is more than \(RangeQuery.maxPoints): use a larger step")
        }
        // One step before the first window, so `rate` has the sample that precedes it.
        let readFrom = query.start &- 2 &* query.step
        var perSeries: [(key: SeriesKey, windows: [WindowState?])] = []
        if let resolution = query.resolution {
            for (key, buckets) in try readBuckets(query.selector, resolution: resolution, from: readFrom, to: query.end, budget: budget) {
                var windows = [WindowState?](repeating: nil, count: query.pointCount)
                var previous: (Int64, Double)?
                for i in buckets.starts.indices {
                    // A bucket stands at its end time: (start, start + resolution] as a window.
                    let end = buckets.starts[i] &+ resolution.milliseconds
                    let cell = WindowState(sum: buckets.sum[i], count: buckets.count[i], min: buckets.min[i], max: buckets.max[i],
                                           last: buckets.last[i], lastTimestamp: end)
                    add(cell, at: end, previous: previous, to: &windows, query)
                    previous = (end, buckets.last[i])
                }
                perSeries.append((key, windows))
            }
        } else {
            for samples in try read(query.selector, from: readFrom, to: query.end, budget: budget) {
                var windows = [WindowState?](repeating: nil, count: query.pointCount)
                var previous: (Int64, Double)?
                for i in samples.timestamps.indices {
                    let (t, v) = (samples.timestamps[i], samples.values[i])
                    add(WindowState(sum: v, count: 1, min: v, max: v, last: v, lastTimestamp: t), at: t,
                        previous: previous, to: &windows, query)
                    previous = (t, v)
                }
                perSeries.append((samples.series, windows))
            }
        }
        return combine(perSeries, query)
    }

    private func add(_ cell: WindowState, at time: Int64, previous: (Int64, Double)?, to windows: inout [WindowState?],
                     _ query: RangeQuery) {
        guard time > query.start &- query.step, time <= query.end else { return }
        // Point k covers (start + (k-1)·step, start + k·step].
        let offset = time &- query.start
        // ceil(offset / step) without `offset + step - 1`, which can overflow for a huge step.
        let k = offset <= 0 ? 0 : Int(offset / query.step + (offset % query.step == 0 ? 0 : 1))
        guard k < windows.count else { return }
        var cell = cell
        if let (_, before) = previous { cell.increase = cell.last >= before ? cell.last - before : cell.last }
        if windows[k] == nil { windows[k] = cell } else { windows[k]!.merge(cell, sameSeries: true) }
    }

    private func combine(_ perSeries: [(key: SeriesKey, windows: [WindowState?])], _ query: RangeQuery) -> [QuerySeries] {
        var groups: [Labels: [WindowState?]] = [:]
        var order: [Labels] = []
        for (key, windows) in perSeries {
            let labels: Labels
            if let groupBy = query.groupBy {
                labels = Labels(groupBy.compactMap { name in
                    let value = name == "__name__" ? key.metric : key.labels[name]
                    return value.map { (name, $0) }
                })
            } else {
                labels = Labels([("__name__", key.metric)]).merging(key.labels)
            }
            guard var group = groups[labels] else {
                groups[labels] = windows
                order.append(labels)
                continue
            }
            for k in windows.indices {
                guard let state = windows[k] else { continue }
                if group[k] == nil { group[k] = state } else { group[k]!.merge(state, sameSeries: false) }
            }
            groups[labels] = group
        }
        let stepSeconds = Double(query.step) / 1000
        return order.map { labels in
            var result = QuerySeries(labels: labels, timestamps: [], values: [])
            for (k, state) in groups[labels]!.enumerated() {
                guard let state else { continue }
                result.timestamps.append(query.start &+ Int64(k) &* query.step)
                result.values.append(state.value(query.aggregation, stepSeconds: stepSeconds))
            }
            return result
        }.filter { !$0.timestamps.isEmpty }
    }
}

/// What a window (or a group of windows) has seen: enough to answer every aggregation, and to
/// merge with another window of the same or another series.
struct WindowState {
    var sum: Double
    var count: Double
    var min: Double
    var max: Double
    var last: Double
    var lastTimestamp: Int64
    /// Counter increase within the window (summed across series in a group).
    var increase: Double = 0

    mutating func merge(_ other: WindowState, sameSeries: Bool) {
        sum += other.sum
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        if other.lastTimestamp >= lastTimestamp {
            last = other.last
            lastTimestamp = other.lastTimestamp
        }
        increase += other.increase
    }

    func value(_ aggregation: RangeQuery.Aggregation, stepSeconds: Double) -> Double {
        switch aggregation {
        case .avg: sum / count
        case .min: min
        case .max: max
        case .sum: sum
        case .count: count
        case .last: last
        case .rate: increase / stepSeconds
        }
    }
}
