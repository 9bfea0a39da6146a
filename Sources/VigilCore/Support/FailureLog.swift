import Synchronization

/// Decides when a failure that repeats (a broker that stays down, a device that is unplugged, an
/// endpoint that refuses) is worth a log line: the first time, whenever the reason changes, and
/// then every `every` while it lasts, with the number of attempts in between. A broker down for a
/// day costs a few hundred lines, not one per retry. The caller logs; this only counts.
public final class FailureLog: Sendable {
    public struct Line: Sendable {
        /// Failed attempts since the last line (0 for the first of a reason).
        public let repeats: Int
    }

    private struct State {
        var reason: String?
        var since = ContinuousClock.now
        var repeats = 0
        var total = 0
    }

    private let every: Duration
    private let state = Mutex(State())

    public init(every: Duration = .seconds(300)) {
        self.every = every
    }

    /// A failed attempt: a `Line` to log, or nil while the same reason was logged recently.
    public func failed(_ reason: String) -> Line? {
        state.withLock { state in
            let now = ContinuousClock.now
            state.total += 1
            guard state.reason != reason || now - state.since > every else {
                state.repeats += 1
                return nil
            }
            let repeats = state.reason == reason ? state.repeats : 0
            state.reason = reason
            state.since = now
            state.repeats = 0
            return Line(repeats: repeats)
        }
    }

    /// A success: the next failure is logged whatever its reason. Returns how many attempts failed
    /// since the last success (0 when none did), for a "works again" line.
    @discardableResult
    public func recovered() -> Int {
        state.withLock { state in
            defer { state = State() }
            return state.total
        }
    }
}
