import Synchronization
import VigilCore

/// Chunk rows by hour bucket: every insert and every lookup by series goes through here, so
/// `hour` and `series_span` stay true (see `StoreSchema`).
extension MetricStore {
    struct ChunkRow {
        let id: Int64
        let minTs: Int64
        let maxTs: Int64
        let count: Int64
        let level: Int64
    }

    /// Inserts one chunk row, filed under the hour of its first sample, and widens the series'
    /// span (in memory before the commit, so a reader never looks too few hours back).
    func insertChunk(_ piece: Chunk, blob: [UInt8], series id: Int64, level: Int64,
                     in database: SQLiteDatabase) throws(StoreError) {
        let first = piece.timestamps.first!, last = piece.timestamps.last!
        let hour = StoreSchema.hour(of: first)
        let hours = StoreSchema.hour(of: last) &- hour
        memory.withLock { memory in
            memory.chunkSpanHours[id] = max(memory.chunkSpanHours[id] ?? 0, hours)
        }
        try database.cached("""
            INSERT INTO series_span(series_id, min_ts, max_ts, hours) VALUES(?, ?, ?, ?)
            ON CONFLICT(series_id) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts),
                hours = max(hours, excluded.hours)
            """).run([.integer(id), .integer(first), .integer(last), .integer(hours)])
        try database.cached("INSERT INTO chunks(series_id, min_ts, max_ts, count, level, data, hour) VALUES(?, ?, ?, ?, ?, ?, ?)")
            .run([.integer(id), .integer(first), .integer(last), .integer(Int64(piece.count)), .integer(level), .blob(blob), .integer(hour)])
    }

    /// The hour buckets to look a series up in for chunks that overlap [from, to]: from its
    /// longest chunk span before the first (a chunk filed earlier can reach into it) to the last.
    /// Nil when the series has nothing on disk there.
    func chunkHours(series id: Int64, from: Int64, to: Int64) -> ClosedRange<Int64>? {
        memory.withLock { memory in
            guard let newest = memory.persistedNewest[id] else { return nil }
            let low = max(from, memory.oldest[id] ?? from, memory.rawHorizon)
            let high = min(to, newest)
            guard low <= high else { return nil }
            return (StoreSchema.hour(of: low) &- (memory.chunkSpanHours[id] ?? 0))...StoreSchema.hour(of: high)
        }
    }

    /// Rows of one series' chunks filed under `hours` that overlap [from, to] (of one level, or
    /// both), oldest write first, with their data when `withData`.
    static func chunkRows(series id: Int64, hours: ClosedRange<Int64>, from: Int64, to: Int64, level: Int64? = nil,
                          withData: Bool, in database: SQLiteDatabase,
                          budget: QueryBudget? = nil) throws(StoreError) -> [(row: ChunkRow, data: [UInt8])] {
        let query = try database.cached("""
            SELECT id, min_ts, max_ts, count, level, CASE WHEN ? THEN data END FROM chunks
            WHERE hour = ? AND series_id = ? AND max_ts >= ? AND min_ts <= ? AND level BETWEEN ? AND ?
            """)
        var rows: [(row: ChunkRow, data: [UInt8])] = []
        for hour in hours {
            do throws(StoreError) {
                try budget?.check()
                try query.bind([.integer(withData ? 1 : 0), .integer(hour), .integer(id), .integer(from), .integer(to),
                                .integer(level ?? 0), .integer(level ?? 1)])
                while try query.step() {
                    rows.append((ChunkRow(id: query.int64(0), minTs: query.int64(1), maxTs: query.int64(2),
                                          count: query.int64(3), level: query.int64(4)),
                                 withData ? query.blob(5) : []))
                }
            } catch {
                query.reset()  // the cached statement is reused by the next caller
                throw error
            }
            query.reset()
        }
        rows.sort { $0.row.id < $1.row.id }
        return rows
    }
}
