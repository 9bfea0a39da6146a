import FoundationEssentials
import VigilCore

/// A comparison written in a rule: `"> 80"`, `"<= 3.5"`, `"!= 0"`.
public enum Comparison: String, Sendable, Codable, CaseIterable {
    case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", equal = "==", notEqual = "!="

    public func holds(_ value: Double, _ threshold: Double) -> Bool {
        switch self {
        case .greater: value > threshold
        case .greaterOrEqual: value >= threshold
        case .less: value < threshold
        case .lessOrEqual: value <= threshold
        case .equal: value == threshold
        case .notEqual: value != threshold
        }
    }

    /// `"> 80"` → (.greater, 80). Longest operator first, so `>=` is not read as `>` and `=80`.
    public static func parse(_ text: String) -> (Comparison, Double)? {
        let trimmed = text.trimmingSpaces()
        for op in [Comparison.greaterOrEqual, .lessOrEqual, .equal, .notEqual, .greater, .less]
        where trimmed.hasPrefix(op.rawValue) {
            let number = trimmed.dropFirst(op.rawValue.count).trimmingSpaces()
            guard let value = Double(number), value.isFinite else { return nil }
            return (op, value)
        }
        return nil
    }

    /// True for the operators a clear threshold (hysteresis) makes sense with.
    var isOrdering: Bool { self != .equal && self != .notEqual }
    /// True when the alert is about values going up (`>`, `>=`).
    var isUpward: Bool { self == .greater || self == .greaterOrEqual }
}
