import Synchronization
import VigilCore

/// The last unit each series arrived with. The store keeps values, not units, so without this a
/// snapshot (a console scrolling a card into view) would show a bare number until the series'
/// next reading, minutes for a slow sensor. Units are few: each series holds a small index into
/// the list of spellings seen.
package final class UnitMemory: Sendable {
    private struct State {
        var index: [SeriesKey: UInt16] = [:]
        var spellings: [String] = []
        var numbers: [String: UInt16] = [:]
    }

    private let state = Mutex(State())
    /// Past this many series (label churn: ids in labels) it starts over and learns again from
    /// the next readings, so it stays bounded whatever arrives.
    private let limit: Int

    package init(limit: Int = 200_000) { self.limit = limit }

    /// Notes the units of a batch (once per batch from the hub: a dictionary probe per reading).
    package func note(_ readings: [Reading]) {
        state.withLock { state in
            for reading in readings {
                guard let unit = reading.unit else { continue }
                let number: UInt16
                if let known = state.numbers[unit] {
                    number = known
                } else {
                    guard state.spellings.count < Int(UInt16.max) else { continue }
                    number = UInt16(state.spellings.count)
                    state.spellings.append(unit)
                    state.numbers[unit] = number
                }
                if state.index[reading.series] != number {
                    if state.index.count >= limit { state.index.removeAll() }
                    state.index[reading.series] = number
                }
            }
        }
    }

    package func unit(of key: SeriesKey) -> String? {
        state.withLock { state in state.index[key].map { state.spellings[Int($0)] } }
    }

    package func units(of keys: [SeriesKey]) -> [String?] {
        state.withLock { state in keys.map { key in state.index[key].map { state.spellings[Int($0)] } } }
    }

    package var count: Int { state.withLock { $0.index.count } }
}
