import Foundation
import Testing
import VigilCore
import VigilTestSupport
@testable import VigilStore

@Suite("Write-ahead log and heads: records, crashes, cuts, the version-1 fixture")
struct WriteAheadLogTests {
    // MARK: Records

    @Test func recordsRoundTripBitExactAcrossASegment() throws {
        var random = SplitMix64(seed: 16)
        let odd: [Double] = [.nan, -.nan, .infinity, -.infinity, -0.0, 0, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
                             1e300, -1e-300, 0.1 + 0.2, 21.5, 21.6, 1_234_567.891, Double(Int64.max), 9_007_199_254_740_993]
        var writeContext = LogContext()
        var readContext = LogContext()
        for sequence in 1...50 as ClosedRange<UInt64> {
            var samples: [LogRecord.Samples] = []
            for id in stride(from: Int64(1), through: 40, by: Int(1 + random.next() % 3)) {
                let count = Int(random.next() % 4)
                guard count > 0 else { continue }
                let timestamps = (0..<count).map { _ in Int64(bitPattern: random.next()) % 10_000_000_000 }
                let values = (0..<count).map { _ -> Double in
                    switch random.next() % 4 {
                    case 0: odd[Int(random.next() % UInt64(odd.count))]
                    case 1: Double(Int64(random.next() % 10_000)) / 10
                    case 2: Double(bitPattern: random.next())
                    default: 42
                    }
                }
                samples.append(LogRecord.Samples(id: id, timestamps: timestamps, values: values))
            }
            let newSeries = sequence % 7 == 0
                ? [LogRecord.NewSeries(id: Int64(sequence), key: SeriesKey(metric: "m\(sequence)", labels: Labels(["a": "ü\(sequence)"])))]
                : []
            let record = LogRecord(sequence: sequence, newSeries: newSeries, samples: samples)
            let frame = record.encode(context: &writeContext)
            #expect(try LogRecord.decode(frame, context: &readContext) == record)
        }
    }

