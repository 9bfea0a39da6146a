#if canImport(Glibc)
import Glibc
import VigilSQLite
#endif
import Synchronization
import VigilCore

/// The embedded metric store.
///
/// `append` is in memory and cheap. `flush` makes everything appended so far durable as one
/// compact record in the write-ahead log (`WriteAheadLog`), and moves it to the series' head.
/// Heads are cut into compressed chunks in SQLite when a series has a full chunk, and each once
/// every `headSpan`, a group of series at a time (the log segments every group has passed are
/// then deleted): each sample is written about twice, a few bytes each, instead of a SQLite row
/// per series per flush. Reads merge the chunks on disk with the heads and what is not yet
/// flushed. Safe to use from any thread.
///
/// Memory per active series is its catalogue entry, its newest sample and its head: at most
/// `headSpan` of samples (half a span on average), 2–2.5 bytes each at 1 Hz (`SeriesHead`).
public final class MetricStore: Sendable {
    struct Memory {
        var catalog = SeriesCatalog()
        /// Per series, by catalogue slot.
        var series: [SeriesState] = []
        /// Samples in all heads.
        var headSamples = 0
        /// Raw chunks ending before this are gone (retention completed up to here).
        var rawHorizon: Int64 = .min
        /// Samples appended since the last flush.
        var pending = PendingLog()
        /// Series created since the last flush, for the next log record.
        var newSeries: [Int64] = []
        /// Series in the log but not yet in the `series` table: the next cut inserts them.
        var unsavedSeries: [Int64] = []
        /// Appends so far, to spread new series over the rolling cut's groups.
        var appendCalls: UInt64 = 0
        var counters = StoreCounters()
    }

    /// A series' newest sample. The value is nil until known: after a restart it is read from
    /// disk on the first `lastValues` that needs it.
    struct Newest {
        var timestamp: Int64
        var value: Double?
    }

    struct PendingSamples {
        var timestamps: [Int64] = []
        var values: [Double] = []

        mutating func append(_ timestamp: Int64, _ value: Double) {
            timestamps.append(timestamp)
            values.append(value)
        }
    }

    public let options: StoreOptions
    /// Opened by `vigil query`, `export` and `store stats` next to a running gateway: no writes.
    public let readOnly: Bool
    let memory = Mutex(Memory())
    /// Flushes and cuts, one at a time; taken before `memory` or `writer`, never after.
    let flushing: Mutex<FlushState>
    /// The write connection: cuts, compaction, rollups and retention, one at a time.
    let writer: Mutex<StoreDatabase>
    /// A read connection for queries (WAL readers do not block the writer).
    let reader: Mutex<StoreDatabase>

