import Synchronization
import VigilCore
import VigilSQLite

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

    /// Compacts one series, with the series whose segments share time columns with its own
    /// (aligned series, see `insertPieces`), so their merged chunks can share them again.
    func compactSeries(_ seriesID: Int64) throws(StoreError) {
        let samplesPerChunk = options.samplesPerChunk
        let outcome = try writer.withLock { database throws(StoreError) -> (merged: Int, corrupt: Int) in
            var replaced: [Int64] = []
            var pieces: [ChunkPiece] = []
            var duplicates = 0
            var corrupt = 0
            for id in try Self.alignedPartners(of: seriesID, in: database) {
                guard let merged = try mergedSegments(of: id, in: database, replaced: &replaced, duplicates: &duplicates,
                                                      corrupt: &corrupt) else { continue }
                var start = 0
                while start < merged.count {
                    let end = min(start + samplesPerChunk, merged.count)
                    pieces.append(ChunkPiece(series: id, chunk: Chunk(timestamps: Array(merged.timestamps[start..<end]),
                                                                      values: Array(merged.values[start..<end])), level: 1))
                    start = end
                }
            }
            guard !replaced.isEmpty else { return (0, corrupt) }
            try database.transaction { () throws(StoreError) in
                _ = try Self.deleteChunks(replaced, in: database)
                _ = try insertPieces(pieces, in: database)
            }
            return (duplicates, corrupt)
        }
        memory.withLock { memory in
            memory.counters.duplicates += UInt64(max(0, outcome.merged))
            memory.counters.corruptChunks += UInt64(outcome.corrupt)
            memory.counters.compactions += 1
        }
    }

    /// The series itself, then up to 255 others whose segments share a time column with one of
    /// its segments.
    static func alignedPartners(of seriesID: Int64, in database: StoreDatabase) throws(StoreError) -> [Int64] {
        let query = try database.cached("""
            SELECT DISTINCT other.series_id FROM chunks own JOIN chunks other ON other.time_id = own.time_id
            WHERE own.series_id = ? AND own.level = 0 AND own.time_id IS NOT NULL AND other.series_id != own.series_id LIMIT 255
            """)
        try query.bind([.integer(seriesID)])
        defer { query.reset() }
        var ids = [seriesID]
        while try query.step() { ids.append(query.int64(0)) }
        return ids
    }

    /// A series' segments merged with the level-1 chunks they overlap and its newest level-1
    /// chunk if that has room, last write winning; the ids of the rows read go to `replaced`.
    /// Nil when the series has no segments.
    private func mergedSegments(of seriesID: Int64, in database: StoreDatabase, replaced: inout [Int64],
                                duplicates: inout Int, corrupt: inout Int) throws(StoreError) -> Chunk? {
        let listing = try database.cached("SELECT id, min_ts, max_ts, count FROM chunks WHERE series_id = ? AND level = 0")
        try listing.bind([.integer(seriesID)])
        var segments: [ChunkRow] = []
        while try listing.step() {
            segments.append(ChunkRow(id: listing.int64(0), minTs: listing.int64(1), maxTs: listing.int64(2),
                                     count: listing.int64(3), level: 0))
        }
        listing.reset()
        guard let low = segments.map(\.minTs).min(), let high = segments.map(\.maxTs).max() else { return nil }
        // Level-1 chunks that overlap the segments, and the newest one if it has room left:
        // level-1 chunks stay disjoint in time. They are filed under the hours from the span
        // before the segments to the series' newest chunk.
        let newest = memory.withLock { max($0.state(id: seriesID)?.persistedNewest ?? high, high) }
        var level1: [ChunkRow] = []
        if let hours = chunkHours(series: seriesID, from: low, to: newest) {
            level1 = try Self.chunkRows(series: seriesID, hours: hours, from: low, to: newest, level: 1, withData: false,
                                        in: database).map(\.row)
        }
        let newestSealed = level1.max { $0.maxTs < $1.maxTs }
        let chosen = (segments + level1.filter { row in
            (row.maxTs >= low && row.minTs <= high) || (row.id == newestSealed?.id && row.count < Int64(options.samplesPerChunk))
        }).sorted { $0.id < $1.id }
        let fetch = try database.cached("""
            SELECT c.data, t.data FROM chunks c LEFT JOIN time_columns t ON t.id = c.time_id WHERE c.id = ?
            """)
        var parts: [Chunk] = []
        for row in chosen {  // ascending id: older writes first
            try fetch.bind([.integer(row.id)])
            guard try fetch.step() else {
                fetch.reset()
                continue
            }
            do {
                parts.append(try ChunkData(blob: fetch.blob(0), timeColumn: fetch.isNull(1) ? nil : fetch.blob(1)).decode())
                replaced.append(row.id)
            } catch {
                corrupt += 1  // left in place: reads keep reporting its gap
            }
            fetch.reset()
        }
        let merged = SampleMerge.mergeLastWins(parts, from: .min, to: .max)
        duplicates += parts.reduce(0) { $0 + $1.count } - merged.count
        return merged
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
            guard free > 0, everything || (free * pageSize >= 1 << 20 && Double(free) > slack * Double(total)) else {
                // After an import the SQLite WAL can hold the size of the data once more (a cut
                // of every head is one transaction): `everything` gives that back too.
                if everything { try database.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
                return 0
            }
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
