/// Exponential backoff with full jitter (each delay drawn uniformly from zero up to the capped
/// exponential step), so that many gateways losing one broker do not reconnect in lockstep.
/// A pure value: the caller sleeps, which keeps this testable without clocks.
public struct ReconnectBackoff: Sendable {
    public let minimum: Duration
    public let maximum: Duration
    public private(set) var attempt = 0

    /// `attempt` resumes a backoff whose attempts were counted elsewhere (the alert outbox keeps them).
    public init(minimum: Duration, maximum: Duration, attempt: Int = 0) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.attempt = max(0, attempt)
    }

    /// The ceiling of the next delay: minimum × 2^attempt, capped at maximum.
    public var ceiling: Duration {
        let factor = 1 << min(attempt, 30)
        let step = minimum * factor
        return step > maximum || step < .zero ? maximum : step
    }

    /// The next delay to wait, in [minimum, ceiling], and one step further out.
    public mutating func nextDelay<R: RandomNumberGenerator>(using random: inout R) -> Duration {
        let top = ceiling
        attempt += 1
        let span = (top - minimum).milliseconds
        guard span > 0 else { return minimum }
        return minimum + .milliseconds(Int64.random(in: 0...span, using: &random))
    }

    public mutating func nextDelay() -> Duration {
        var random = SystemRandomNumberGenerator()
        return nextDelay(using: &random)
    }

    /// After a connection proved stable.
    public mutating func reset() { attempt = 0 }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero; saturates at Int64's ends instead of trapping
    /// (a Duration holds far more than Int64 milliseconds).
    public var milliseconds: Int64 {
        let (ms, overflow) = components.seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return components.seconds < 0 ? .min : .max }
        return ms.addingReportingOverflow(components.attoseconds / 1_000_000_000_000_000).overflow
            ? (ms < 0 ? .min : .max) : ms + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double (rates, gauges, timings).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
