import VigilCore
import VigilSQLite

/// The on-disk layout, in one SQLite database (`data_dir/metrics.db`, WAL mode):
///
/// - `series(id, metric, labels)`: the catalogue; labels as a length-prefixed blob.
/// - `series_span(series_id, min_ts, max_ts, hours)`: the time range each series has chunks in (a
///   lower bound of the oldest: retention does not raise it), read at open instead of scanning
///   chunks, and the longest span of one of its chunks in hour buckets.
/// - `chunks(id, series_id, min_ts, max_ts, count, level, data, hour)`: compressed, checksummed
///   sample blobs. Level 0 are short segments (cut from a head before it filled a chunk, or, in
///   version 1, written at every flush); compaction merges a series' segments into level-1
///   chunks. Chunks of one series may overlap in time; on equal timestamps the chunk with the
///   larger `id` (written later) wins, which makes "last write wins" deterministic across
///   flushes, restarts and compaction.
///
///   They are indexed by `(hour, series_id)`, `hour` being the hour bucket of `min_ts`: a cut
///   inserts one chunk for each of thousands of series, and with an index by series first those
///   entries land on thousands of different index pages once a store is a few days old (each
///   page written whole, twice with SQLite's WAL: tens of bytes per sample). By hour first they
///   land among the hour's few thousand entries, tens of pages. A read looks a series up once
///   per hour of its range, starting its longest chunk span (`series_span.hours`) earlier.
///
///   `time_id`, when set, names the row of `time_columns` that holds the chunk's timestamps, and
///   `data` holds only its values (see `ChunkCodec`).
/// - `time_columns(id, refs, hash, data)`: timestamps shared by the chunks of aligned series
///   (identical timestamps: the readings of one payload or one poll), with the number of chunks
///   that use them and a hash to find them by; a trigger drops a column with its last chunk.
/// - `rollups(series_id, resolution, block_start, min_ts, max_ts, data)`: 1 m and 1 h buckets
///   (min, max, sum, count, last), one blob per series, resolution and UTC day.
/// - `rollup_dirty(series_id, block_start)`: days that received samples since they were last
///   rolled up; the rollup job recomputes them once they can no longer change.
/// - `store_state(name, value)`: `log_checkpoint`, the log sequence number up to which every
///   head has been cut into chunks.
/// - `head_cuts(series_id, sequence)`: series cut on their own since that checkpoint, and up to
///   which log record.
///
/// Version 1 (before the write-ahead log) had no `hour` column, no `series_span`, `store_state`
/// or `head_cuts`, and indexed chunks by `(series_id, max_ts)`; version 2 had no `time_id` and no
/// `time_columns`. `migrate` upgrades both in place.
enum StoreSchema {
    static let version: Int64 = 3
    static let hourMs: Int64 = 3_600_000

    /// The hour bucket a chunk is filed under.
    static func hour(of timestamp: Int64) -> Int64 { RollupBuckets.floorDiv(timestamp, hourMs) }

    /// Creates or upgrades the schema in place, in one transaction: an interrupted upgrade leaves
    /// the old version, and the next open does it again.
    static func migrate(_ database: StoreDatabase) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            let found = try userVersion(database)
            guard found <= version else {
                throw StoreError.database("the store was written by a newer release of Vigil (format \(found), this one reads up to \(version))")
            }
            // Versions 1 and 2: chunks gain `time_id` before anything refers to it.
            if found == 1 || found == 2 { try database.execute("ALTER TABLE chunks ADD COLUMN time_id INTEGER") }
            if found == 1 { try upgradeFromVersionOne(database) }
            for statement in statements { try database.execute(statement) }
            try database.execute("PRAGMA user_version=\(version)")
        }
    }

    static func userVersion(_ database: StoreDatabase) throws(StoreError) -> Int64 {
        try MetricStore.pragma(database, "user_version")
    }

    /// Files every chunk under its hour, builds `series_span` from the chunks, and drops the
    /// index by series.
    private static func upgradeFromVersionOne(_ database: StoreDatabase) throws(StoreError) {
        let h = hourMs
        let floorHour = { (column: String) in "((\(column) - (((\(column) % \(h)) + \(h)) % \(h))) / \(h))" }
        try database.execute("ALTER TABLE chunks ADD COLUMN hour INTEGER NOT NULL DEFAULT 0")
        try database.execute("UPDATE chunks SET hour = \(floorHour("min_ts"))")
        try database.execute("DROP INDEX IF EXISTS chunks_by_series_time")
        for statement in statements { try database.execute(statement) }
        try database.execute("""
            INSERT OR REPLACE INTO series_span(series_id, min_ts, max_ts, hours)
            SELECT series_id, MIN(min_ts), MAX(max_ts), MAX(\(floorHour("max_ts")) - hour) FROM chunks GROUP BY series_id
            """)
    }

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS series(
            id INTEGER PRIMARY KEY,
            metric TEXT NOT NULL,
            labels BLOB NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS series_span(
            series_id INTEGER PRIMARY KEY,
            min_ts INTEGER NOT NULL,
            max_ts INTEGER NOT NULL,
            hours INTEGER NOT NULL) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS chunks(
            id INTEGER PRIMARY KEY,
            series_id INTEGER NOT NULL,
            min_ts INTEGER NOT NULL,
            max_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            level INTEGER NOT NULL,
            data BLOB NOT NULL,
            hour INTEGER NOT NULL DEFAULT 0,
            time_id INTEGER)
        """,
        "CREATE TABLE IF NOT EXISTS time_columns(id INTEGER PRIMARY KEY, refs INTEGER NOT NULL, hash INTEGER NOT NULL, data BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS time_columns_by_hash ON time_columns(hash)",
        "CREATE INDEX IF NOT EXISTS chunks_by_time_column ON chunks(time_id) WHERE time_id IS NOT NULL",
        """
        CREATE TRIGGER IF NOT EXISTS chunks_release_time_column AFTER DELETE ON chunks
        WHEN old.time_id IS NOT NULL BEGIN
            UPDATE time_columns SET refs = refs - 1 WHERE id = old.time_id;
            DELETE FROM time_columns WHERE id = old.time_id AND refs <= 0;
        END
        """,
        "CREATE INDEX IF NOT EXISTS chunks_by_hour ON chunks(hour, series_id)",
        // Only segments are indexed by series: after compaction the index is nearly empty.
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
