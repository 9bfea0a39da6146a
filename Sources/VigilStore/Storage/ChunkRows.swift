import Synchronization
import VigilCore
import VigilSQLite

/// Chunk rows by hour bucket: every insert and every lookup by series goes through here, so
/// `hour`, `series_span` and the time columns stay true (see `StoreSchema`).
extension MetricStore {
    struct ChunkRow {
        let id: Int64
        let minTs: Int64
        let maxTs: Int64
        let count: Int64
        let level: Int64
    }

    /// A chunk row's blobs: its own, and its time column's when its timestamps are shared.
    struct ChunkData {
        var blob: [UInt8] = []
        var timeColumn: [UInt8]?

        func decode() throws(ChunkDecodingError) -> Chunk { try ChunkCodec.decode(blob, timeColumn: timeColumn) }
    }

    /// One chunk to write: a series' samples and the level it goes to.
    struct ChunkPiece {
        let series: Int64
        let chunk: Chunk
        let level: Int64
    }

    /// Writes chunk rows for `pieces`. Chunks of aligned series (identical timestamps: the
    /// readings of one payload or one poll) share one time column:
    ///
    /// - with a column already stored for those timestamps (a series of the same device cut
    ///   earlier, or imported before its partners), found by `timestampsHash` and compared byte
    ///   for byte;
    /// - among the pieces of this call, when the column saves more than its row costs: jittered
    ///   receive times, yes; an exact 10 s grid, whose timestamps compress to a few bytes, no;
    /// - and alone, when the timestamps are costly enough (`soloColumnBytes`) that the row costs
    ///   little beside them, so that partners cut later can share it.
    ///
    /// Returns the bytes of the blobs written.
    func insertPieces(_ pieces: [ChunkPiece], in database: StoreDatabase) throws(StoreError) -> Int {
        var groups: [[Int64]: [Int]] = [:]
        var order: [[Int64]] = []
        for (index, piece) in pieces.enumerated() where piece.chunk.count >= 2 {
            if groups[piece.chunk.timestamps] == nil { order.append(piece.chunk.timestamps) }
            groups[piece.chunk.timestamps, default: []].append(index)
        }
        var timeColumns = [Int64?](repeating: nil, count: pieces.count)
        var bytes = 0
        let find = try database.cached("SELECT id, data FROM time_columns WHERE hash = ?")
        let share = try database.cached("UPDATE time_columns SET refs = refs + ? WHERE id = ?")
        let insert = try database.cached("INSERT INTO time_columns(refs, hash, data) VALUES(?, ?, ?)")
        for timestamps in order {
            let members = groups[timestamps]!
            let blob = ChunkCodec.encodeTimeColumn(timestamps, level: 9)
            // Per sharing chunk: its own zstd frame and format bytes, its entry in the time
            // column index; per column: the row, its frame and its hash.
            guard blob.count > 16 else { continue }
            let hash = Self.timestampsHash(timestamps)
            var column: Int64?
            try find.bind([.integer(hash)])
            while try find.step() {
                if find.blob(1) == blob {
                    column = find.int64(0)
                    break
                }
            }
            find.reset()
            if let column {
                try share.run([.integer(Int64(members.count)), .integer(column)])
            } else if blob.count * (members.count - 1) > 40 + 12 * members.count || blob.count >= Self.soloColumnBytes {
                try insert.run([.integer(Int64(members.count)), .integer(hash), .blob(blob)])
                column = database.lastInsertID
                bytes += blob.count
            }
            for member in members { timeColumns[member] = column }
        }
        for (index, piece) in pieces.enumerated() {
            let blob = timeColumns[index] == nil
                ? ChunkCodec.encode(piece.chunk, level: 9) : ChunkCodec.encodeValues(piece.chunk.values, level: 9)
            try insertChunk(piece.chunk, blob: blob, series: piece.series, level: piece.level, timeColumn: timeColumns[index],
                            in: database)
            bytes += blob.count
        }
        return bytes
    }

    /// Timestamps that compress to this many bytes or more get a time column even with no partner
    /// yet: the row's 40 bytes or so are under a sixth of them, and a partner cut later saves all.
    static let soloColumnBytes = 256

