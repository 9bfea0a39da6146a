import Synchronization
import VigilCore
import VigilSQLite

/// Rolling raw samples up into 1 m and 1 h buckets, and reading them back.
///
/// A cut marks the UTC days it wrote into as dirty (`rollup_dirty`). `rollUp` recomputes dirty
/// days once they are complete and older than the out-of-order window, so each day is normally
/// rolled up once; late data, imports and backfills mark it dirty again and it is recomputed from
/// raw. Reads use a day's rollup only when it is clean, and aggregate raw samples on the fly
/// otherwise (today, and anything not rolled up yet), so answers never depend on the job's pace.
extension MetricStore {
    /// Rolls up at most `maxBlocks` complete dirty series-days; returns how many it did. A day is
    /// complete once `settleWindow` (default: the out-of-order window) has passed after its end.
    @discardableResult
    public func rollUp(maxBlocks: Int = 64, nowMs: Int64 = WallClock.nowMs(), settleWindow: Duration? = nil) throws(StoreError) -> Int {
        let settled = nowMs &- (settleWindow ?? options.outOfOrderWindow).milliseconds &- 60_000
        var corrupt = 0
        let done = try writer.withLock { database throws(StoreError) -> Int in
            let due = try database.cached(
                "SELECT series_id, block_start FROM rollup_dirty WHERE block_start <= ? ORDER BY block_start LIMIT ?")
            try due.bind([.integer(settled &- RollupResolution.blockMs), .integer(Int64(maxBlocks))])
            var blocks: [(series: Int64, start: Int64)] = []
            while try due.step() { blocks.append((due.int64(0), due.int64(1))) }
            due.reset()
            for block in blocks {
                try database.transaction { () throws(StoreError) in
                    try rollUpBlock(series: block.series, start: block.start, sparseToo: false, in: database, corrupt: &corrupt)
                }
            }
            return blocks.count
        }
        memory.withLock { memory in
            memory.counters.rollupBlocks += UInt64(done)
            memory.counters.corruptChunks += UInt64(corrupt)
        }
        return done
    }

    /// Rolls up every dirty day that is complete (after an import, and in tests). An import opens
    /// the store with no out-of-order window at all, so it passes the live one as `settleWindow`.
    public func rollUpAll(nowMs: Int64 = WallClock.nowMs(), settleWindow: Duration? = nil) throws(StoreError) {
        while try rollUp(maxBlocks: 256, nowMs: nowMs, settleWindow: settleWindow) > 0 {}
    }

    /// Recomputes one series-day's rollups from its raw samples and clears its dirty mark (inside
    /// the caller's transaction). A resolution too sparse to pay for itself
    /// (`rollupMinimumDensity`) is not stored unless `sparseToo`, which retention passes before it
    /// deletes the day's raw samples; reads aggregate the raw samples where no rollup is stored.
    func rollUpBlock(series: Int64, start: Int64, sparseToo: Bool, in database: StoreDatabase,
                     corrupt: inout Int) throws(StoreError) {
        let target = ReadTarget(id: series, key: SeriesKey(metric: ""), start: start &+ 1, end: start &+ RollupResolution.blockMs)
        // The head's samples count too: a day's last minutes may not be cut into chunks yet. When
        // they are, the cut marks the day dirty again and it is recomputed.
        let head = pendingSamples(for: [series])[series]
        let raw = try Self.readSeries(target, hours: chunkHours(series: series, from: target.start, to: target.end),
                                      pending: head, in: database, corrupt: &corrupt)
        // A day whose raw data is gone (retention) keeps the rollups it has.
        if !raw.timestamps.isEmpty {
            for resolution in RollupResolution.allCases {
                let buckets = RollupBuckets.aggregate(timestamps: raw.timestamps, values: raw.values,
                                                      resolution: resolution.milliseconds)
                if sparseToo || raw.timestamps.count >= options.rollupMinimumDensity * buckets.starts.count {
                    try database.cached("""
                        INSERT OR REPLACE INTO rollups(series_id, resolution, block_start, min_ts, max_ts, data)
                        VALUES(?, ?, ?, ?, ?, ?)
                        """).run([.integer(series), .integer(resolution.milliseconds), .integer(start),
                                  .integer(buckets.starts.first!), .integer(buckets.starts.last!),
                                  .blob(RollupCodec.encode(buckets))])
                } else {
                    // Recomputed after late data made it sparse: an older rollup would be stale.
                    try database.cached("DELETE FROM rollups WHERE series_id = ? AND resolution = ? AND block_start = ?")
                        .run([.integer(series), .integer(resolution.milliseconds), .integer(start)])
                }
            }
        }
        try database.cached("DELETE FROM rollup_dirty WHERE series_id = ? AND block_start = ?")
            .run([.integer(series), .integer(start)])
    }

