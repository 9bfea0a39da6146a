/// Store settings (the `store:` config section maps onto these).
public struct StoreOptions: Sendable {
    /// The database file, usually `data_dir/metrics.db`.
    public var path: String
    /// Samples older than the newest sample of their series minus this are rejected.
    public var outOfOrderWindow: Duration = .seconds(300)
    /// How long samples stay in a series' head (memory and the write-ahead log) before it is cut
    /// into chunks. Longer: bigger chunks, fewer rewrites, more memory and log to read back after
    /// a crash. The series are cut in `cutGroups` turns spread over the span (see `HeadFlush`),
    /// so the heads hold about half a span on average instead of growing to a whole one.
    public var headSpan: Duration = .seconds(600)
    /// Heads that hold a full chunk are cut together at most this often: every transaction costs
    /// a dozen SQLite pages (16 KiB each, written twice through its WAL) whatever it holds, so at
    /// 100 Hz cutting each series the moment it filled wrote more overhead than data. Also the
    /// length of one turn of the rolling cut.
    public var seriesCutInterval: Duration = .seconds(60)
    /// All heads are cut early once the write-ahead log holds this many bytes.
    public var maxLogBytes = 64 << 20
    /// Compaction merges a series' segments once it has this many.
    public var segmentsPerCompaction = 16
    /// Largest number of samples in one compacted chunk.
    public var samplesPerChunk = 2048
    /// Raw samples older than this (by their chunk's newest sample) are deleted.
    public var retention: Duration = .seconds(30 * 86_400)
    /// When the database grows past this many bytes, the oldest raw chunks are deleted first, then
    /// the oldest 1 m rollups. Nil: no cap.
    public var maxBytes: Int64?
    /// A resolution's rollup of a series-day is stored while the raw samples are kept only when
    /// its buckets hold at least this many samples on average: a 1 m bucket of a 10 s series holds
    /// six, so its five columns cost about as much as the raw samples they summarize, and reading
    /// the raw samples instead costs a query only six times as many. When retention is about to
    /// delete a day's raw samples, its missing rollups are written first, whatever the density.
    public var rollupMinimumDensity = 12
    /// How long 1 m and 1 h rollups are kept.
    public var minuteRollupRetention: Duration = .seconds(365 * 86_400)
    public var hourRollupRetention: Duration = .seconds(365 * 86_400)

    public init(path: String) { self.path = path }

    /// Into how many groups the series are split for the rolling cut: one group is cut every
    /// `headSpan / cutGroups`, each series once a span. One (a span no longer than an interval)
    /// cuts every head at once.
    var cutGroups: Int {
        guard seriesCutInterval > .zero, headSpan > seriesCutInterval else { return 1 }
        return min(60, Int(headSpan / seriesCutInterval))
    }

    /// The write-ahead log's segment files, next to the database (`metrics.db-log/`).
    public var logDirectory: String { path + "-log" }
}

/// What one `append` did.
public struct AppendResult: Sendable, Equatable {
    /// Stored, including `replaced`.
    public var accepted = 0
    /// Of those, readings at their series' newest timestamp, which replace the value there (last
    /// write wins). A rewrite of an older timestamp is found when compacting
    /// (`StoreCounters.duplicates`).
    public var replaced = 0
    /// Older than the out-of-order window: not stored.
    public var tooOld = 0
    /// NaN or infinite values: not stored.
    public var invalid = 0
}

/// Samples of one series, ascending by timestamp, without duplicate timestamps.
public struct SeriesSamples: Sendable, Equatable {
    public let series: SeriesKey
    public var timestamps: [Int64]
    public var values: [Double]
    /// Time ranges whose data could not be read (a chunk failed its checksum).
    public var gaps: [ClosedRange<Int64>] = []

    public init(series: SeriesKey, timestamps: [Int64], values: [Double], gaps: [ClosedRange<Int64>] = []) {
        self.series = series
        self.timestamps = timestamps
        self.values = values
        self.gaps = gaps
    }
}

import VigilCore
