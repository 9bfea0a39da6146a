#if canImport(Glibc)
import Glibc
import VigilSQLite
#endif
import Synchronization

/// What `vigil store stats` prints and /metrics exports.
public struct StoreStats: Sendable {
    public var series: Int
    public var samples: Int64
    public var chunks: Int64
    public var rollupBlobs: Int64
    /// The database file plus its WAL.
    public var bytesOnDisk: Int64
    /// Of those, bytes in free pages (reused by later writes, or given back by `reclaimFreePages`).
    public var freeBytes: Int64 = 0
    public var oldestMs: Int64?
    public var newestMs: Int64?

    public var bytesPerSample: Double { samples == 0 ? 0 : Double(bytesOnDisk) / Double(samples) }
}

extension MetricStore {
    public var seriesCount: Int { memory.withLock { $0.catalog.count } }

    /// Samples not in chunks yet: appended and not flushed, or in the heads.
    public var pendingSampleCount: Int {
        memory.withLock { $0.headSamples + $0.pending.count }
    }

    /// Samples in the heads (flushed to the write-ahead log, not yet cut into chunks).
    public var headSampleCount: Int { memory.withLock { $0.headSamples } }

    /// Bytes the heads hold in memory (their buffers' capacity): about two a 1 Hz sample.
    public var headBytes: Int { memory.withLock { $0.series.reduce(0) { $0 + $1.head.bytes.capacity } } }

    /// The database file, SQLite's WAL and the write-ahead log, from the file system (cheap
    /// enough for every scrape).
    public var bytesOnDisk: Int64 {
        Self.fileSize(options.path) + Self.fileSize(options.path + "-wal") + logBytesOnDisk
    }

    /// The write-ahead log's segment files.
    public var logBytesOnDisk: Int64 {
        WriteAheadLog.segments(in: options.logDirectory).reduce(0) { $0 + Self.fileSize($1.path) }
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// Totals read from the database (a full scan of the chunk index: for the CLI, not per scrape).
    public func stats() throws(StoreError) -> StoreStats {
        let pending = pendingSampleCount
        return try reader.withLock { database throws(StoreError) -> StoreStats in
            let totals = try database.prepare("SELECT COUNT(*), COALESCE(SUM(count), 0), MIN(min_ts), MAX(max_ts) FROM chunks")
            try totals.bind([])
            _ = try totals.step()
            let hasData = totals.int64(0) > 0
            var stats = StoreStats(series: seriesCount, samples: totals.int64(1) + Int64(pending), chunks: totals.int64(0),
                                   rollupBlobs: 0, bytesOnDisk: bytesOnDisk,
                                   oldestMs: hasData ? totals.int64(2) : nil, newestMs: hasData ? totals.int64(3) : nil)
            let rollups = try database.prepare("SELECT COUNT(*) FROM rollups")
            try rollups.bind([])
            _ = try rollups.step()
            stats.rollupBlobs = rollups.int64(0)
            stats.freeBytes = try Self.pragma(database, "page_size") * (try Self.pragma(database, "freelist_count"))
            return stats
        }
    }
}