    /// Opens (or creates) the store. Everything flushed before, including by a process that was
    /// killed, is there: SQLite's WAL recovery runs here, and the write-ahead log is read back
    /// into the heads.
    ///
    /// `readOnly` opens an existing store without writing to it, safe while a gateway writes: it
    /// sees what the gateway had flushed when it was opened.
    public init(options: StoreOptions, readOnly: Bool = false) throws(StoreError) {
        self.options = options
        self.readOnly = readOnly
        let database: StoreDatabase
        if readOnly {
            guard access(options.path, R_OK) == 0 else { throw StoreError.database("no store at \(options.path)") }
            database = try StoreDatabase(path: options.path, readOnly: true)
            let version = try StoreSchema.userVersion(database)
            guard version == StoreSchema.version else {
                throw StoreError.database(version < StoreSchema.version
                    ? "the store at \(options.path) is in format \(version), from an earlier release: start the gateway or run `vigil store maintain` once to upgrade it to format \(StoreSchema.version)"
                    : "the store at \(options.path) was written by a newer release of Vigil (format \(version), this one reads up to \(StoreSchema.version))")
            }
        } else {
            database = try StoreDatabase(path: options.path)
            // 16 KiB pages pack several compressed chunks per page (set only when the file is created).
            try database.execute("PRAGMA page_size=16384")
            // Before the first table: lets retention give pages back to the file system.
            try database.execute("PRAGMA auto_vacuum=INCREMENTAL")
            try database.execute("PRAGMA journal_mode=WAL")
            // FULL: a cut is on stable storage before the log segments it replaces are deleted.
            // Cuts are rare (a few a minute at most), so their fsyncs cost little.
            try database.execute("PRAGMA synchronous=FULL")
            // Checkpoint every 4 MiB of WAL (not SQLite's 1000 pages, 16 MiB at our page size), and
            // give the space back after a checkpoint: the WAL should not hold a small disk's space.
            try database.execute("PRAGMA wal_autocheckpoint=256")
            try database.execute("PRAGMA journal_size_limit=8388608")
            try StoreSchema.migrate(database)
            // SQLite's 2 MiB page cache filled at the first cut and stayed: 1 MiB. A cut of 10 000
            // series wrote the same bytes with 512 KiB as with 2 MiB (27.1 against 27.5 MB).
            try database.execute("PRAGMA cache_size=-1024")
        }
        var memory = Memory()
        try Self.load(from: database, into: &memory)
        let replay = try Self.replayLog(directory: options.logDirectory, database: database, into: &memory,
                                        groups: options.cutGroups)
        self.memory.withLock { $0 = memory }
        flushing = Mutex(FlushState(log: WriteAheadLog(directory: options.logDirectory, retainedBytes: replay.retainedBytes),
                                    nextSequence: replay.nextSequence, checkpoint: replay.checkpoint,
                                    groups: options.cutGroups))
        writer = Mutex(database)
        let queries = try StoreDatabase(path: options.path, readOnly: true)
        // The kernel caches the file already; SQLite's own cache (2 MiB by default) only saves a
        // copy per page read, and a gateway's queries read each chunk page once.
        try queries.execute("PRAGMA cache_size=-512")
        reader = Mutex(queries)
        // After a crash, put what the log held into chunks at once: repeated crashes must not
        // pile up log to read back (each open would be slower than the last).
        if !readOnly && replay.samples > 0 { try checkpoint() }
    }

    private static func load(from database: StoreDatabase, into memory: inout Memory) throws(StoreError) {
        let series = try database.prepare("SELECT id, metric, labels FROM series")
        try series.bind([])
        while try series.step() {
            let labels = (try? StoreSchema.decodeLabels(series.blob(2))) ?? .empty
            memory.insert(SeriesKey(metric: series.text(1), labels: labels), id: series.int64(0))
        }
        let newest = try database.prepare("SELECT series_id, max_ts, min_ts, hours FROM series_span")
        try newest.bind([])
        while try newest.step() {
            memory.update(id: newest.int64(0)) { state in
                state.newest = Newest(timestamp: newest.int64(1), value: nil)
                state.oldest = newest.int64(2)
                state.persistedNewest = newest.int64(1)
                state.chunkSpanHours = newest.int64(3)
            }
        }
        let rolled = try database.prepare("SELECT series_id, MIN(block_start) FROM rollups GROUP BY series_id")
        try rolled.bind([])
        while try rolled.step() {
            memory.update(id: rolled.int64(0)) { state in state.oldest = min(state.oldest ?? .max, rolled.int64(1)) }
        }
    }

    // MARK: Append

