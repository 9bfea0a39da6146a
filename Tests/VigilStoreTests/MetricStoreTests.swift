import Foundation
import Testing
import VigilCore
@testable import VigilStore

final class StoreDirectory {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-store-\(UUID().uuidString.prefix(8))")
    init() { try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    var path: String { url.appendingPathComponent("metrics.db").path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

func reading(_ metric: String, _ labels: [String: String] = [:], _ t: Int64, _ v: Double) -> Reading {
    Reading(metric: metric, labels: Labels(labels), timestampMs: t, value: v)
}

@Suite("Metric store: append, flush, read, reopen")
struct MetricStoreTests {
    /// An import has no out-of-order window; its days are still rolled up once complete, and the
    /// pages compaction frees go back to the file system.
    @Test func importedDaysAreRolledUpAndFreePagesGivenBack() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(86_400 * 365 * 100)
        let store = try MetricStore(options: options)
        let now: Int64 = 1_795_000_000_000
        let dayStart = (now / 86_400_000 - 2) * 86_400_000
        for flush in 0..<40 {
            store.append((0..<50).flatMap { s in (0..<100).map { i in
                reading("m", ["s": "\(s)"], dayStart + Int64(flush * 100 + i) * 45_000 + 1, Double(i)) } })
            try store.flush()
        }
        try store.compactAll()
        try store.rollUpAll(nowMs: now)
        #expect(try store.stats().rollupBlobs == 0, "the import's own window never lets a day settle")
        try store.rollUpAll(nowMs: now, settleWindow: .seconds(300))
        // 50 series, 2 complete days (today is not), 1 h only: at 45 s a 1 m bucket holds one or two samples.
        #expect(try store.stats().rollupBlobs == 50 * 2)
        // Heads holding a full chunk are cut straight into level-1 chunks, so compaction frees
        // little or nothing; whatever is free goes back.
        let before = try store.stats()
        let given = try store.reclaimFreePages(maxPages: nil, everything: true)
        #expect(given == before.freeBytes)
        // The cut of every head was one transaction; the SQLite WAL that held it is given back too.
        #expect(MetricStore.fileSize(directory.path + "-wal") == 0)
        let after = try store.stats()
        #expect(after.freeBytes == 0 && after.bytesOnDisk <= before.bytesOnDisk,
                "\(before.bytesOnDisk) (\(before.freeBytes) free) → \(after.bytesOnDisk) (\(after.freeBytes) free)")
    }

    @Test func readsSeeUnflushedAndFlushedSamplesAndSurviveReopen() throws {
        let directory = StoreDirectory()
        do {
            let store = try MetricStore(options: StoreOptions(path: directory.path))
            store.append([reading("temp", ["site": "a"], 1000, 21.5), reading("temp", ["site": "b"], 1000, 19)])
            #expect(try store.read(try .parse("temp"), from: 0, to: 5000).count == 2)
            try store.flush()
            store.append([reading("temp", ["site": "a"], 2000, 21.6)])
            let a = try store.read(try .parse(#"temp{site="a"}"#), from: 0, to: 5000)
            #expect(a.first?.timestamps == [1000, 2000])
            #expect(a.first?.values == [21.5, 21.6])
            try store.flush()
        }
        let reopened = try MetricStore(options: StoreOptions(path: directory.path))
        let a = try reopened.read(try .parse(#"temp{site="a"}"#), from: 0, to: 5000)
        #expect(a.first?.values == [21.5, 21.6])
        #expect(reopened.labelValues("site") == ["a", "b"])
        #expect(reopened.labelNames() == ["__name__", "site"])
        // The out-of-order window still applies after a reopen (newest timestamps are reloaded).
        reopened.append([reading("temp", ["site": "a"], 2000 + 400_000, 1)])
        #expect(reopened.append([reading("temp", ["site": "a"], 1000, 1)]).tooOld == 1)
    }

    /// A fleet at 1 Hz, flushed every second: the heads hold two or three bytes a sample (the
    /// figure /metrics reports as `vigil_store_head_bytes`), and every sample reads back.
    @Test func headsOfAFleetTakeAFewBytesASample() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        let start: Int64 = 1_764_000_000_000
        for second in 0..<120 {
            store.append((0..<500).map { device -> Reading in
                let jitter = Int64((device * 7 + second * 3) % 40)
                let value = 20 + Double((device + second) % 17) / 10
                return reading("temp", ["device": "d\(device)"], start + Int64(second) * 1000 + jitter, value)
            })
            try store.flush()
        }
        #expect(store.headSampleCount == 60_000)
        let perSample = Double(store.headBytes) / 60_000
        #expect(perSample < 3.5, "\(perSample) bytes a sample")
        let read = try store.read(try .parse(#"temp{device="d7"}"#), from: start, to: start + 200_000)
        #expect(read.first?.values.count == 120 && read.first?.values.last == 20 + Double((7 + 119) % 17) / 10)
    }

    @Test func lastWriteWinsAcrossFlushesAndWithinABatch() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        store.append([reading("m", [:], 10, 1), reading("m", [:], 20, 2), reading("m", [:], 10, 3)])
        try store.flush()
        store.append([reading("m", [:], 20, 4)])
        var samples = try store.read(try .parse("m"), from: 0, to: 100).first
        #expect(samples?.timestamps == [10, 20])
        #expect(samples?.values == [3, 4])
        try store.flush()
        samples = try MetricStore(options: StoreOptions(path: directory.path)).read(try .parse("m"), from: 0, to: 100).first
        #expect(samples?.values == [3, 4])
    }

    @Test func outOfOrderWithinTheWindowIsAcceptedOlderIsRejected() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(60)
        let store = try MetricStore(options: options)
        store.append([reading("m", [:], 100_000, 1)])
        let result = store.append([reading("m", [:], 50_000, 2), reading("m", [:], 30_000, 3), reading("m", [:], 40_000, .nan)])
        #expect(result == AppendResult(accepted: 1, tooOld: 1, invalid: 1))
        let samples = try store.read(try .parse("m"), from: 0, to: 200_000).first
        #expect(samples?.timestamps == [50_000, 100_000])
        #expect(store.counters.rejectedTooOld == 1)
    }

    @Test func lastValuesReadOnlyTheNewestSample() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        for t in 0..<100 { store.append([reading("m", ["d": "x"], Int64(t) * 1000, Double(t)), reading("m", ["d": "y"], Int64(t) * 500, Double(-t))]) }
        try store.flush()
        let last = try store.lastValues(try .parse("m")).sorted { $0.series.description < $1.series.description }
        #expect(last.map(\.timestampMs) == [99_000, 49_500])
        #expect(last.map(\.value) == [99, -99])
        // A rewrite of the newest timestamp wins; an older out-of-order sample does not move it.
        store.append([reading("m", ["d": "x"], 99_000, 7), reading("m", ["d": "x"], 98_000, 8)])
        #expect(try store.lastValues(try .parse(#"m{d="x"}"#)).first?.value == 7)
        try store.flush()
        // After a reopen the newest value is read from disk once.
        let reopened = try MetricStore(options: StoreOptions(path: directory.path))
        let again = try reopened.lastValues(try .parse("m")).sorted { $0.series.description < $1.series.description }
        #expect(again.map(\.timestampMs) == [99_000, 49_500] && again.map(\.value) == [7, -99])
        #expect(try reopened.lastValues(try .parse("m")).count == 2)
    }

    @Test func aCorruptChunkIsReportedAsAGapAndCounted() throws {
        let directory = StoreDirectory()
        let store = try MetricStore(options: StoreOptions(path: directory.path))
        store.append([reading("m", [:], 1000, 1), reading("m", [:], 2000, 2)])
        try store.checkpoint()
        store.append([reading("m", [:], 3000, 3)])
        try store.checkpoint()
        // Damage the first chunk's bytes on disk, behind the store's back.
        let database = try StoreDatabase(path: directory.path)
        try database.execute("UPDATE chunks SET data = zeroblob(length(data)) WHERE id = (SELECT MIN(id) FROM chunks)")
        let samples = try store.read(try .parse("m"), from: 0, to: 10_000).first
        #expect(samples?.timestamps == [3000])
        #expect(samples?.gaps == [1000...2000])
        #expect(store.counters.corruptChunks == 1)
    }

    @Test(arguments: 0..<5)
    func queriesAgreeWithABruteForceReference(seed: UInt64) throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.outOfOrderWindow = .seconds(3600)
        let store = try MetricStore(options: options)
        var random = SeededRandom(seed)
        var reference: [String: [Int64: Double]] = [:]
        for round in 0..<20 {
            var batch: [Reading] = []
            for _ in 0..<200 {
                let device = "d\(Int.random(in: 0..<5, using: &random))"
                let t = Int64(round) * 10_000 + Int64.random(in: -5_000...20_000, using: &random)
                let v = Double(Int.random(in: -1000...1000, using: &random)) / 10
                batch.append(reading("m", ["device": device], t, v))
                reference[device, default: [:]][t] = v
            }
            store.append(batch)
            if Bool.random(using: &random) { try store.flush() }
        }
        for _ in 0..<20 {
            let a = Int64.random(in: -10_000...220_000, using: &random)
            let b = Int64.random(in: -10_000...220_000, using: &random)
            let (start, end) = (min(a, b), max(a, b))
            let results = try store.read(try .parse("m"), from: start, to: end)
            for (device, samples) in reference {
                let expected = samples.filter { $0.key >= start && $0.key <= end }.sorted { $0.key < $1.key }
                let actual = results.first { $0.series.labels["device"] == device }
                #expect((actual?.timestamps ?? []) == expected.map(\.key))
                #expect((actual?.values ?? []) == expected.map(\.value))
            }
        }
    }
}

@Suite("Series selectors")
struct SelectorTests {
    let keys = [
        SeriesKey(metric: "temperature", labels: Labels(["site": "a", "device": "boiler-1"])),
        SeriesKey(metric: "temperature", labels: Labels(["site": "b", "device": "fridge-2"])),
        SeriesKey(metric: "humidity", labels: Labels(["site": "a"])),
    ]

    func matching(_ text: String) throws -> [String] {
        let selector = try SeriesSelector.parse(text)
        var catalog = SeriesCatalog()
        for key in keys { _ = catalog.slot(for: key) }
        let viaIndex = catalog.select(selector).map { catalog.key(id: $0)!.description }
        let direct = keys.filter(selector.matches).map(\.description)
        #expect(viaIndex == direct)
        return direct
    }

    @Test func matchers() throws {
        #expect(try matching("temperature").count == 2)
        #expect(try matching(#"temperature{site="a"}"#) == [#"temperature{device="boiler-1",site="a"}"#])
        #expect(try matching(#"temperature{device=~"boiler-.*"}"#).count == 1)
        #expect(try matching(#"temperature{device=~"boiler"}"#).isEmpty)  // anchored
        #expect(try matching(#"{site="a"}"#).count == 2)
        #expect(try matching(#"{__name__=~"temp.*|hum.*", site!="b"}"#).count == 2)
        #expect(try matching(#"temperature{device!~"f.*"}"#).count == 1)
        #expect(try matching(#"humidity{device=""}"#).count == 1)  // empty value matches a missing label
        #expect(try matching("temperature { site = 'b' , }").count == 1)
    }

    /// Series read back from disk come with ids in any order; the index holds slots, and what it
    /// selects (several equality matchers intersected) is what matching every key gives.
    @Test func aFleetReadBackInAnyIdOrderSelectsAsMatchingEveryKey() throws {
        var catalog = SeriesCatalog()
        var fleet: [SeriesKey] = []
        for device in 0..<300 {
            for metric in ["power", "temperature", "humidity"] {
                let key = SeriesKey(metric: metric, labels: Labels(["site": "s\(device % 7)", "device": "d\(device)"]))
                fleet.append(key)
                catalog.insert(key, id: Int64((device * 7919 + metric.count * 104_729) % 1_000_003 + 1))
            }
        }
        for text in [#"power{site="s3"}"#, #"{site="s3", device="d10"}"#, #"temperature{site="s1", device=~"d1.*"}"#,
                     #"{device="d299", __name__="humidity"}"#, #"power{site="s3", device="d11"}"#] {
            let selector = try SeriesSelector.parse(text)
            let viaIndex = catalog.select(selector)
            #expect(viaIndex == viaIndex.sorted())
            #expect(Set(viaIndex.map { catalog.key(id: $0)! }) == Set(fleet.filter(selector.matches)), "\(text)")
        }
        #expect(catalog.labelValues("site") == (0..<7).map { "s\($0)" })
    }

    @Test(arguments: ["", "{}", #"{site=~".*"}"#, "temp{site}", #"temp{site="a""#, #"temp{site=~"("}"#, "temp extra", #"temp{1x="a"}"#])
    func invalid(text: String) {
        #expect(throws: StoreError.self) { try SeriesSelector.parse(text) }
    }
}

@Suite("Compaction")
struct CompactionTests {
    @Test func segmentsMergeIntoChunksWithoutChangingWhatReadsReturn() throws {
        let directory = StoreDirectory()
        var options = StoreOptions(path: directory.path)
        options.samplesPerChunk = 100
        options.outOfOrderWindow = .seconds(3600)
        let store = try MetricStore(options: options)
        var random = SeededRandom(3)
        for flush in 0..<30 {
            var batch: [Reading] = []
            for i in 0..<10 {
                let t = Int64(flush * 10 + i) * 1000 + (Int.random(in: 0..<10, using: &random) == 0 ? -30_000 : 0)
                batch.append(reading("m", ["d": "a"], t, Double(Int.random(in: 0...100, using: &random))))
            }
            store.append(batch)
            try store.flush()
        }
        let before = try store.read(try .parse("m"), from: .min, to: .max)
        try store.compactAll()
        let after = try store.read(try .parse("m"), from: .min, to: .max)
        #expect(after == before)
        let levels = try StoreDatabase(path: directory.path, readOnly: true)
        let count = try levels.prepare("SELECT COUNT(*), SUM(level = 0) FROM chunks")
        try count.bind([])
        _ = try count.step()
        #expect(count.int64(1) == 0)
        #expect(count.int64(0) == Int64((before.first!.timestamps.count + 99) / 100))
        // Later writes still win over compacted data.
        store.append([reading("m", ["d": "a"], before.first!.timestamps[5], -1)])
        try store.flush()
        try store.compactAll()
        let rewritten = try store.read(try .parse("m"), from: .min, to: .max)
        #expect(rewritten.first?.values[5] == -1)
        #expect(store.counters.duplicates > 0)
    }
}