    /// A hash of timestamps that stays the same across processes and releases (it is stored):
    /// FNV-1a over the values, with a shift to mix the high bits down.
    static func timestampsHash(_ timestamps: [Int64]) -> Int64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for t in timestamps {
            hash = (hash ^ UInt64(bitPattern: t)) &* 0x0000_0100_0000_01B3
            hash ^= hash >> 29
        }
        return Int64(bitPattern: hash)
    }

    /// Inserts one chunk row, filed under the hour of its first sample, and widens the series'
    /// span (in memory before the commit, so a reader never looks too few hours back).
    func insertChunk(_ piece: Chunk, blob: [UInt8], series id: Int64, level: Int64, timeColumn: Int64? = nil,
                     in database: StoreDatabase) throws(StoreError) {
        let first = piece.timestamps.first!, last = piece.timestamps.last!
        let hour = StoreSchema.hour(of: first)
        let hours = StoreSchema.hour(of: last) &- hour
        memory.withLock { memory in
            memory.update(id: id) { state in state.chunkSpanHours = max(state.chunkSpanHours, hours) }
        }
        try database.cached("""
            INSERT INTO series_span(series_id, min_ts, max_ts, hours) VALUES(?, ?, ?, ?)
            ON CONFLICT(series_id) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts), max_ts = max(max_ts, excluded.max_ts),
                hours = max(hours, excluded.hours)
            """).run([.integer(id), .integer(first), .integer(last), .integer(hours)])
        try database.cached("""
            INSERT INTO chunks(series_id, min_ts, max_ts, count, level, data, hour, time_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)
            """).run([.integer(id), .integer(first), .integer(last), .integer(Int64(piece.count)), .integer(level), .blob(blob),
                      .integer(hour), timeColumn.map { .integer($0) } ?? .null])
    }

    /// The hour buckets to look a series up in for chunks that overlap [from, to]: from its
    /// longest chunk span before the first (a chunk filed earlier can reach into it) to the last.
    /// Nil when the series has nothing on disk there.
    func chunkHours(series id: Int64, from: Int64, to: Int64) -> ClosedRange<Int64>? {
        memory.withLock { memory in
            guard let state = memory.state(id: id), let newest = state.persistedNewest else { return nil }
            let low = max(from, state.oldest ?? from, memory.rawHorizon)
            let high = min(to, newest)
            guard low <= high else { return nil }
            return (StoreSchema.hour(of: low) &- state.chunkSpanHours)...StoreSchema.hour(of: high)
        }
    }

    /// Rows of one series' chunks filed under `hours` that overlap [from, to] (of one level, or
    /// both), oldest write first, with their data when `withData`.
    static func chunkRows(series id: Int64, hours: ClosedRange<Int64>, from: Int64, to: Int64, level: Int64? = nil,
                          withData: Bool, in database: StoreDatabase,
                          budget: QueryBudget? = nil) throws(StoreError) -> [(row: ChunkRow, data: ChunkData)] {
        let query = try database.cached("""
            SELECT c.id, c.min_ts, c.max_ts, c.count, c.level, CASE WHEN ?1 THEN c.data END, CASE WHEN ?1 THEN t.data END
            FROM chunks c LEFT JOIN time_columns t ON t.id = c.time_id
            WHERE c.hour = ?2 AND c.series_id = ?3 AND c.max_ts >= ?4 AND c.min_ts <= ?5 AND c.level BETWEEN ?6 AND ?7
            """)
        var rows: [(row: ChunkRow, data: ChunkData)] = []
        for hour in hours {
            do throws(StoreError) {
                try budget?.check()
                try query.bind([.integer(withData ? 1 : 0), .integer(hour), .integer(id), .integer(from), .integer(to),
                                .integer(level ?? 0), .integer(level ?? 1)])
                while try query.step() {
                    rows.append((ChunkRow(id: query.int64(0), minTs: query.int64(1), maxTs: query.int64(2),
                                          count: query.int64(3), level: query.int64(4)),
                                 withData ? ChunkData(blob: query.blob(5), timeColumn: query.isNull(6) ? nil : query.blob(6)) : ChunkData()))
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
