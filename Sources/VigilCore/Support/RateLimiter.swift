import Synchronization

/// Decides which repeated warnings get logged: at most `burst` per key in each `window`; the rest
/// are counted, and the next one let through reports how many were suppressed.
/// A flood of bad payloads costs a few log lines a minute, not a full disk.
public final class RateLimiter: Sendable {
    public struct Decision: Sendable {
        /// Log this one.
        public let emit: Bool
        /// Messages with this key suppressed since the last emitted one.
        public let suppressed: Int
    }

    private struct Bucket {
        var windowStart: ContinuousClock.Instant
        var emitted: Int
        var suppressed: Int
    }

    private let burst: Int
    private let window: Duration
    private let maxKeys: Int
    private let buckets = Mutex([String: Bucket]())

    public init(burst: Int = 5, window: Duration = .seconds(60), maxKeys: Int = 1024) {
        self.burst = burst
        self.window = window
        self.maxKeys = maxKeys
    }

    public func check(_ key: String, now: ContinuousClock.Instant = .now) -> Decision {
        buckets.withLock { buckets in
            if buckets.count >= maxKeys, buckets[key] == nil {
                // Bound memory against an unbounded key space (e.g. keys built from topics).
                buckets = buckets.filter { now - $0.value.windowStart < window }
                if buckets.count >= maxKeys { buckets.removeAll() }
            }
            var bucket = buckets[key] ?? Bucket(windowStart: now, emitted: 0, suppressed: 0)
            if now - bucket.windowStart >= window {
                bucket.windowStart = now
                bucket.emitted = 0
            }
            let decision: Decision
            if bucket.emitted < burst {
                decision = Decision(emit: true, suppressed: bucket.suppressed)
                bucket.emitted += 1
                bucket.suppressed = 0
            } else {
                decision = Decision(emit: false, suppressed: bucket.suppressed)
                bucket.suppressed += 1
            }
            buckets[key] = bucket
            return decision
        }
    }
}
