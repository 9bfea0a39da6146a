import VigilCore

/// The on-disk layout, in one SQLite database (`data_dir/metrics.db`, WAL mode):
///
/// - `series(id, metric, labels)`: the catalogue; labels as a length-prefixed blob.
/// - `chunks(id, series_id, min_ts, max_ts, count, level, data)`: compressed, checksummed sample
///   blobs. Level 0 are segments written at each flush (a few samples each); compaction merges a
///   series' segments into level-1 chunks. Chunks of one series may overlap in time; on equal
///   timestamps the chunk with the larger `id` (written later) wins, which makes "last write wins"
///   deterministic across flushes, restarts and compaction.
/// - `rollups(series_id, resolution, block_start, min_ts, max_ts, data)`: 1 m and 1 h buckets
///   (min, max, sum, count, last), one blob per series, resolution and UTC day.
/// - `rollup_dirty(series_id, block_start)`: days that received samples since they were last
///   rolled up; the rollup job recomputes them once they can no longer change.
/// - `store_state(name, value)`: `log_checkpoint`, the log sequence number up to which every
///   head has been cut into chunks (version 2).
/// - `head_cuts(series_id, sequence)`: series cut on their own since that checkpoint, and up to
///   which log record (version 2).
///
/// Version 1 (before the write-ahead log) wrote level-0 segments at every flush; they read and
/// compact as before, so opening a version-1 file only adds the two tables.
enum StoreSchema {
    static let version: Int64 = 2

    /// Creates or upgrades the schema in place, in one transaction (an interrupted upgrade leaves
    /// the old version, and the next open does it again).
    static func migrate(_ database: SQLiteDatabase) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            let statement = try database.prepare("PRAGMA user_version")
            try statement.bind([])
            let found = try statement.step() ? statement.int64(0) : 0
            statement.reset()
            guard found <= version else {
                throw StoreError.database("the store was written by a newer release of Vigil (format \(found), this one reads up to \(version))")
            }
            for statement in statements { try database.execute(statement) }
            try database.execute("PRAGMA user_version=\(version)")
        }
    }

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS series(
            id INTEGER PRIMARY KEY,
            metric TEXT NOT NULL,
            labels BLOB NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS chunks(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            min_ts INTEGER NOT NULL,
            max_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            level INTEGER NOT NULL,
            data BLOB NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS chunks_by_series_time ON chunks(series_id, max_ts)",
        // Only flush segments are indexed by level: after compaction the index is nearly empty.
        "CREATE INDEX IF NOT EXISTS chunks_segments ON chunks(series_id, max_ts) WHERE level = 0",
        "CREATE INDEX IF NOT EXISTS chunks_by_age ON chunks(max_ts)",
        """
        CREATE TABLE IF NOT EXISTS rollups(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            resolution INTEGER NOT NULL,
            block_start INTEGER NOT NULL,
            min_ts INTEGER NOT NULL,
            max_ts INTEGER NOT NULL,
            data BLOB NOT NULL)
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS rollups_by_series ON rollups(series_id, resolution, block_start)",
        "CREATE INDEX IF NOT EXISTS rollups_by_age ON rollups(resolution, max_ts)",
        """
        CREATE TABLE IF NOT EXISTS rollup_dirty(
            series_id INTEGER NOT NULL,
            block_start INTEGER NOT NULL,
            PRIMARY KEY(series_id, block_start)) WITHOUT ROWID
        """,
        "CREATE TABLE IF NOT EXISTS store_state(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS head_cuts(series_id INTEGER PRIMARY KEY, sequence INTEGER NOT NULL) WITHOUT ROWID",
    ]

    static func encodeLabels(_ labels: Labels) -> [UInt8] {
        var writer = ByteWriter()
        writer.uvarint(UInt64(labels.count))
        for label in labels {
            for text in [label.name, label.value] {
                writer.uvarint(UInt64(text.utf8.count))
                writer.bytes.append(contentsOf: text.utf8)
            }
        }
        return writer.bytes
    }

    static func decodeLabels(_ bytes: [UInt8]) throws(ChunkDecodingError) -> Labels {
        var reader = ByteReader(bytes)
        let count = try reader.uvarint()
        var pairs: [(String, String)] = []
        for _ in 0..<min(count, 10_000) {
            var texts: [String] = []
            for _ in 0..<2 {
                let length = Int(try reader.uvarint())
                guard length <= bytes.count - reader.offset else { throw .truncated }
                texts.append(String(decoding: bytes[reader.offset..<reader.offset + length], as: UTF8.self))
                reader.offset += length
            }
            pairs.append((texts[0], texts[1]))
        }
        return Labels(pairs)
    }
}
