#if canImport(Glibc)
import Glibc
#endif
import Metrics
import Synchronization
import VigilCore

/// The last step before the bus, shared by every source: unit conversion and per-metric scale,
/// offset and bounds, the timestamp policy, non-finite values, and dropping redelivered readings.
/// Thread-safe; the only state is the recent-readings set for de-duplication.
public final class Normalizer: Sendable {
    public let config: NormalizeConfig
    private let recent: Mutex<RecentSet>
    private let receiveStamps = Mutex(ReceiveStamps())
    /// Readings stamped on receipt that took a later millisecond than their arrival, so that no
    /// two readings of a series share a timestamp (`vigil_ingest_receive_time_shifted_total`).
    private let shifted = Counter(label: "vigil_ingest_receive_time_shifted_total")

    /// The config's durations in milliseconds, computed once: `Duration.milliseconds` divides,
    /// and these are needed for every reading.
    private let maxClockSkewMs: Int64
    private let maxAgeMs: Int64

    public init(config: NormalizeConfig) {
        self.config = config
        recent = Mutex(RecentSet(window: config.dedupWindow.milliseconds, capacity: 131_072))
        maxClockSkewMs = config.maxClockSkew.milliseconds
        maxAgeMs = config.maxAge.milliseconds
    }

    /// Which rule applies to each metric seen, as an index (-1: none): matching every reading
    /// against the rules' regular expressions cost more than the rest of normalizing it. Bounded;
    /// cleared when full.
    private let ruleIndex = Mutex([String: Int]())

    func rule(for metric: String) -> NormalizeRule? {
        if let index = ruleIndex.withLock({ $0[metric] }) { return index < 0 ? nil : config.rules[index] }
        let index = config.rules.firstIndex { $0.matches(metric) } ?? -1
        ruleIndex.withLock { cache in
            if cache.count >= 50_000 { cache.removeAll(keepingCapacity: true) }
            cache[metric] = index
        }
        return index < 0 ? nil : config.rules[index]
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
        var deviceTimed: [(index: Int, hash: UInt64)] = []
        deviceTimed.reserveCapacity(candidates.count)
        var receiveTimed: [Int] = []
        for candidate in candidates {
            let reading = candidate.reading
            guard reading.value.isFinite else {
                rejects.append(.nonFinite)
                continue
            }
            var value = reading.value
            var unit = reading.unit
            let rule = config.rules.isEmpty ? nil : rule(for: reading.metric)
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
            if timestamp > receivedMs &+ maxClockSkewMs {
                guard candidate.deviceTime, config.onClockSkew == .receiveTime else {
                    rejects.append(.clockSkew)
                    continue
                }
                timestamp = receivedMs
            } else if timestamp < receivedMs &- maxAgeMs {
                rejects.append(.tooOld)
                continue
            }
            let normalized = Reading(series: reading.series, timestampMs: timestamp, value: value, unit: unit)
            if candidate.deviceTime && timestamp == reading.timestampMs {
                deviceTimed.append((readings.count, RecentSet.hash(normalized)))
            } else {
                receiveTimed.append(readings.count)  // stamped on receipt (or re-stamped for clock skew)
            }
            readings.append(normalized)
        }
        if !receiveTimed.isEmpty { stampStrictlyIncreasing(&readings, at: receiveTimed, receivedMs: receivedMs) }
        guard !deviceTimed.isEmpty, config.dedupWindow > .zero else { return (readings, rejects) }
        let duplicates = recent.withLock { $0.insert(deviceTimed, now: receivedMs) }
        if !duplicates.isEmpty {
            let drop = Set(duplicates)
            readings = readings.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            rejects += Array(repeating: .duplicate, count: duplicates.count)
        }
        return (readings, rejects)
    }
}

extension Normalizer {
    /// Readings stamped on receipt get strictly increasing times per series: one that would share
    /// its series' last millisecond takes the next free one. A burst after an outage (a broker
    /// delivering a queued session at once) or a device faster than 1 kHz would otherwise write
    /// several values at one time, and the store keeps one value per series and millisecond.
    /// A burst of N readings of one series pushes the last N − 1 ms ahead of its arrival.
    func stampStrictlyIncreasing(_ readings: inout [Reading], at indices: [Int], receivedMs: Int64) {
        let moved = receiveStamps.withLock { stamps in
            var moved = 0
            for i in indices {
                let t = stamps.next(for: readings[i].series, at: readings[i].timestampMs, now: receivedMs)
                if t != readings[i].timestampMs {
                    let r = readings[i]
                    readings[i] = Reading(series: r.series, timestampMs: t, value: r.value, unit: r.unit)
                    moved += 1
                }
            }
            return moved
        }
        if moved > 0 { shifted.increment(by: Int64(moved)) }
    }
}

