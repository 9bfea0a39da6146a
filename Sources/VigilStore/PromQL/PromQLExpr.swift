/// The PromQL subset Vigil answers (docs/query-api.md, "PromQL"): what dashboards use most.
public indirect enum PromQLExpr: Sendable {
    case number(Double)
    /// An instant vector selector: each series' newest sample within the 5-minute lookback.
    case vector(SeriesSelector)
    /// A range vector selector: `selector[5m]`.
    case matrix(SeriesSelector, rangeMs: Int64)
    /// `rate`, `increase`, `delta`, `avg_over_time`, `min_over_time`, `max_over_time`,
    /// `sum_over_time`, `count_over_time`, `last_over_time` over a range vector; `abs`, `scalar`.
    case call(String, PromQLExpr)
    /// `sum`, `avg`, `min`, `max`, `count`, grouped `by` (or `without`) labels.
    case aggregate(String, grouping: [String], without: Bool, PromQLExpr)
    case binary(BinaryOperator, PromQLExpr, PromQLExpr, returnBool: Bool)
    case negate(PromQLExpr)

    public enum BinaryOperator: String, Sendable {
        case add = "+", sub = "-", mul = "*", div = "/", mod = "%", pow = "^"
        case eq = "==", ne = "!=", gt = ">", lt = "<", ge = ">=", le = "<="

        var isComparison: Bool { [.eq, .ne, .gt, .lt, .ge, .le].contains(self) }

        func apply(_ a: Double, _ b: Double) -> Double {
            switch self {
            case .add: a + b
            case .sub: a - b
            case .mul: a * b
            case .div: a / b
            case .mod: a.truncatingRemainder(dividingBy: b)
            case .pow: Glibc.pow(a, b)
            case .eq: a == b ? 1 : 0
            case .ne: a != b ? 1 : 0
            case .gt: a > b ? 1 : 0
            case .lt: a < b ? 1 : 0
            case .ge: a >= b ? 1 : 0
            case .le: a <= b ? 1 : 0
            }
        }
    }

    static let rangeFunctions: Set<String> = [
        "rate", "increase", "delta", "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
        "count_over_time", "last_over_time",
    ]
    static let instantFunctions: Set<String> = ["abs", "scalar"]
    static let aggregations: Set<String> = ["sum", "avg", "min", "max", "count"]
}

import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