    @Test func damagedFramesThrowAndNeverTrap() {
        var random = SplitMix64(seed: 17)
        var context = LogContext()
        let record = LogRecord(sequence: 9, newSeries: [], samples: [
            LogRecord.Samples(id: 3, timestamps: [1, 2, 3], values: [1.5, 1.5, 2.25]),
        ])
        let frame = record.encode(context: &context)
        for _ in 0..<2000 {
            var damaged = frame
            switch random.next() % 3 {
            case 0: damaged[Int(random.next() % UInt64(damaged.count))] ^= UInt8(1 + random.next() % 255)
            case 1: damaged.removeLast(1 + Int(random.next() % UInt64(damaged.count)))
            default: damaged = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            var fresh = LogContext()
            _ = try? LogRecord.decode(damaged, context: &fresh)
        }
    }

    /// What the log costs per sample on a flush of one reading per series (10 000 series at 1 Hz):
    /// a few bytes, where a chunk per series would take tens.
    @Test func aOneSamplePerSeriesFlushCostsAFewBytesASample() {
        var random = SplitMix64(seed: 18)
        var context = LogContext()
        var bytes = 0
        var values = (0..<10_000).map { _ in Double(Int64(random.next() % 4000)) / 10 }
        for second in 0..<30 {
            let samples = (0..<10_000).map { id -> LogRecord.Samples in
                if random.next() % 4 == 0 { values[id] += Double(Int64(random.next() % 11) - 5) / 10 }
                let t = 1_800_000_000_000 + Int64(second) * 1000 + Int64(random.next() % 400) - 200
                return LogRecord.Samples(id: Int64(id + 1), timestamps: [t], values: [values[id]])
            }
            bytes += LogRecord(sequence: UInt64(second + 1), newSeries: [], samples: samples).encode(context: &context).count
        }
        let perSample = Double(bytes) / 300_000
        #expect(perSample < 4, "\(perSample) bytes a sample")
    }

    // MARK: Crashes

    @Test func aStoreThatNeverCheckpointedComesBackWhole() throws {
        let directory = StoreDirectory()
        let options = StoreOptions(path: directory.path)
        let crashed = try MetricStore(options: options)
        for second in 0..<30 {
            crashed.append((0..<20).map { reading("m", ["s": "\($0)"], 1_000_000 + Int64(second) * 1000, Double(second) + 0.5) })
            try crashed.flush()
        }
        crashed.append([reading("m", ["s": "0"], 9_999_999, 1)])  // never flushed: may be lost
        #expect(crashed.headSampleCount == 600)
        #expect(try Self.chunkCount(directory.path) == 0, "nothing cut yet: the log holds it")

        // Another process opening the same files is what a restart after kill -9 sees.
        for readOnly in [true, false] {
            let reopened = try MetricStore(options: options, readOnly: readOnly)
            let series = try reopened.read(try .parse("m"), from: 0, to: 5_000_000)
            #expect(series.count == 20)
            #expect(series.allSatisfy { $0.timestamps.count == 30 && $0.values.last == 29.5 })
            #expect(reopened.seriesCount == 20)
        }
        let reopened = try MetricStore(options: options)
        try reopened.checkpoint()
        #expect(try Self.chunkCount(directory.path) == 20)
        #expect(WriteAheadLog.segments(in: options.logDirectory).isEmpty)
        let after = try MetricStore(options: options)
        #expect(try after.read(try .parse("m"), from: 0, to: 5_000_000).map(\.timestamps.count) == Array(repeating: 30, count: 20))
    }

    /// A clean stop cuts everything and deletes the log; the next process must number its records
    /// after the checkpoint, or reopening would take them as already cut (found by the forwarding
    /// end-to-end test: `vigil export` missed what a restarted gateway had flushed).
    @Test func sequenceNumbersContinueAfterACleanStop() throws {
        let directory = StoreDirectory()
        let options = StoreOptions(path: directory.path)
        do {
            let first = try MetricStore(options: options)
            for t in 1...3 as ClosedRange<Int64> {
                first.append([reading("m", [:], t * 1000, Double(t))])
                try first.flush()
            }
            try first.checkpoint()
        }
        #expect(WriteAheadLog.segments(in: options.logDirectory).isEmpty)
        do {
            let second = try MetricStore(options: options)
            second.append([reading("m", [:], 4000, 4)])
            try second.flush()
        }
        let third = try MetricStore(options: options, readOnly: true)
        #expect(try third.read(try .parse("m"), from: 0, to: 10_000).first?.values == [1, 2, 3, 4])
    }

    @Test func aTornRecordAtTheEndIsSkippedAndWritingGoesOn() throws {
        let directory = StoreDirectory()
        let options = StoreOptions(path: directory.path)
        do {
            let store = try MetricStore(options: options)
            store.append([reading("m", [:], 1000, 1)])
            try store.flush()
            store.append([reading("m", [:], 2000, 2)])
            try store.flush()
        }
        let segment = try #require(WriteAheadLog.segments(in: options.logDirectory).last)
        let handle = try #require(FileHandle(forWritingAtPath: segment.path))
        handle.seekToEndOfFile()
        handle.write(Data([40, 0, 0, 0, 0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3]))  // a record cut off by a power loss
        try handle.close()

        let store = try MetricStore(options: options)
        #expect(store.counters.logRecordsDamaged == 1)
        #expect(try store.read(try .parse("m"), from: 0, to: 10_000).first?.timestamps == [1000, 2000])
        store.append([reading("m", [:], 3000, 3)])
        try store.flush()
        let again = try MetricStore(options: options)
        #expect(try again.read(try .parse("m"), from: 0, to: 10_000).first?.values == [1, 2, 3])
    }

    // MARK: Cuts

    @Test func aFullHeadIsCutAloneAndNotReadBackTwice() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.samplesPerChunk = 64
        options.seriesCutInterval = .zero
        let store = try MetricStore(options: options)
        store.append((0..<100).map { reading("fast", [:], 1000 + Int64($0) * 10, Double($0)) })
        store.append([reading("slow", [:], 1000, 7)])
        try store.flush()
        #expect(store.counters.seriesCut == 1)
        #expect(store.headSampleCount == 1, "only the slow series is left in its head")
        store.append((100..<110).map { reading("fast", [:], 1000 + Int64($0) * 10, Double($0)) })
        try store.flush()

        let peek = try MetricStore(options: options, readOnly: true)
        #expect(peek.headSampleCount == 11, "the cut samples are not read back from the log")
        #expect(try peek.read(try .parse("fast"), from: 0, to: .max).first?.values == (0..<110).map(Double.init))
        // A writable open after a crash cuts what it read back at once.
        let reopened = try MetricStore(options: options)
        #expect(reopened.headSampleCount == 0 && reopened.counters.fullCuts == 1)
        #expect(try reopened.read(try .parse("fast"), from: 0, to: .max).first?.values == (0..<110).map(Double.init))
        try reopened.compactAll()
        #expect(reopened.counters.duplicates == 0)
        #expect(try reopened.read(try .parse("fast"), from: 0, to: .max).first?.values == (0..<110).map(Double.init))
        #expect(try reopened.read(try .parse("slow"), from: 0, to: .max).first?.values == [7])
    }