    /// Adds readings in memory. Rejects (and counts) non-finite values and samples older than the
    /// out-of-order window of their series.
    @discardableResult
    public func append(_ readings: [Reading]) -> AppendResult {
        let window = options.outOfOrderWindow.milliseconds
        let groups = options.cutGroups
        return memory.withLock { memory in
            var result = AppendResult()
            memory.appendCalls &+= 1
            for reading in readings {
                guard reading.value.isFinite else {
                    result.invalid += 1
                    continue
                }
                let (slot, id, created) = memory.slot(for: reading.series)
                if created { memory.newSeries.append(id) }
                if let newest = memory.series[slot].newest {
                    if reading.timestampMs < newest.timestamp &- window {
                        result.tooOld += 1
                        continue
                    }
                    // A second value at the newest timestamp replaces the first (last write wins,
                    // as on disk): counted, so no reading disappears silently.
                    if reading.timestampMs == newest.timestamp { result.replaced += 1 }
                    if reading.timestampMs >= newest.timestamp {
                        memory.series[slot].newest = Newest(timestamp: reading.timestampMs, value: reading.value)
                    } else if reading.timestampMs < memory.series[slot].oldest ?? .max {
                        memory.series[slot].oldest = reading.timestampMs
                    }
                } else {
                    memory.series[slot].newest = Newest(timestamp: reading.timestampMs, value: reading.value)
                    if reading.timestampMs < memory.series[slot].oldest ?? .max { memory.series[slot].oldest = reading.timestampMs }
                }
                if memory.series[slot].cutGroup == Self.noCutGroup {
                    memory.series[slot].cutGroup = Self.cutGroup(timestamp: reading.timestampMs, appendCall: memory.appendCalls, groups: groups)
                }
                memory.pending.append(slot: slot, reading.timestampMs, reading.value)
                result.accepted += 1
            }
            memory.counters.appended += UInt64(result.accepted)
            memory.counters.rejectedTooOld += UInt64(result.tooOld)
            memory.counters.rejectedInvalid += UInt64(result.invalid)
            return result
        }
    }

    // MARK: Read

    /// Samples of every series matching `selector` in [start, end], merged from disk and memory.
    public func read(_ selector: SeriesSelector, from start: Int64, to end: Int64,
                     budget: QueryBudget? = nil) throws(StoreError) -> [SeriesSamples] {
        try read({ $0.catalog.select(selector) }, from: start, to: end, budget: budget)
    }

    /// Samples of each of these series (those the store knows) in [start, end].
    public func read(keys: [SeriesKey], from start: Int64, to end: Int64,
                     budget: QueryBudget? = nil) throws(StoreError) -> [SeriesSamples] {
        try read({ memory in keys.compactMap { memory.catalog.id(of: $0) } }, from: start, to: end, budget: budget)
    }

    private func read(_ choose: (Memory) -> [Int64], from start: Int64, to end: Int64,
                      budget: QueryBudget?) throws(StoreError) -> [SeriesSamples] {
        let targets = memory.withLock { memory in
            choose(memory).compactMap { id in memory.catalog.key(id: id).map { ReadTarget(id: id, key: $0, start: start, end: end) } }
        }
        return try read(targets, budget: budget)
    }

    /// The samples of exactly this series in [start, end]; nil when the series is unknown.
    public func read(series key: SeriesKey, from start: Int64, to end: Int64) throws(StoreError) -> SeriesSamples? {
        guard let id = memory.withLock({ $0.catalog.id(of: key) }) else { return nil }
        return try read([ReadTarget(id: id, key: key, start: start, end: end)]).first
    }

    /// The newest sample of every matching series: from memory, except for series not written
    /// since the store was opened, whose newest chunk is read once and then remembered.
    public func lastValues(_ selector: SeriesSelector,
                           budget: QueryBudget? = nil) throws(StoreError) -> [(series: SeriesKey, timestampMs: Int64, value: Double)] {
        try lastValues({ $0.catalog.select(selector) }, budget: budget)
    }

    /// The newest sample of each of these series (those the store knows).
    public func lastValues(keys: [SeriesKey],
                           budget: QueryBudget? = nil) throws(StoreError) -> [(series: SeriesKey, timestampMs: Int64, value: Double)] {
        try lastValues({ memory in keys.compactMap { memory.catalog.id(of: $0) } }, budget: budget)
    }