    /// Buckets at `resolution` of every series matching `selector` that hold samples from
    /// [start, end] (whole buckets, so the first may reach back before `start`): from clean rollups where they exist, aggregated from raw samples elsewhere.
    public func readBuckets(_ selector: SeriesSelector, resolution: RollupResolution, from start: Int64, to end: Int64,
                            budget: QueryBudget? = nil) throws(StoreError) -> [(series: SeriesKey, buckets: RollupBuckets)] {
        // Each series is read only over the days it can have data: a range over millennia walks the
        // days between its oldest and newest sample, not every day of the range.
        let day = RollupResolution.blockMs
        let targets = memory.withLock { memory in
            memory.catalog.select(selector).compactMap { id -> ReadTarget? in
                guard let slot = memory.catalog.slot(id: id) else { return nil }
                let key = memory.catalog.keys[slot], state = memory.series[slot]
                // A series whose raw chunks retention deleted has no newest sample, only rollups.
                let from = state.oldest.map { max(start, $0 &- day) } ?? start
                let to = state.newest.map { min(end, $0.timestamp &+ day) } ?? end
                return from <= to ? ReadTarget(id: id, key: key, start: from, end: to) : nil
            }
        }
        let pending = pendingSamples(for: targets.map(\.id))
        var corrupt = 0
        let out = try reader.withLock { database throws(StoreError) -> [(series: SeriesKey, buckets: RollupBuckets)] in
            var out: [(series: SeriesKey, buckets: RollupBuckets)] = []
            for target in targets {
                try budget?.check()
                let buckets = try readBuckets(target, resolution: resolution, pending: pending[target.id],
                                                   in: database, corrupt: &corrupt, budget: budget)
                if !buckets.isEmpty { out.append((target.key, buckets)) }
            }
            return out
        }
        if corrupt > 0 { memory.withLock { $0.counters.corruptChunks += UInt64(corrupt) } }
        return out
    }

    func readBuckets(_ target: ReadTarget, resolution: RollupResolution, pending: PendingSamples?,
                            in database: StoreDatabase, corrupt: inout Int,
                            budget: QueryBudget? = nil) throws(StoreError) -> RollupBuckets {
        let firstBucket = RollupBuckets.floorDiv(target.start &- 1, resolution.milliseconds) &* resolution.milliseconds
        // A day costs a little even without data: a range over centuries is refused by the budget
        // before it is listed.
        let dayMs = RollupResolution.blockMs
        let dayCount = (RollupBuckets.floorDiv(target.end &- 1, dayMs) &- RollupBuckets.floorDiv(firstBucket, dayMs)) &+ 1
        try budget?.charge(Int(clamping: max(0, dayCount)))
        let days = Array(Self.blocks(from: firstBucket &+ 1, to: target.end))
        guard let firstDay = days.first, let lastDay = days.last else { return RollupBuckets() }
        var rolled: [Int64: [UInt8]] = [:]
        let rollups = try database.cached("""
            SELECT block_start, data FROM rollups WHERE series_id = ? AND resolution = ? AND block_start BETWEEN ? AND ?
            """)
        try rollups.bind([.integer(target.id), .integer(resolution.milliseconds), .integer(firstDay), .integer(lastDay)])
        while try rollups.step() { rolled[rollups.int64(0)] = rollups.blob(1) }
        rollups.reset()
        let dirtyQuery = try database.cached(
            "SELECT block_start FROM rollup_dirty WHERE series_id = ? AND block_start BETWEEN ? AND ?")
        try dirtyQuery.bind([.integer(target.id), .integer(firstDay), .integer(lastDay)])
        var dirty = Set<Int64>()
        while try dirtyQuery.step() { dirty.insert(dirtyQuery.int64(0)) }
        dirtyQuery.reset()

        var out = RollupBuckets()
        var rawFrom: Int64?  // start of a run of days to aggregate from raw samples
        func flushRaw(until dayEnd: Int64) throws(StoreError) {
            guard let from = rawFrom else { return }
            rawFrom = nil
            let rawTarget = ReadTarget(id: target.id, key: target.key, start: from &+ 1, end: dayEnd)
            let raw = try Self.readSeries(rawTarget, hours: chunkHours(series: target.id, from: rawTarget.start, to: rawTarget.end),
                                          pending: pending, in: database, corrupt: &corrupt, budget: budget)
            out.append(contentsOf: RollupBuckets.aggregate(timestamps: raw.timestamps, values: raw.values,
                                                           resolution: resolution.milliseconds))
        }
        for day in days {
            if let blob = rolled[day], !dirty.contains(day), pending == nil || !Self.pendingTouches(pending!, day) {
                try flushRaw(until: day)
                do {
                    let decoded = try RollupCodec.decode(blob)
                    out.append(contentsOf: decoded)
                } catch {
                    corrupt += 1  // fall back to raw for this day
                    rawFrom = day
                }
            } else if rawFrom == nil {
                rawFrom = day
            }
        }
        try flushRaw(until: lastDay &+ RollupResolution.blockMs)
        return out.clipped(from: firstBucket, to: target.end &- 1)
    }

    private static func pendingTouches(_ pending: PendingSamples, _ day: Int64) -> Bool {
        pending.timestamps.contains { $0 > day && $0 <= day &+ RollupResolution.blockMs }
    }
}