    @Test func everyHeadIsCutOnceTheSpanHasPassedAndTheLogGoes() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.headSpan = .zero
        let store = try MetricStore(options: options)
        store.append([reading("m", ["a": "1"], 1000, 1), reading("m", ["a": "2"], 1000, 2)])
        try store.flush()
        #expect(store.counters.fullCuts == 1 && store.headSampleCount == 0)
        #expect(WriteAheadLog.segments(in: options.logDirectory).isEmpty)
        #expect(try Self.chunkCount(directory.path) == 2)
        // A cut chunk that starts after the newest one on disk and is at least half full is
        // level 1; a short one is a level-0 segment for compaction.
        #expect(try Self.levels(directory.path) == [0, 0])
    }

    /// The rolling cut: a group of series a turn, each series once a span, so the heads hold
    /// part of a span rather than all of it; the log behind every group's last turn goes; a
    /// payload's series stay in one group; and nothing is lost or read back twice after a crash.
    @Test func theRollingCutTakesAGroupATurnAndTheLogBehindIt() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.seriesCutInterval = .milliseconds(20)
        options.headSpan = .milliseconds(80)
        #expect(options.cutGroups == 4)
        let store = try MetricStore(options: options)
        let base: Int64 = 1_790_000_000_000
        let rounds = 16
        var largestHead = 0
        for round in 0..<rounds {
            let t = base + Int64(round) * 1000
            // 200 sensors, a message each, and a device whose five readings come in one payload.
            for sensor in 0..<200 { store.append([reading("temp", ["s": "\(sensor)"], t, Double(round))]) }
            store.append((0..<5).map { reading("dev", ["m": "\($0)"], t, Double(round)) })
            try store.flush()
            largestHead = max(largestHead, store.headSampleCount)
            usleep(25_000)
        }
        let groups = store.memory.withLock { memory in memory.series.map(\.cutGroup) }
        let sizes = Dictionary(grouping: groups, by: { $0 }).mapValues(\.count)
        #expect(sizes.count == 4 && sizes.values.allSatisfy { $0 >= 25 }, "\(sizes)")
        let device = try store.memory.withLock { memory in
            try memory.catalog.select(.parse("dev")).map { memory.state(id: $0)!.cutGroup }
        }
        #expect(Set(device).count == 1, "a payload's series share a group")
        let counters = store.counters
        #expect(counters.fullCuts == 0 && counters.rollingCuts >= 8, "\(counters)")
        // Cut all at once, the heads would have held every sample of a span before each cut.
        #expect(largestHead < 205 * 4, "the heads held \(largestHead) samples")
        #expect(store.headSampleCount > 0)
        // Segments end at turns; those behind every group's last turn are gone.
        #expect(WriteAheadLog.segments(in: options.logDirectory).count <= 6)
        let checkpoint = try MetricStore.integer(try StoreDatabase(path: directory.path, readOnly: true),
                                                 "SELECT value FROM store_state WHERE name = 'log_checkpoint'") ?? 0
        #expect(checkpoint > 0)

        let everything = (0..<rounds).map(Double.init)
        func check(_ store: MetricStore) throws {
            let temps = try store.read(try .parse("temp"), from: 0, to: .max)
            #expect(temps.count == 200 && temps.allSatisfy { $0.values == everything })
            let devices = try store.read(try .parse("dev"), from: 0, to: .max)
            #expect(devices.count == 5 && devices.allSatisfy { $0.values == everything })
        }
        try check(store)
        // Next to the running store, and after a crash (no checkpoint: the store is dropped).
        try check(try MetricStore(options: options, readOnly: true))
        let reopened = try MetricStore(options: options)
        try check(reopened)
        try reopened.compactAll()
        #expect(reopened.counters.duplicates == 0)
        try check(reopened)
    }

    /// The flash-wear property of the chunk index: a cut of every series writes a few pages
    /// however much history the store holds. With the version-1 index by series first, this cut
    /// touched a page per series (300 pages here, 10 000 on a month-old gateway).
    @Test func aCutOfEverySeriesWritesFewPagesHoweverOldTheStore() throws {
        let directory = StoreDirectory()
        let options = StoreOptions(path: directory.path)
        let base: Int64 = 1_790_000_000_000
        do {
            let store = try MetricStore(options: options)
            store.append((1...300).map { reading("m", ["s": "\($0)"], base, 1) })
            try store.checkpoint()
            // 300 series × 1000 older chunks, as weeks of history would leave them.
            try store.writer.withLock { database throws(StoreError) in
                try database.execute("""
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299999)
                    INSERT INTO chunks(series_id, min_ts, max_ts, count, level, data, hour)
                    SELECT i % 300 + 1, \(base) - 3600000 * (1 + i / 300), \(base) - 3600000 * (1 + i / 300) + 1000, 2048, 1,
                           zeroblob(24), (\(base) - 3600000 * (1 + i / 300)) / 3600000 FROM n
                    """)
                try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
        let store = try MetricStore(options: options)
        store.append((1...300).map { reading("m", ["s": "\($0)"], base + 1000, 2) })
        try store.checkpoint()
        let frames = try store.writer.withLock { database throws(StoreError) -> Int64 in
            let statement = try database.prepare("PRAGMA wal_checkpoint(PASSIVE)")
            try statement.bind([])
            _ = try statement.step()
            return statement.int64(1)
        }
        print("a cut of 300 series over 1000 chunks each wrote \(frames) pages")  // 406 with the version-1 index
        #expect(frames < 40, "the cut wrote \(frames) pages")
    }

    @Test func aFailedLogWriteKeepsTheSamplesPending() throws {
        let directory = StoreDirectory()
        let options = StoreOptions(path: directory.path)
        let store = try MetricStore(options: options)
        // A file where the log directory should be: the segment cannot be created.
        FileManager.default.createFile(atPath: options.logDirectory, contents: Data())
        store.append([reading("m", [:], 1000, 1)])
        #expect(throws: StoreError.self) { try store.flush() }
        #expect(store.counters.flushFailures == 1 && store.pendingSampleCount == 1)
        try FileManager.default.removeItem(atPath: options.logDirectory)
        try store.flush()
        #expect(store.headSampleCount == 1 && store.counters.flushed == 1)
    }

    // MARK: The version-1 fixture

    /// A data directory written before the log (Tests/Fixtures/store-v1) opens, keeps every
    /// sample bit for bit, upgrades in place, and compacts its old flush segments.
    @Test func theVersionOneFixtureOpensUpgradesAndKeepsEverySample() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/store-v1")
        let directory = StoreDirectory()
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("metrics.db"), to: URL(fileURLWithPath: directory.path))
        let expected = try Self.expectedSamples(fixture.appendingPathComponent("expected.csv.gz"))
        #expect(expected.count == 11_921)

        // Read-only tools cannot upgrade it, and say what will.
        do {
            _ = try MetricStore(options: StoreOptions(path: directory.path), readOnly: true)
            Issue.record("a read-only open of a format-1 store should say how to upgrade it")
        } catch {
            #expect("\(error)".contains("format 1, from an earlier release: start the gateway or run `vigil store maintain`"), "\(error)")
        }
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        #expect(try Self.userVersion(directory.path) == StoreSchema.version)
        #expect(try Self.everything(store) == expected)
        #expect(try Self.everything(try MetricStore(options: StoreOptions(path: directory.path), readOnly: true)) == expected)
        // The upgrade filed every chunk under its hour and knows each series' span: 2048
        // samples at 1 min are 34 hours.
        let database = try StoreDatabase(path: directory.path, readOnly: true)
        #expect(try MetricStore.integer(database, "SELECT COUNT(*) FROM chunks WHERE hour != (min_ts / 3600000)") == 0)
        #expect(try MetricStore.integer(database, "SELECT COUNT(*) FROM series_span") == 5)
        let hours = try MetricStore.integer(database, "SELECT MAX(hours) FROM series_span")
        #expect(hours == 34 || hours == 35, "\(String(describing: hours))")
        try store.compactAll()
        #expect(try Self.levels(directory.path).allSatisfy { $0 == 1 })
        store.append([reading("fixture_state", ["pump": "p1"], 1_700_200_000_000, 1)])
        try store.checkpoint()
        let reopened = try MetricStore(options: StoreOptions(path: directory.path))
        #expect(try Self.everything(reopened).count == expected.count + 1)
    }

    // MARK: The version-2 fixture

    /// What the write-ahead-log store left after `kill -9` (Tests/Fixtures/store-v2: chunks, a
    /// log segment not cut yet, a series only in SQLite's WAL) opens, reads the log back, keeps
    /// every sample bit for bit, upgrades to time columns in place, and writes aligned chunks.
    @Test func theVersionTwoFixtureOpensReplaysUpgradesAndKeepsEverySample() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/store-v2")
        let directory = StoreDirectory()
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("metrics.db"), to: URL(fileURLWithPath: directory.path))
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("metrics.db-wal"),
                                         to: URL(fileURLWithPath: directory.path + "-wal"))
        try FileManager.default.copyItem(at: fixture.appendingPathComponent("metrics.db-log"),
                                         to: URL(fileURLWithPath: StoreOptions(path: directory.path).logDirectory))
        let expected = try Self.expectedSamples(fixture.appendingPathComponent("expected.csv.gz"))
        #expect(expected.count == 11_791)
        do {
            _ = try MetricStore(options: StoreOptions(path: directory.path), readOnly: true)
            Issue.record("a read-only open of a format-2 store should say how to upgrade it")
        } catch {
            #expect("\(error)".contains("format 2, from an earlier release"), "\(error)")
        }
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(100 * 365 * 86_400)
        let store = try MetricStore(options: options)
        #expect(try Self.userVersion(directory.path) == StoreSchema.version)
        #expect(try Self.everything(store) == expected)
        #expect(try Self.everything(try MetricStore(options: options, readOnly: true)) == expected)
        // The open cut what it read back from the log: room b and the pump state were committed
        // together (one shared time column for their 90 samples; room a has one more). New
        // samples of the aligned pair share a column too; the old chunks stay as they are.
        let t0: Int64 = 1_700_006_400_000 + 2980 * 60_000
        var random = SeededRandom(4)
        let times = (0..<600).map { i in t0 + Int64(i) * 60_000 + Int64.random(in: -200...200, using: &random) }
        store.append(times.flatMap { t in ["a", "b"].map { room in reading("fixture_temperature", ["room": room], t, 20) } })
        try store.checkpoint()
        let database = try StoreDatabase(path: directory.path, readOnly: true)
        #expect(try MetricStore.integer(database, "SELECT COUNT(*) FROM time_columns") == 2)
        #expect(try MetricStore.integer(database, "SELECT COUNT(*) FROM chunks WHERE time_id IS NOT NULL") == 4)
        try store.compactAll()
        let reopened = try MetricStore(options: options)
        #expect(try Self.everything(reopened).count == expected.count + 1200)
    }

    // MARK: Helpers

    static func everything(_ store: MetricStore) throws -> [String] {
        try store.read(try .parse(#"{__name__=~"fixture_.*"}"#), from: .min, to: .max).flatMap { series in
            zip(series.timestamps, series.values).map { "\(series.series)|\($0)|\($1.bitPattern)" }
        }.sorted()
    }

    /// `vigil export`'s CSV of the fixture: series in selector form, time, shortest decimal.
    static func expectedSamples(_ gz: URL) throws -> [String] {
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-dc", gz.path]
        let pipe = Pipe()
        gzip.standardOutput = pipe
        try gzip.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        gzip.waitUntilExit()
        var reader = SampleCSV.Reader()
        return try text.split(separator: "\n").compactMap { line -> String? in
            guard let parsed = try reader.parse(line) else { return nil }
            return "\(parsed.series)|\(parsed.timestampMs)|\(parsed.value.bitPattern)"
        }.sorted()
    }

    static func chunkCount(_ path: String) throws -> Int64 {
        try MetricStore.integer(try StoreDatabase(path: path, readOnly: true), "SELECT COUNT(*) FROM chunks") ?? 0
    }

    static func levels(_ path: String) throws -> [Int64] {
        let statement = try StoreDatabase(path: path, readOnly: true).prepare("SELECT level FROM chunks ORDER BY id")
        try statement.bind([])
        var levels: [Int64] = []
        while try statement.step() { levels.append(statement.int64(0)) }
        return levels
    }

    static func userVersion(_ path: String) throws -> Int64 {
        try MetricStore.integer(try StoreDatabase(path: path, readOnly: true), "PRAGMA user_version") ?? 0
    }
}

/// Records written the way a test reads them: one series' samples at a time.
extension LogRecord {
    struct Samples {
        let id: Int64
        var timestamps: [Int64]
        var values: [Double]
    }

    /// `groups` sorted by id, each id once.
    init(sequence: UInt64, newSeries: [NewSeries], samples groups: [Samples]) {
        var columns = SampleColumns()
        for group in groups {
            columns.ids.append(group.id)
            columns.timestamps += group.timestamps
            columns.values += group.values
            columns.ends.append(columns.timestamps.count)
        }
        self.init(sequence: sequence, newSeries: newSeries, samples: columns)
    }
}