    private func lastValues(_ choose: (Memory) -> [Int64],
                            budget: QueryBudget?) throws(StoreError) -> [(series: SeriesKey, timestampMs: Int64, value: Double)] {
        var known: [(series: SeriesKey, timestampMs: Int64, value: Double)] = []
        let unknown = memory.withLock { memory in
            choose(memory).compactMap { id -> ReadTarget? in
                guard let slot = memory.catalog.slot(id: id), let newest = memory.series[slot].newest else { return nil }
                let key = memory.catalog.keys[slot]
                if let value = newest.value {
                    known.append((key, newest.timestamp, value))
                    return nil
                }
                return ReadTarget(id: id, key: key, start: newest.timestamp, end: newest.timestamp)
            }
        }
        guard !unknown.isEmpty else { return known }
        let ids = Dictionary(unknown.map { ($0.key, $0.id) }, uniquingKeysWith: { a, _ in a })
        let read = try read(unknown, budget: budget)
        memory.withLock { memory in
            for samples in read {
                guard let id = ids[samples.series], let t = samples.timestamps.last, let v = samples.values.last,
                      let slot = memory.catalog.slot(id: id),
                      memory.series[slot].newest?.timestamp == t, memory.series[slot].newest?.value == nil else { continue }
                memory.series[slot].newest?.value = v
            }
        }
        return known + read.compactMap { samples in
            guard let t = samples.timestamps.last, let v = samples.values.last else { return nil }
            return (samples.series, t, v)
        }
    }

    struct ReadTarget {
        let id: Int64
        let key: SeriesKey
        let start: Int64
        let end: Int64
    }

    private func read(_ targets: [ReadTarget], budget: QueryBudget? = nil) throws(StoreError) -> [SeriesSamples] {
        let pendingCopies = pendingSamples(for: targets.map(\.id))
        var corrupt = 0
        let results = try reader.withLock { database throws(StoreError) -> [SeriesSamples] in
            var out: [SeriesSamples] = []
            out.reserveCapacity(targets.count)
            for target in targets {
                try budget?.check()
                let samples = try Self.readSeries(target, hours: chunkHours(series: target.id, from: target.start, to: target.end),
                                                  pending: pendingCopies[target.id], in: database, corrupt: &corrupt, budget: budget)
                if !samples.timestamps.isEmpty || !samples.gaps.isEmpty { out.append(samples) }
            }
            return out
        }
        if corrupt > 0 { memory.withLock { $0.counters.corruptChunks += UInt64(corrupt) } }
        return results
    }

    /// What is not in chunks yet, per series: its head, then what arrived since the last flush
    /// (arrival order, so a later write of a timestamp wins). Taken before reading the chunks: a
    /// cut that lands in between shows its samples twice, which merging makes harmless, and never
    /// not at all.
    func pendingSamples(for ids: [Int64]) -> [Int64: PendingSamples] {
        let (heads, pending) = memory.withLock { memory in
            var heads: [Int64: SeriesHead] = [:]
            var wanted: [Int32: Int64] = [:]
            for id in ids {
                guard let slot = memory.catalog.slot(id: id) else { continue }
                if memory.series[slot].head.count > 0 { heads[id] = memory.series[slot].head }
                if memory.pending.count > 0 { wanted[Int32(slot)] = id }
            }
            return (heads, memory.pending.samples(of: wanted))
        }
        // Heads are decoded outside the lock: copies of their buffers are cheap, decoding is not.
        var merged = pending
        for (id, head) in heads {
            let samples = head.samples
            merged[id] = PendingSamples(timestamps: samples.timestamps + (pending[id]?.timestamps ?? []),
                                        values: samples.values + (pending[id]?.values ?? []))
        }
        return merged
    }

