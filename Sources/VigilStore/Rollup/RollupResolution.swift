/// The rollup resolutions. Both are stored one blob per series per UTC day (1440 or 24 buckets),
/// so a day is rolled up once, when it can no longer change.
public enum RollupResolution: Int64, Sendable, CaseIterable, Comparable {
    case minute = 60_000
    case hour = 3_600_000

    /// The span of one rollup blob.
    static let blockMs: Int64 = 86_400_000

    public var milliseconds: Int64 { rawValue }

    public static func < (a: RollupResolution, b: RollupResolution) -> Bool { a.rawValue < b.rawValue }

    /// The coarsest resolution no wider than `step`, or nil when raw samples fit better.
    public static func best(forStep step: Int64) -> RollupResolution? {
        allCases.reversed().first { $0.rawValue <= step }
    }
}
