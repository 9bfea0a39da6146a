import Foundation
import Testing
import VigilCore
@testable import VigilStore

/// Series whose readings arrive together (one payload, one poll) share one time column in the
/// store; everything else about them is as for any series.
@Suite("Aligned series share time columns")
struct AlignedSeriesTests {
    static let t0: Int64 = 1_700_006_400_000

    /// A device publishing four values per payload at 10 s, stamped on receipt (±200 ms), and one
    /// more device whose times differ.
    func deviceReadings(samples: Int, from start: Int = 0, seed: UInt64 = 1) -> [Reading] {
        var random = SeededRandom(seed)
        var out: [Reading] = []
        for i in start..<(start + samples) {
            let t = Self.t0 + Int64(i) * 10_000 + Int64.random(in: -200...200, using: &random)
            for (n, metric) in ["temperature", "humidity", "pressure", "door"].enumerated() {
                out.append(reading(metric, ["device": "d1"], t, Double(n * 10 + i % 5) / 2))
            }
            out.append(reading("temperature", ["device": "d2"], t + Int64.random(in: 1...50, using: &random), 20.5))
        }
        return out
    }

    func everything(_ store: MetricStore) throws -> [String] {
        try store.read(try .parse(#"{__name__=~".+"}"#), from: .min, to: .max).flatMap { series in
            zip(series.timestamps, series.values).map { "\(series.series)|\($0)|\($1.bitPattern)" }
        }.sorted()
    }

    func expected(_ readings: [Reading]) -> [String] {
        readings.map { "\($0.series)|\($0.timestampMs)|\($0.value.bitPattern)" }.sorted()
    }

    /// The references between chunks and time columns are consistent: every column is used by
    /// exactly `refs` chunks, and no chunk points at a missing column.
    func checkReferences(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let database = try StoreDatabase(path: path, readOnly: true)
        #expect(try MetricStore.integer(database, """
            SELECT COUNT(*) FROM time_columns t WHERE refs != (SELECT COUNT(*) FROM chunks c WHERE c.time_id = t.id)
            """) == 0, sourceLocation: sourceLocation)
        #expect(try MetricStore.integer(database, """
            SELECT COUNT(*) FROM chunks c WHERE time_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM time_columns t WHERE t.id = c.time_id)
            """) == 0, sourceLocation: sourceLocation)
    }

    static func count(_ path: String, _ sql: String) throws -> Int64 {
        try MetricStore.integer(try StoreDatabase(path: path, readOnly: true), sql) ?? -1
    }

    @Test func aCutWritesTheSharedTimestampsOnceAndReadsBackBitExact() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        let readings = deviceReadings(samples: 3000)
        store.append(readings)
        try store.checkpoint()
        // d1's four series: 3000 samples in chunks of 2048 and 952, the four pieces of each
        // sharing one column; d2's timestamps are costly enough for columns of their own, which
        // a partner cut later could share.
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns") == 4)
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns WHERE refs = 4") == 2)
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM chunks WHERE time_id IS NULL") == 0)
        try checkReferences(directory.path)
        #expect(try everything(store) == expected(readings))
        #expect(try everything(try MetricStore(options: StoreOptions(path: directory.path), readOnly: true)) == expected(readings))

        // The same samples with every series on its own times take more room.
        let apart = StoreDirectory()
        let separate = try MetricStore(options: StoreOptions(path: apart.path))
        separate.append(readings.enumerated().map { i, r in
            Reading(series: r.series, timestampMs: r.timestampMs + Int64(i % 5), value: r.value)
        })
        try separate.checkpoint()
        func bytes(_ path: String) throws -> Int64 {
            try Self.count(path, "SELECT (SELECT SUM(length(data)) FROM chunks) + (SELECT COALESCE(SUM(length(data)), 0) FROM time_columns)")
        }
        let shared = try bytes(directory.path), apartBytes = try bytes(apart.path)
        #expect(Double(shared) < 0.6 * Double(apartBytes), "\(shared) bytes shared vs \(apartBytes) apart")
    }

    /// Short segments cut every few minutes share columns, compaction merges them into level-1
    /// chunks that share again, and retention drops a column with its last chunk.
    @Test func compactionKeepsTheColumnsSharedAndRetentionDropsThem() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(100 * 86_400)
        options.retention = .seconds(86_400)
        let store = try MetricStore(options: options)
        var all: [Reading] = []
        for segment in 0..<12 {
            let readings = deviceReadings(samples: 60, from: segment * 60, seed: UInt64(segment + 1))
            all += readings
            store.append(readings)
            try store.checkpoint()
        }
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM chunks WHERE level = 0 AND time_id IS NOT NULL") == 12 * 4)
        try checkReferences(directory.path)
        // d2's 60-sample segments are too cheap for a column of their own.
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM chunks WHERE level = 0 AND time_id IS NULL") == 12)
        try store.compactAll()
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM chunks WHERE level = 0") == 0)
        // d1's four merged chunks share one column; d2's 720 samples are worth one of their own.
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns WHERE refs = 4") == 1)
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns") == 2)
        try checkReferences(directory.path)
        #expect(try everything(store) == expected(all))

        // A late rewrite of one series' value is merged on its own; its new chunk has the same
        // timestamps and finds the column again.
        store.append([reading("humidity", ["device": "d1"], all[5].timestampMs, 99)])
        try store.checkpoint()
        try store.compactAll()
        try checkReferences(directory.path)
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns WHERE refs = 4") == 1)
        let humidity = try store.read(try .parse(#"humidity{device="d1"}"#), from: .min, to: .max)
        #expect(humidity.first?.values[1] == 99 && humidity.first?.timestamps.count == 720)

        while try store.applyRetention(nowMs: Self.t0 + 3 * 86_400_000, maxRows: 100_000).more {}
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM chunks") == 0)
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns") == 0)
    }

    /// An import reads a file series by series, so a device's series are cut minutes apart: the
    /// later ones find the column the first one left.
    @Test func seriesCutApartShareTheColumnTheFirstLeft() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        let readings = deviceReadings(samples: 2048)
        for metric in ["temperature", "humidity", "pressure", "door"] {
            store.append(readings.filter { $0.series.metric == metric && $0.series.labels["device"] == "d1" })
            try store.checkpoint()
        }
        #expect(try Self.count(directory.path, "SELECT COUNT(*) FROM time_columns") == 1)
        #expect(try Self.count(directory.path, "SELECT refs FROM time_columns") == 4)
        try checkReferences(directory.path)
        #expect(try everything(store) == expected(readings.filter { $0.series.labels["device"] == "d1" }))
    }

    /// A damaged time column is a gap in every series that uses it, counted, never wrong data;
    /// the other series read on.
    @Test func aDamagedTimeColumnIsAGapNotWrongData() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        store.append(deviceReadings(samples: 500))
        try store.checkpoint()
        try store.writer.withLock { database throws(StoreError) in
            try database.execute("UPDATE time_columns SET data = zeroblob(length(data)) WHERE refs = 4")
        }
        let series = try store.read(try .parse(#"{__name__=~".+"}"#), from: .min, to: .max)
        let d1 = series.filter { $0.series.labels["device"] == "d1" }
        #expect(d1.count == 4 && d1.allSatisfy { $0.timestamps.isEmpty && $0.gaps.count == 1 })
        #expect(series.first { $0.series.labels["device"] == "d2" }?.timestamps.count == 500)
        #expect(store.counters.corruptChunks == 4)
    }
}
