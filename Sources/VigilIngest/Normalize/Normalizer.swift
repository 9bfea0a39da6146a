import Synchronization
import VigilCore

/// The last step before the bus, shared by every source: unit conversion and per-metric scale,
/// offset and bounds, the timestamp policy, non-finite values, and dropping redelivered readings.
/// Thread-safe; the only state is the recent-readings set for de-duplication.
public final class Normalizer: Sendable {
    public let config: NormalizeConfig
    private let recent: Mutex<RecentSet>

    public init(config: NormalizeConfig) {
        self.config = config
        recent = Mutex(RecentSet(window: config.dedupWindow.milliseconds, capacity: 200_000))
    }

    /// A reading after naming: `deviceTime` says whether its timestamp came from the payload.
    public struct Candidate: Sendable {
        public var reading: Reading
        public var deviceTime: Bool
        public init(reading: Reading, deviceTime: Bool) {
            self.reading = reading
            self.deviceTime = deviceTime
        }
    }

    public func normalize(_ candidates: [Candidate], receivedMs: Int64) -> (readings: [Reading], rejects: [PayloadReject]) {
        var readings: [Reading] = []
        var rejects: [PayloadReject] = []
        readings.reserveCapacity(candidates.count)
        var deviceTimed: [(index: Int, key: RecentSet.Key)] = []
        for candidate in candidates {
            let reading = candidate.reading
            guard reading.value.isFinite else {
                rejects.append(.nonFinite)
                continue
            }
            var value = reading.value
            var unit = reading.unit
            let rule = config.rule(for: reading.metric)
            if let rule {
                if unit == nil { unit = rule.unit }
                if rule.scale != 1 || rule.offset != 0 {
                    value = UnitTable.round(value * rule.scale + rule.offset, decimalsOf: value, extra: 3)
                }
            }
            if config.convertUnits, let from = unit, let converted = UnitTable.convert(value, from: from) {
                (value, unit) = converted
            }
            // Scale, offset and conversion can overflow a finite value (1.8e308 kW in W).
            guard value.isFinite else {
                rejects.append(.nonFinite)
                continue
            }
            if let rule, (rule.min.map { value < $0 } ?? false) || (rule.max.map { value > $0 } ?? false) {
                rejects.append(.outOfBounds)
                continue
            }
            // The time window [received − max_age, received + max_clock_skew]: no reading can
            // stretch the store's bookkeeping over centuries.
            var timestamp = reading.timestampMs
            if timestamp > receivedMs &+ config.maxClockSkew.milliseconds {
                guard candidate.deviceTime, config.onClockSkew == .receiveTime else {
                    rejects.append(.clockSkew)
                    continue
                }
                timestamp = receivedMs
            } else if timestamp < receivedMs &- config.maxAge.milliseconds {
                rejects.append(.tooOld)
                continue
            }
            let normalized = Reading(series: reading.series, timestampMs: timestamp, value: value, unit: unit)
            if candidate.deviceTime && timestamp == reading.timestampMs {
                deviceTimed.append((readings.count, RecentSet.Key(normalized)))
            }
            readings.append(normalized)
        }
        guard !deviceTimed.isEmpty, config.dedupWindow > .zero else { return (readings, rejects) }
        let duplicates = recent.withLock { set in
            deviceTimed.filter { !set.insert($0.key, now: receivedMs) }.map(\.index)
        }
        if !duplicates.isEmpty {
            let drop = Set(duplicates)
            readings = readings.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            rejects += Array(repeating: .duplicate, count: duplicates.count)
        }
        return (readings, rejects)
    }
}

/// Readings with device timestamps seen recently, bounded by age and count. Kept as 64-bit
/// hashes of (series, time, value): a false "duplicate" needs a hash collision among the last
/// 200 000 readings (odds about 1 in 10^9), and hashing once is far cheaper than keeping keys.
struct RecentSet {
    struct Key: Hashable {
        let series: SeriesKey
        let timestampMs: Int64
        let valueBits: UInt64
        init(_ reading: Reading) {
            series = reading.series
            timestampMs = reading.timestampMs
            valueBits = reading.value.bitPattern
        }
    }

    let window: Int64
    let capacity: Int
    private var hashes: Set<Int> = []
    private var order: [(hash: Int, at: Int64)] = []
    private var head = 0

    init(window: Int64, capacity: Int) {
        self.window = window
        self.capacity = capacity
        hashes.reserveCapacity(capacity + 1)
    }

    /// False when `key` was already there (a duplicate).
    mutating func insert(_ key: Key, now: Int64) -> Bool {
        while head < order.count, order[head].at < now - window || order.count - head >= capacity {
            hashes.remove(order[head].hash)
            head += 1
        }
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        let hash = key.hashValue
        guard hashes.insert(hash).inserted else { return false }
        order.append((hash, now))
        return true
    }
}
