import Synchronization
import VigilCore
import VigilSQLite

/// Deleting by age (`retention`, the rollup retentions) and by size (`max_bytes`), a bounded
/// number of rows per call so a big deletion never holds the writer for long.
extension MetricStore {
    public struct RetentionOutcome: Sendable, Equatable {
        public var chunksDeleted = 0
        public var rollupsDeleted = 0
        /// True when it stopped at `maxRows` with more to delete.
        public var more = false
    }

    @discardableResult
    public func applyRetention(nowMs: Int64 = WallClock.nowMs(), maxRows: Int = 2000) throws(StoreError) -> RetentionOutcome {
        var outcome = RetentionOutcome()
        var corrupt = 0
        try writer.withLock { database throws(StoreError) in
            var budget = maxRows
            func delete(_ sql: String, _ values: [SQLiteValue], batch: Int = .max) throws(StoreError) -> Int {
                guard budget > 0 else { return 0 }
                try database.cached(sql).run(values + [.integer(Int64(min(budget, batch)))])
                let deleted = database.changes
                budget -= deleted
                return deleted
            }
            try database.transaction { () throws(StoreError) in
                let rawCutoff = nowMs &- options.retention.milliseconds
                let expired = try Self.chunkSpans("SELECT id, series_id, min_ts, max_ts FROM chunks WHERE max_ts < ? LIMIT ?",
                                                  [.integer(rawCutoff), .integer(Int64(budget))], in: database)
                let deletable = try rolledUpFirst(expired, nowMs: nowMs, in: database, corrupt: &corrupt, more: &outcome.more)
                outcome.chunksDeleted += try Self.deleteChunks(deletable, in: database)
                budget -= outcome.chunksDeleted
                for (resolution, keep) in [(RollupResolution.minute, options.minuteRollupRetention),
                                           (.hour, options.hourRollupRetention)] {
                    outcome.rollupsDeleted += try delete(
                        "DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE resolution = ? AND max_ts < ? LIMIT ?)",
                        [.integer(resolution.milliseconds), .integer(nowMs &- keep.milliseconds)])
                }
                // Dirty marks for days whose raw data is gone can never be rolled up.
                _ = try delete("""
                    DELETE FROM rollup_dirty WHERE (series_id, block_start) IN (SELECT series_id, block_start FROM rollup_dirty WHERE block_start < ? LIMIT ?)
                    """, [.integer(rawCutoff &- RollupResolution.blockMs)])
            }
            if let maxBytes = options.maxBytes {
                // Over the cap: the oldest raw chunks go first, then the oldest 1 m rollups.
                while budget > 0, try Self.usedBytes(database) > maxBytes {
                    let deleted = try database.transaction { () throws(StoreError) -> Int in
                        let oldest = try Self.chunkSpans("SELECT id, series_id, min_ts, max_ts FROM chunks ORDER BY max_ts LIMIT ?",
                                                         [.integer(Int64(min(budget, 16)))], in: database)
                        var stopped = false
                        let deletable = try rolledUpFirst(oldest, nowMs: nowMs, in: database, corrupt: &corrupt, more: &stopped)
                        let chunks = try Self.deleteChunks(deletable, in: database)
                        budget -= chunks
                        outcome.chunksDeleted += chunks
                        guard !stopped else { return max(chunks, 1) }  // rollups were written: go round again
                        guard chunks == 0 else { return chunks }
                        let rollups = try delete("""
                            DELETE FROM rollups WHERE id IN (SELECT id FROM rollups WHERE resolution = ? ORDER BY max_ts LIMIT ?)
                            """, [.integer(RollupResolution.minute.milliseconds)], batch: 16)
                        outcome.rollupsDeleted += rollups
                        return rollups
                    }
                    if deleted == 0 { break }  // nothing left that may be deleted
                    // Pages freed by the deletion count only once given back.
                    try database.execute("PRAGMA incremental_vacuum")
                }
            }
            outcome.more = outcome.more || budget <= 0
            if outcome.chunksDeleted + outcome.rollupsDeleted > 0 {
                // Give the freed pages back to the file system; the WAL checkpoint truncates the file.
                try database.execute("PRAGMA incremental_vacuum")
                try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        let completed = !outcome.more
        memory.withLock { memory in
            // Every raw chunk that ended before the cutoff is gone: reads need not look before it.
            if completed { memory.rawHorizon = max(memory.rawHorizon, nowMs &- options.retention.milliseconds) }
            memory.counters.retentionChunksDeleted += UInt64(outcome.chunksDeleted)
            memory.counters.retentionRollupsDeleted += UInt64(outcome.rollupsDeleted)
            memory.counters.corruptChunks += UInt64(corrupt)
        }
        return outcome
    }

    struct ChunkSpan {
        let id: Int64
        let series: Int64
        let minTs: Int64
        let maxTs: Int64
    }

    static func chunkSpans(_ sql: String, _ values: [SQLiteValue], in database: StoreDatabase) throws(StoreError) -> [ChunkSpan] {
        let query = try database.cached(sql)
        try query.bind(values)
        defer { query.reset() }
        var spans: [ChunkSpan] = []
        while try query.step() {
            spans.append(ChunkSpan(id: query.int64(0), series: query.int64(1), minTs: query.int64(2), maxTs: query.int64(3)))
        }
        return spans
    }

    static func deleteChunks(_ ids: [Int64], in database: StoreDatabase) throws(StoreError) -> Int {
        let delete = try database.cached("DELETE FROM chunks WHERE id = ?")
        for id in ids { try delete.run([.integer(id)]) }
        return ids.count
    }

    /// Before raw chunks go, every day they hold gets the rollups it lacks (sparse resolutions
    /// included, see `StoreOptions.rollupMinimumDensity`) or is recomputed if dirty, so the
    /// history kept past raw retention is whole. At most `maxRollupsPerCall` days are rolled up
    /// per call (each reads a day of raw samples); the chunks of days not reached yet stay, and
    /// `more` is set. Returns the ids that may be deleted now.
    func rolledUpFirst(_ chunks: [ChunkSpan], nowMs: Int64, in database: StoreDatabase,
                       corrupt: inout Int, more: inout Bool) throws(StoreError) -> [Int64] {
        let kept = [(RollupResolution.minute, options.minuteRollupRetention), (.hour, options.hourRollupRetention)]
        var done = Set<[Int64]>()
        var rolled = 0
        var deletable: [Int64] = []
        let stored = try database.cached("SELECT resolution FROM rollups WHERE series_id = ? AND block_start = ?")
        let dirty = try database.cached("SELECT 1 FROM rollup_dirty WHERE series_id = ? AND block_start = ?")
        chunkLoop: for chunk in chunks {
            for day in Self.blocks(from: chunk.minTs, to: chunk.maxTs) where !done.contains([chunk.series, day]) {
                // The resolutions a rollup of this day would still be kept for.
                let wanted = Set(kept.filter { day &+ RollupResolution.blockMs > nowMs &- $0.1.milliseconds }.map(\.0.milliseconds))
                var have = Set<Int64>()
                try stored.bind([.integer(chunk.series), .integer(day)])
                while try stored.step() { have.insert(stored.int64(0)) }
                stored.reset()
                try dirty.bind([.integer(chunk.series), .integer(day)])
                let isDirty = try dirty.step()
                dirty.reset()
                if !wanted.isEmpty, isDirty || !wanted.isSubset(of: have) {
                    guard rolled < Self.maxRollupsPerRetentionCall else {
                        more = true
                        continue chunkLoop
                    }
                    try rollUpBlock(series: chunk.series, start: day, sparseToo: true, in: database, corrupt: &corrupt)
                    rolled += 1
                }
                done.insert([chunk.series, day])
            }
            deletable.append(chunk.id)
        }
        return deletable
    }

    /// Rollups computed by one retention call before it deletes raw chunks (a day of raw samples
    /// read for each: about a millisecond at 10 s, so a call holds the writer for well under a second).
    static let maxRollupsPerRetentionCall = 256

    /// Bytes in pages that hold data (the file minus its free pages).
    static func usedBytes(_ database: StoreDatabase) throws(StoreError) -> Int64 {
        try pragma(database, "page_size") * (try pragma(database, "page_count") - (try pragma(database, "freelist_count")))
    }

    static func pragma(_ database: StoreDatabase, _ name: String) throws(StoreError) -> Int64 {
        let statement = try database.cached("PRAGMA \(name)")
        try statement.bind([])
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : 0
    }
}
