import Synchronization
import VigilCore

/// Merges a series' small flush segments (level 0) into large level-1 chunks, which is where the
/// compression ratio comes from: zstd and the decimal codec work best on long runs.
///
/// Runs under the writer lock for one series at a time, so a flush never slips a newer segment in
/// between reading and replacing: new chunks get larger ids than anything they replace, and "last
/// write wins" still holds. Callers bound the work per call, which rate-limits it.
extension MetricStore {
    /// Series due for compaction: `segmentsPerCompaction` segments or more, or a segment older than
    /// `olderThan` (so rarely-updated series compact too).
    func compactionCandidates(limit: Int, olderThan: Int64) throws(StoreError) -> [Int64] {
        try writer.withLock { database throws(StoreError) -> [Int64] in
            let query = try database.prepare("""
                SELECT series_id FROM chunks WHERE level = 0 GROUP BY series_id
                HAVING COUNT(*) >= ? OR MIN(max_ts) < ? LIMIT ?
                """)
            try query.bind([.integer(Int64(options.segmentsPerCompaction)), .integer(olderThan), .integer(Int64(limit))])
            var ids: [Int64] = []
            while try query.step() { ids.append(query.int64(0)) }
            return ids
        }
    }

    /// Compacts up to `maxSeries` due series; returns how many were compacted.
    @discardableResult
    public func compact(maxSeries: Int = 64, nowMs: Int64 = WallClock.nowMs()) throws(StoreError) -> Int {
        let due = try compactionCandidates(limit: maxSeries, olderThan: nowMs &- 3_600_000)
        for id in due { try compactSeries(id) }
        return due.count
    }

    /// Cuts every head, then compacts every series that has segments, regardless of age (for
    /// tests, import and `vigil store maintain`).
    public func compactAll() throws(StoreError) {
        if !readOnly { try checkpoint() }
        let ids = try writer.withLock { database throws(StoreError) -> [Int64] in
            let query = try database.prepare("SELECT DISTINCT series_id FROM chunks WHERE level = 0")
            try query.bind([])
            var ids: [Int64] = []
            while try query.step() { ids.append(query.int64(0)) }
            return ids
        }
        for id in ids { try compactSeries(id) }
    }

    func compactSeries(_ seriesID: Int64) throws(StoreError) {
        let samplesPerChunk = options.samplesPerChunk
        let outcome = try writer.withLock { database throws(StoreError) -> (merged: Int, corrupt: Int) in
            let listing = try database.cached("SELECT id, min_ts, max_ts, count FROM chunks WHERE series_id = ? AND level = 0")
            try listing.bind([.integer(seriesID)])
            var segments: [ChunkRow] = []
            while try listing.step() {
                segments.append(ChunkRow(id: listing.int64(0), minTs: listing.int64(1), maxTs: listing.int64(2),
                                         count: listing.int64(3), level: 0))
            }
            listing.reset()
            guard let low = segments.map(\.minTs).min(), let high = segments.map(\.maxTs).max() else { return (0, 0) }
            // Level-1 chunks that overlap the segments, and the newest one if it has room left:
            // level-1 chunks stay disjoint in time. They are filed under the hours from the span
            // before the segments to the series' newest chunk.
            let newest = memory.withLock { max($0.persistedNewest[seriesID] ?? high, high) }
            var level1: [ChunkRow] = []
            if let hours = chunkHours(series: seriesID, from: low, to: newest) {
                level1 = try Self.chunkRows(series: seriesID, hours: hours, from: low, to: newest, level: 1, withData: false,
                                            in: database).map(\.row)
            }
            let newestSealed = level1.max { $0.maxTs < $1.maxTs }
            let chosen = (segments + level1.filter { row in
                (row.maxTs >= low && row.minTs <= high) || (row.id == newestSealed?.id && row.count < Int64(samplesPerChunk))
            }).sorted { $0.id < $1.id }
            let fetch = try database.cached("SELECT data FROM chunks WHERE id = ?")
            var parts: [Chunk] = []
            var replaced: [Int64] = []
            var corrupt = 0
            for row in chosen {  // ascending id: older writes first
                try fetch.bind([.integer(row.id)])
                guard try fetch.step() else {
                    fetch.reset()
                    continue
                }
                do {
                    parts.append(try ChunkCodec.decode(fetch.blob(0)))
                    replaced.append(row.id)
                } catch {
                    corrupt += 1  // left in place: reads keep reporting its gap
                }
                fetch.reset()
            }
            let merged = SampleMerge.mergeLastWins(parts, from: .min, to: .max)
            try database.transaction { () throws(StoreError) in
                let delete = try database.prepare("DELETE FROM chunks WHERE id = ?")
                for id in replaced { try delete.run([.integer(id)]) }
                var start = 0
                while start < merged.count {
                    let end = min(start + samplesPerChunk, merged.count)
                    let piece = Chunk(timestamps: Array(merged.timestamps[start..<end]), values: Array(merged.values[start..<end]))
                    try insertChunk(piece, blob: ChunkCodec.encode(piece, level: 9), series: seriesID, level: 1, in: database)
                    start = end
                }
            }
            let before = parts.reduce(0) { $0 + $1.count }
            return (before - merged.count, corrupt)
        }
        memory.withLock { memory in
            memory.counters.duplicates += UInt64(max(0, outcome.merged))
            memory.counters.corruptChunks += UInt64(outcome.corrupt)
            memory.counters.compactions += 1
        }
    }
}

extension MetricStore {
    /// Gives free pages back to the file system once they are more than `slack` of the file (and
    /// at least 1 MiB): compaction and retention free pages that later flushes reuse, so a little
    /// free space is cheaper to keep than to give back and grow again; much of it means `du` no
    /// longer follows the data. At most `maxPages` per call (`nil`: all); `everything` gives back
    /// every free page whatever their share (after an import). Returns the bytes given back.
    @discardableResult
    public func reclaimFreePages(slack: Double = 0.1, maxPages: Int? = 4096, everything: Bool = false) throws(StoreError) -> Int64 {
        try writer.withLock { database throws(StoreError) -> Int64 in
            let pageSize = try Self.pragma(database, "page_size")
            let free = try Self.pragma(database, "freelist_count")
            let total = try Self.pragma(database, "page_count")
            guard free > 0, everything || (free * pageSize >= 1 << 20 && Double(free) > slack * Double(total)) else { return 0 }
            try database.execute(maxPages.map { "PRAGMA incremental_vacuum(\($0))" } ?? "PRAGMA incremental_vacuum")
            try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let given = (free - (try Self.pragma(database, "freelist_count"))) * pageSize
            memory.withLock { $0.counters.reclaimedBytes += UInt64(max(0, given)) }
            return given
        }
    }

    /// Returns free pages to the file system (after retention deletes or compaction).
    public func vacuum() throws(StoreError) {
        try writer.withLock { database throws(StoreError) in
            try database.execute("VACUUM")
            try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