    /// One series' samples in the target range from the chunks filed under `hours` (nil: none on
    /// disk), merged with `pending`; chunks that fail to decode become gaps and are counted in
    /// `corrupt`.
    static func readSeries(_ target: ReadTarget, hours: ClosedRange<Int64>?, pending: PendingSamples?, in database: StoreDatabase,
                           corrupt: inout Int, budget: QueryBudget? = nil) throws(StoreError) -> SeriesSamples {
        var parts: [Chunk] = []
        var gaps: [ClosedRange<Int64>] = []
        if let hours {
            for (row, data) in try chunkRows(series: target.id, hours: hours, from: target.start, to: target.end,
                                             withData: true, in: database, budget: budget) {
                let chunk: Chunk
                do {
                    chunk = try data.decode()
                } catch {
                    corrupt += 1
                    gaps.append(row.minTs...row.maxTs)
                    continue
                }
                parts.append(chunk)
                try budget?.charge(chunk.count)
            }
        }
        if let pending {
            // The heads hold up to `headSpan` of samples: they count against the budget too.
            try budget?.charge(pending.timestamps.count)
            parts.append(SampleMerge.sortedLastWins(timestamps: pending.timestamps, values: pending.values))
        }
        let merged = SampleMerge.mergeLastWins(parts, from: target.start, to: target.end)
        return SeriesSamples(series: target.key, timestamps: merged.timestamps, values: merged.values, gaps: gaps)
    }

    /// The day blocks that hold at least one of these (ascending) timestamps: a batch with one
    /// sample in 1970 and one today marks two days, not twenty thousand.
    static func blocksHolding(_ timestamps: [Int64]) -> [Int64] {
        let day = RollupResolution.blockMs
        var blocks: [Int64] = []
        for t in timestamps {
            let block = RollupBuckets.floorDiv(t &- 1, day) &* day
            if blocks.last != block { blocks.append(block) }
        }
        return blocks
    }

    /// The UTC day blocks that [from, to] touches; block `d` covers (d, d + 1 day], like buckets.
    static func blocks(from: Int64, to: Int64) -> StrideThrough<Int64> {
        let day = RollupResolution.blockMs
        return stride(from: RollupBuckets.floorDiv(from &- 1, day) &* day, through: RollupBuckets.floorDiv(to &- 1, day) &* day,
                      by: Int(day))
    }

    // MARK: Catalogue

    public func series(_ selector: SeriesSelector) -> [SeriesKey] {
        memory.withLock { memory in memory.catalog.select(selector).compactMap { memory.catalog.key(id: $0) } }
    }

    public func labelNames() -> [String] { memory.withLock { $0.catalog.labelNames } }

    public func labelValues(_ name: String) -> [String] { memory.withLock { $0.catalog.labelValues(name) } }

    public var counters: StoreCounters { memory.withLock { $0.counters } }
}

/// Running totals for /metrics and `vigil store stats`.
public struct StoreCounters: Sendable, Equatable {
    public var appended: UInt64 = 0
    /// Samples made durable in the write-ahead log.
    public var flushed: UInt64 = 0
    public var flushes: UInt64 = 0
    /// Bytes appended to the write-ahead log.
    public var logBytes: UInt64 = 0
    /// Heads written to chunks: series cut on their own (a full chunk, or their turn in the
    /// rolling cut), turns of the rolling cut, and full cuts of every head.
    public var seriesCut: UInt64 = 0
    public var rollingCuts: UInt64 = 0
    public var fullCuts: UInt64 = 0
    /// Bytes of chunks written by cuts.
    public var cutBytes: UInt64 = 0
    /// How long the last cut took (heads encoded and committed), in seconds.
    public var lastCutSeconds = 0.0
    /// Log records that did not read back when the store was opened (torn by a crash, damaged).
    public var logRecordsDamaged: UInt64 = 0
    public var flushFailures: UInt64 = 0
    public var rejectedTooOld: UInt64 = 0
    public var rejectedInvalid: UInt64 = 0
    public var corruptChunks: UInt64 = 0
    /// Samples replaced by a later write of the same series and timestamp (found when compacting).
    public var duplicates: UInt64 = 0
    public var compactions: UInt64 = 0
    /// Series-days rolled up into 1 m and 1 h buckets.
    public var rollupBlocks: UInt64 = 0
    public var retentionChunksDeleted: UInt64 = 0
    public var retentionRollupsDeleted: UInt64 = 0
    /// Free pages given back to the file system (`reclaimFreePages`), in bytes.
    public var reclaimedBytes: UInt64 = 0
}
