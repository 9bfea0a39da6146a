import Synchronization
import VigilCore

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
                outcome.chunksDeleted += try delete(
                    "DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE max_ts < ? LIMIT ?)", [.integer(rawCutoff)])
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
                        let chunks = try delete("DELETE FROM chunks WHERE id IN (SELECT id FROM chunks ORDER BY max_ts LIMIT ?)", [], batch: 16)
                        outcome.chunksDeleted += chunks
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
            outcome.more = budget <= 0
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
        }
        return outcome
    }

    /// Bytes in pages that hold data (the file minus its free pages).
    static func usedBytes(_ database: SQLiteDatabase) throws(StoreError) -> Int64 {
        try pragma(database, "page_size") * (try pragma(database, "page_count") - (try pragma(database, "freelist_count")))
    }

    static func pragma(_ database: SQLiteDatabase, _ name: String) throws(StoreError) -> Int64 {
        let statement = try database.cached("PRAGMA \(name)")
        try statement.bind([])
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : 0
    }
}
