#if canImport(Glibc)
import Glibc
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

    /// Samples appended and not yet flushed.
    public var pendingSampleCount: Int { memory.withLock { $0.pending.values.reduce(0) { $0 + $1.timestamps.count } } }

    /// The database file and its WAL, from the file system (cheap enough for every scrape).
    public var bytesOnDisk: Int64 { Self.fileSize(options.path) + Self.fileSize(options.path + "-wal") }

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
