import FoundationEssentials
import VigilCore

/// Evaluates the PromQL subset against the store with Prometheus 2.x semantics: instant selectors
/// take each series' newest sample within a 5-minute lookback; ranges are `[t - range, t]`;
/// `rate`/`increase`/`delta` extrapolate as Prometheus does. A range query reads each selector's
/// samples once for the whole span and evaluates every step from memory.
public struct PromQLEngine: Sendable {
    public static let lookbackMs: Int64 = 300_000
    let store: MetricStore
    let budget: QueryBudget?

    public init(store: MetricStore, budget: QueryBudget? = nil) {
        self.store = store
        self.budget = budget
    }

    /// A result over the evaluation steps: a scalar per step, or series with a value (or none) per step.
    public enum Value: Sendable {
        case scalar([Double])
        case vector([Series])
    }

    public struct Series: Sendable {
        public var labels: Labels
        public var values: [Double?]
        public init(labels: Labels, values: [Double?]) {
            self.labels = labels
            self.values = values
        }
    }

    public struct EvaluationError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public func evaluate(_ expr: PromQLExpr, steps: [Int64]) throws -> Value {
        switch expr {
        case .number(let value):
            return .scalar(Array(repeating: value, count: steps.count))
        case .vector(let selector):
            return .vector(try instant(selector, steps: steps))
        case .matrix:
            throw EvaluationError(description: "a range vector cannot be the result of a query here; wrap it in a function such as rate(…)")
        case .negate(let inner):
            switch try evaluate(inner, steps: steps) {
            case .scalar(let values): return .scalar(values.map { -$0 })
            case .vector(let series): return .vector(series.map { Series(labels: Self.dropName($0.labels), values: $0.values.map { $0.map { -$0 } }) })
            }
        case .call(let name, let argument):
            return try call(name, argument, steps: steps)
        case .aggregate(let op, let grouping, let without, let inner):
            guard case .vector(let series) = try evaluate(inner, steps: steps) else {
                throw EvaluationError(description: "\(op) needs an instant vector, not a scalar")
            }
            return .vector(Self.aggregate(op, grouping: grouping, without: without, series, steps: steps.count))
        case .binary(let op, let left, let right, let returnBool):
            return try binary(op, try evaluate(left, steps: steps), try evaluate(right, steps: steps), returnBool: returnBool)
        }
    }

    // MARK: Selectors

    func load(_ selector: SeriesSelector, from: Int64, to: Int64) throws -> [SeriesSamples] {
        try store.read(selector, from: from, to: to, budget: budget).filter { !$0.timestamps.isEmpty }
    }

    func instant(_ selector: SeriesSelector, steps: [Int64]) throws -> [Series] {
        guard let first = steps.first, let last = steps.last else { return [] }
        return try load(selector, from: first - Self.lookbackMs, to: last).compactMap { samples in
            var values: [Double?] = []
            values.reserveCapacity(steps.count)
            var cursor = 0
            for t in steps {
                while cursor < samples.timestamps.count, samples.timestamps[cursor] <= t { cursor += 1 }
                if cursor > 0, samples.timestamps[cursor - 1] >= t - Self.lookbackMs {
                    values.append(samples.values[cursor - 1])
                } else {
                    values.append(nil)
                }
            }
            return values.contains { $0 != nil } ? Series(labels: samples.series.labelsWithName, values: values) : nil
        }
    }

    // MARK: Functions

    func call(_ name: String, _ argument: PromQLExpr, steps: [Int64]) throws -> Value {
        if case .matrix(let selector, let rangeMs) = argument {
            guard let first = steps.first, let last = steps.last else { return .vector([]) }
            let data = try load(selector, from: first - rangeMs, to: last)
            var out: [Series] = []
            var work = 0
            for samples in data {
                var values: [Double?] = []
                values.reserveCapacity(steps.count)
                var lower = 0, upper = 0
                for t in steps {
                    while lower < samples.timestamps.count, samples.timestamps[lower] < t - rangeMs { lower += 1 }
                    while upper < samples.timestamps.count, samples.timestamps[upper] <= t { upper += 1 }
                    // Every step walks its window again: a long range at many steps is slow, so the
                    // deadline is checked as it goes (the samples were counted when read).
                    work += upper - lower + 1
                    if work > 65_536 {
                        work = 0
                        try budget?.check()
                    }
                    let ts = samples.timestamps[lower..<max(lower, upper)]
                    let vs = samples.values[lower..<max(lower, upper)]
                    values.append(Self.rangeFunction(name, ts, vs, at: t, rangeMs: rangeMs))
                }
                guard values.contains(where: { $0 != nil }) else { continue }
                let labels = name == "last_over_time" ? samples.series.labelsWithName : samples.series.labels
                out.append(Series(labels: labels, values: values))
            }
            return .vector(out)
        }
        let inner = try evaluate(argument, steps: steps)
        switch (name, inner) {
        case ("abs", .vector(let series)):
            return .vector(series.map { Series(labels: Self.dropName($0.labels), values: $0.values.map { $0.map(Swift.abs) }) })
        case ("abs", .scalar):
            throw EvaluationError(description: "abs needs an instant vector")
        case ("scalar", .vector(let series)):
            return .scalar((0..<steps.count).map { i in
                let present = series.compactMap { $0.values[i] }
                return present.count == 1 ? present[0] : .nan
            })
        default:
            throw EvaluationError(description: "\(name) does not take a scalar")
        }
    }