/// The last receive-time stamp given to each series, for the series that could still collide:
/// entries older than the clock are dropped as the map grows, so it holds about the series that
/// arrived in the last moment. Pruned from 1 024 entries on (a filter of a thousand entries, ten
/// times a second at 10 000 readings a second): from 4 096 on, the table kept room for 8 192
/// keys (0.33 MB, heaptrack) to hold the few series of the current millisecond.
struct ReceiveStamps {
    private var last: [SeriesKey: Int64] = [:]
    private var pruneAt = ReceiveStamps.minimumPrune
    private static let minimumPrune = 1024

    mutating func next(for series: SeriesKey, at t: Int64, now: Int64) -> Int64 {
        var stamp = t
        if let previous = last[series], previous >= stamp { stamp = previous &+ 1 }
        last[series] = stamp
        if last.count >= pruneAt {
            last = last.filter { $0.value >= now }
            pruneAt = max(Self.minimumPrune, last.count * 2)
        }
        return stamp
    }
}

/// Readings with device timestamps seen recently, bounded by age and count. Kept as 64-bit
/// hashes of (series, time, value) in a fixed table of 4-way buckets, one cache line each: a
/// reading costs one memory access, and a full bucket forgets its oldest entry. (A `Set` of
/// hashes with an eviction queue cost two to three cache misses per reading and was the largest
/// item of ingest CPU after the socket reads.) A false "duplicate" needs two readings among the
/// remembered ones with the same 64-bit hash; a redelivery that comes after its entry was
/// forgotten is stored again, and the store replaces a value at the same series and time.
struct RecentSet: ~Copyable {
    /// What is remembered of a reading: a hash of its series, time and value; never 0 (0 marks
    /// an empty slot).
    static func hash(_ reading: Reading) -> UInt64 {
        var h = UInt64(bitPattern: Int64(reading.series.precomputedHash))
        h = (h ^ UInt64(bitPattern: reading.timestampMs)) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ reading.value.bitPattern) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h == 0 ? 1 : h
    }

    static let ways = 4
    let window: Int64
    /// Buckets × ways slots of (hash, time) pairs; allocated zeroed on first use, so untouched
    /// pages cost no memory.
    private var slots: UnsafeMutablePointer<UInt64>?
    private let bucketMask: Int
    /// Keeps the loads of `insert(_:now:)`'s first pass from being optimized away.
    private var touched: UInt64 = 0

    /// `capacity`: readings remembered at most (rounded up to a power of two).
    init(window: Int64, capacity: Int) {
        self.window = window
        var buckets = 1
        while buckets * Self.ways < capacity { buckets <<= 1 }
        bucketMask = buckets - 1
    }

    deinit { free(slots) }

    /// Inserts the hashes of a message's readings; returns the `index` of each that was already
    /// there (a duplicate). Each reading's bucket is a cache miss (and, at 4 KiB pages, a TLB
    /// miss): a first pass loads from every bucket, so that the misses overlap instead of coming
    /// one after another (the probe was 6 % of ingest CPU at four readings per message).
    mutating func insert(_ entries: [(index: Int, hash: UInt64)], now: Int64) -> [Int] {
        if slots == nil { slots = Self.allocate(words: (bucketMask + 1) * Self.ways * 2) }
        guard let slots else { return [] }
        var sum: UInt64 = 0
        for entry in entries { sum &+= bucket(entry.hash, in: slots).pointee }
        touched = sum
        var duplicates: [Int] = []
        for entry in entries where !insert(entry.hash, into: bucket(entry.hash, in: slots), now: now) {
            duplicates.append(entry.index)
        }
        return duplicates
    }

    private func bucket(_ hash: UInt64, in slots: UnsafeMutablePointer<UInt64>) -> UnsafeMutablePointer<UInt64> {
        slots + (Int(truncatingIfNeeded: hash >> 7) & bucketMask) * Self.ways * 2
    }

    /// The table, zeroed, on 2 MiB boundaries and marked for transparent huge pages (a hint the
    /// kernel may ignore): one TLB entry then covers it where 512 would.
    private static func allocate(words: Int) -> UnsafeMutablePointer<UInt64>? {
        let bytes = words * MemoryLayout<UInt64>.size
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 2 << 20, bytes) == 0, let raw else { return nil }
        _ = madvise(raw, bytes, Int32(MADV_HUGEPAGE))
        memset(raw, 0, bytes)
        return raw.bindMemory(to: UInt64.self, capacity: words)
    }

    /// False when `hash` was already in `bucket` (a duplicate).
    private func insert(_ hash: UInt64, into bucket: UnsafeMutablePointer<UInt64>, now: Int64) -> Bool {
        let oldest = now &- window
        var victim = 0
        var victimTime = Int64.max
        for way in 0..<Self.ways {
            let time = Int64(bitPattern: bucket[way * 2 + 1])  // checked: a stored time's bits, no float
            if bucket[way * 2] == hash, time >= oldest { return false }
            if bucket[way * 2] == 0 || time < oldest {
                victim = way
                victimTime = .min
            } else if time < victimTime {
                victim = way
                victimTime = time
            }
        }
        bucket[victim * 2] = hash
        bucket[victim * 2 + 1] = UInt64(bitPattern: now)
        return true
    }
}
