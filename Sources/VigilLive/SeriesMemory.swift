import Synchronization
import VigilCore

/// The series the live side has seen, each with the last unit it arrived with. It serves two
/// things the store cannot: units for snapshots (the store keeps values, not units, so a card
/// scrolled into view would show a bare number until its series' next reading, minutes for a slow
/// sensor), and noticing new series, which every console is told of at once (its catalog and
/// tree follow) while it only receives the readings of the series on its screen. Units are few:
/// each series holds a small index into the list of spellings seen.
///
/// Series are remembered by their keys' 64-bit hashes (seeded per process, so nobody can choose
/// keys that collide) rather than by the keys: a table of keys kept 32 bytes of key for each of
/// its 16 384 places at 10 000 series (0.56 MB, heaptrack), one of hashes 8. Two series whose
/// hashes are equal, about one chance in 10^9 among 200 000 series, would share a unit and the
/// second would not be announced (the console's catalog still finds it within a minute).
package final class SeriesMemory: Sendable {
    private static let noUnit = UInt16.max

    private struct State {
        var index: [Int: UInt16] = [:]
        var spellings: [String] = []
        var numbers: [String: UInt16] = [:]
    }

    private let state = Mutex(State())
    /// Past this many series (label churn: ids in labels) new ones are neither remembered nor
    /// announced (the console's catalog still finds them every minute): bounded whatever arrives.
    private let limit: Int

    package init(limit: Int = 200_000) { self.limit = limit }

    /// The series the store already holds, so a restart does not announce the whole fleet again.
    package func seed(_ keys: [SeriesKey]) {
        state.withLock { state in
            state.index.reserveCapacity(min(keys.count, limit))
            for key in keys where state.index.count < limit && state.index[key.precomputedHash] == nil {
                state.index[key.precomputedHash] = Self.noUnit
            }
        }
    }

    /// Notes the units of a batch and returns the positions of readings of series not seen
    /// before (once per batch from the hub: a dictionary probe per reading).
    package func note(_ readings: [Reading]) -> [Int] {
        state.withLock { state in
            var fresh: [Int] = []
            for (position, reading) in readings.enumerated() {
                var number = Self.noUnit
                if let unit = reading.unit {
                    if let known = state.numbers[unit] {
                        number = known
                    } else if state.spellings.count < Int(Self.noUnit) {
                        number = UInt16(state.spellings.count)
                        state.spellings.append(unit)
                        state.numbers[unit] = number
                    }
                }
                let hash = reading.series.precomputedHash
                guard let known = state.index[hash] else {
                    guard state.index.count < limit else { continue }
                    state.index[hash] = number
                    fresh.append(position)
                    continue
                }
                if known != number, number != Self.noUnit { state.index[hash] = number }
            }
            return fresh
        }
    }

    package func unit(of key: SeriesKey) -> String? { units(of: [key])[0] }

    package func units(of keys: [SeriesKey]) -> [String?] {
        state.withLock { state in
            keys.map { key in state.index[key.precomputedHash].flatMap { $0 == Self.noUnit ? nil : state.spellings[Int($0)] } }
        }
    }

    package var count: Int { state.withLock { $0.index.count } }
}