    static func rangeFunction(_ name: String, _ ts: ArraySlice<Int64>, _ vs: ArraySlice<Double>, at t: Int64, rangeMs: Int64) -> Double? {
        guard !vs.isEmpty else { return nil }
        switch name {
        case "rate": return extrapolated(ts, vs, at: t, rangeMs: rangeMs, counter: true, rate: true)
        case "increase": return extrapolated(ts, vs, at: t, rangeMs: rangeMs, counter: true, rate: false)
        case "delta": return extrapolated(ts, vs, at: t, rangeMs: rangeMs, counter: false, rate: false)
        case "avg_over_time": return mean(vs)
        case "min_over_time": return vs.reduce(Double.infinity) { $1.isNaN ? $0 : Swift.min($0, $1) }
        case "max_over_time": return vs.reduce(-Double.infinity) { $1.isNaN ? $0 : Swift.max($0, $1) }
        case "sum_over_time": return vs.reduce(0, +)
        case "count_over_time": return Double(vs.count)
        case "last_over_time": return vs.last
        default: return nil
        }
    }

    /// Prometheus's incremental mean (for `avg` and `avg_over_time`), for the same rounding.
    static func mean(_ values: some Sequence<Double>) -> Double {
        var mean = 0.0, count = 0.0
        for v in values {
            count += 1
            mean += v / count - mean / count
        }
        return mean
    }

    /// Prometheus 2.x `extrapolatedRate`: the change over the samples, corrected for counter resets,
    /// extrapolated to the range edges unless the series starts or ends inside the range.
    static func extrapolated(_ ts: ArraySlice<Int64>, _ vs: ArraySlice<Double>, at t: Int64, rangeMs: Int64,
                             counter: Bool, rate: Bool) -> Double? {
        guard vs.count >= 2, let firstT = ts.first, let lastT = ts.last, let firstV = vs.first, let lastV = vs.last else { return nil }
        var result = lastV - firstV
        if counter {
            var previous = firstV
            for v in vs.dropFirst() {
                if v < previous { result += previous }
                previous = v
            }
        }
        // Differences in integer milliseconds first, as Prometheus does: subtracting two epoch
        // seconds as floats loses digits.
        var durationToStart = Double(firstT - (t - rangeMs)) / 1000
        let durationToEnd = Double(t - lastT) / 1000
        let sampledInterval = Double(lastT - firstT) / 1000
        let averageBetweenSamples = sampledInterval / Double(vs.count - 1)
        if counter, result > 0, firstV >= 0 {
            let durationToZero = sampledInterval * (firstV / result)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        let threshold = averageBetweenSamples * 1.1
        var extrapolateTo = sampledInterval
        extrapolateTo += durationToStart < threshold ? durationToStart : averageBetweenSamples / 2
        extrapolateTo += durationToEnd < threshold ? durationToEnd : averageBetweenSamples / 2
        result *= extrapolateTo / sampledInterval
        if rate { result /= Double(rangeMs) / 1000 }
        return result
    }

    // MARK: Aggregation and operators

    static func aggregate(_ op: String, grouping: [String], without: Bool, _ series: [Series], steps: Int) -> [Series] {
        var groups: [Labels: [Series]] = [:]
        var order: [Labels] = []
        for s in series {
            var key = Labels()
            if without {
                for label in s.labels where label.name != "__name__" && !grouping.contains(label.name) { key[label.name] = label.value }
            } else {
                for name in grouping { if let value = s.labels[name] { key[name] = value } }
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(s)
        }
        return order.compactMap { key in
            let members = groups[key]!
            var values: [Double?] = []
            for i in 0..<steps {
                let present = members.compactMap { $0.values[i] }
                guard !present.isEmpty else { values.append(nil); continue }
                switch op {
                case "sum": values.append(present.reduce(0, +))
                case "avg": values.append(mean(present))
                case "min": values.append(present.reduce(Double.nan) { $0.isNaN || $1 < $0 ? $1 : $0 })
                case "max": values.append(present.reduce(Double.nan) { $0.isNaN || $1 > $0 ? $1 : $0 })
                default: values.append(Double(present.count))
                }
            }
            return Series(labels: key, values: values)
        }
    }

    func binary(_ op: PromQLExpr.BinaryOperator, _ left: Value, _ right: Value, returnBool: Bool) throws -> Value {
        switch (left, right) {
        case (.scalar(let a), .scalar(let b)):
            guard !op.isComparison || returnBool else {
                throw EvaluationError(description: "comparisons between scalars must use the bool modifier")
            }
            return .scalar(zip(a, b).map { op.apply($0, $1) })
        case (.vector(let series), .scalar(let scalars)):
            return .vector(Self.vectorScalar(op, series, scalars, swapped: false, returnBool: returnBool))
        case (.scalar(let scalars), .vector(let series)):
            return .vector(Self.vectorScalar(op, series, scalars, swapped: true, returnBool: returnBool))
        case (.vector, .vector):
            throw EvaluationError(description: "binary operations between two vectors are not supported (only with a scalar)")
        }
    }

    static func vectorScalar(_ op: PromQLExpr.BinaryOperator, _ series: [Series], _ scalars: [Double], swapped: Bool,
                             returnBool: Bool) -> [Series] {
        series.compactMap { s in
            var values: [Double?] = []
            for (i, value) in s.values.enumerated() {
                guard let v = value else { values.append(nil); continue }
                let (a, b) = swapped ? (scalars[i], v) : (v, scalars[i])
                if op.isComparison {
                    let holds = op.apply(a, b) == 1
                    if returnBool { values.append(holds ? 1 : 0) } else { values.append(holds ? v : nil) }
                } else {
                    values.append(op.apply(a, b))
                }
            }
            guard values.contains(where: { $0 != nil }) else { return nil }
            let drop = returnBool || !op.isComparison
            return Series(labels: drop ? dropName(s.labels) : s.labels, values: values)
        }
    }

    static func dropName(_ labels: Labels) -> Labels {
        var out = labels
        out["__name__"] = nil
        return out
    }
}
