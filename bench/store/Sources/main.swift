import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VigilCore
import VigilStore

/// bench/store: writes the sensor dataset into a fresh store and reports bytes per sample,
/// append throughput and query latency. `--export-openmetrics FILE` and `--export-csv FILE` write
/// the same dataset for the reference systems (see bench/store/run.sh).
///     swift run -c release vigil-bench-store --series 1000 --hours 24
/// Defaults: 1000 series × 24 h, and 20 series × 1 h for the 100 Hz vibration shape (1000 × 24 h
/// of it would be 8.6 billion samples).
var series: Int?
var hours: Int?
var shape = "sensors"
var directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-store").path
var exportOpenMetrics: String?
var exportCSV: String?
var exportVictoriaMetrics: String?
var byKind = false
var headMemory = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--series": series = Int(arguments.next() ?? "")
    case "--hours": hours = Int(arguments.next() ?? "")
    case "--shape": shape = arguments.next() ?? shape
    case "--dir": directory = arguments.next() ?? directory
    case "--export-openmetrics": exportOpenMetrics = arguments.next()
    case "--export-csv": exportCSV = arguments.next()
    case "--export-vm": exportVictoriaMetrics = arguments.next()
    case "--by-kind": byKind = true
    case "--head-memory": headMemory = true
    default:
        print("usage: vigil-bench-store [--shape sensors|fleet|vibration] [--series N] [--hours H] [--dir DIR] [--export-openmetrics FILE] [--export-csv FILE] [--export-vm FILE] [--by-kind] [--head-memory]")
        exit(2)
    }
}
if headMemory {
    // In a fresh process, so no freed memory is reused: resident memory added by 100 000 new
    // series, each with its catalogue entry, its newest sample and one pending (unflushed) sample.
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let memoryDirectory = (directory as NSString).appendingPathComponent("memory.db")
    try? FileManager.default.removeItem(atPath: memoryDirectory)
    let memoryStore = try MetricStore(options: StoreOptions(path: memoryDirectory))
    let before = residentBytes()
    let headSeries = 100_000
    for block in 0..<(headSeries / 1000) {
        memoryStore.append((0..<1000).map { i in
            let n = block * 1000 + i
            return Reading(metric: "temperature", labels: Labels(["site": "site-\(n % 7)", "device": "dev-\(n)", "source": "mqtt"]),
                           timestampMs: 1_700_000_000_000, value: 21.5)
        })
    }
    let after = residentBytes()
    print(String(format: "head memory: %.0f resident bytes per active series (%d series, 3 labels, one pending sample)",
                 Double(after - before) / Double(headSeries), headSeries))
    exit(0)
}

let vibration = shape == "vibration"
guard let dataset = Dataset(shape: shape, series: series ?? (vibration ? 20 : 1000), hours: hours ?? (vibration ? 1 : 24)) else {
    print("unknown shape \(shape): sensors, fleet or vibration")
    exit(2)
}

if byKind {
    // Codec only: bytes per sample by series kind, and the timestamp share.
    var sizes: [String: (bytes: Int, timeBytes: Int, samples: Int)] = [:]
    dataset.generate { key, timestamps, values in
        var start = 0
        while start < timestamps.count {
            let end = min(start + 2048, timestamps.count)
            let t = Array(timestamps[start..<end]), v = Array(values[start..<end])
            let full = ChunkCodec.encode(Chunk(timestamps: t, values: v), level: 9).count
            let timeOnly = ChunkCodec.encode(Chunk(timestamps: t, values: Array(repeating: 0, count: t.count)), level: 9).count
            let name = "\(key.metric)/\(key.labels["source"]!)"
            sizes[name, default: (0, 0, 0)].bytes += full
            sizes[name, default: (0, 0, 0)].timeBytes += timeOnly
            sizes[name, default: (0, 0, 0)].samples += t.count
            start = end
        }
    }
    for (name, size) in sizes.sorted(by: { $0.key < $1.key }) {
        print(String(format: "%-22@ %6.3f B/sample (timestamps %5.3f)", name as NSString,
                     Double(size.bytes) / Double(size.samples), Double(size.timeBytes) / Double(size.samples)))
    }
    let all = sizes.values.reduce((0, 0)) { ($0.0 + $1.bytes, $0.1 + $1.samples) }
    print(String(format: "all %6.3f B/sample", Double(all.0) / Double(all.1)))
    exit(0)
}

if let path = exportOpenMetrics ?? exportCSV ?? exportVictoriaMetrics {
    // The same samples for the reference systems. OpenMetrics wants each metric family once and
    // contiguous, so series are grouped by metric name.
    var all: [(SeriesKey, [Int64], [Double])] = []
    dataset.generate { key, timestamps, values in all.append((key, timestamps, values)) }
    all.sort { $0.0.metric < $1.0.metric }
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    var buffer = ""
    var family = ""
    func spill() {
        if buffer.utf8.count > 1 << 20 {
            handle.write(Data(buffer.utf8))
            buffer = ""
        }
    }
    for (key, timestamps, values) in all {
        if exportOpenMetrics != nil {
            if key.metric != family {
                buffer += "# TYPE \(key.metric) gauge\n"
                family = key.metric
            }
            for i in timestamps.indices {
                // OpenMetrics timestamps are seconds; "%.3f" keeps the milliseconds exact.
                buffer += "\(key) \(values[i]) \(String(format: "%.3f", Double(timestamps[i]) / 1000))\n"
                spill()
            }
        } else if exportCSV != nil {
            for i in timestamps.indices {
                buffer += "\(key.description.replacingOccurrences(of: "\"", with: "\"\"").wrappedInQuotes),\(timestamps[i]),\(values[i])\n"
                spill()
            }
        } else {
            // VictoriaMetrics' JSON line import: one series per line.
            let labels = ([("__name__", key.metric)] + key.labels.map { ($0.name, $0.value) })
                .map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",")
            buffer += "{\"metric\":{\(labels)},\"values\":[\(values.map { "\($0)" }.joined(separator: ","))],"
                + "\"timestamps\":[\(timestamps.map { "\($0)" }.joined(separator: ","))]}\n"
            spill()
        }
    }
    if exportOpenMetrics != nil { buffer += "# EOF\n" }
    handle.write(Data(buffer.utf8))
    try handle.close()
    print("wrote \(path)")
    exit(0)
}

try? FileManager.default.removeItem(atPath: directory)
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
let path = (directory as NSString).appendingPathComponent("metrics.db")
var options = StoreOptions(path: path)
options.outOfOrderWindow = .seconds(86_400 * 365)
let store = try MetricStore(options: options)
let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func fileSize(_ p: String) -> Int64 { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int64) ?? 0 }

// 1. Append throughput, in memory, one core: the dataset in time order, as a gateway receives it
//    (every series' sample of a 10 s tick together), in batches of 1000 readings.
var perSeries: [(SeriesKey, [Int64], [Double])] = []
dataset.generate { key, timestamps, values in perSeries.append((key, timestamps, values)) }
let total = perSeries.reduce(0) { $0 + $1.1.count }
var cursors = [Int](repeating: 0, count: perSeries.count)
var batch: [Reading] = []
batch.reserveCapacity(1000)
var appendTime = Duration.zero
var flushTime = Duration.zero
var appended = 0
var sinceFlush = 0
var remaining = true
while remaining {
    remaining = false
    for s in perSeries.indices where cursors[s] < perSeries[s].1.count {
        remaining = true
        let (key, timestamps, values) = perSeries[s]
        batch.append(Reading(series: key, timestampMs: timestamps[cursors[s]], value: values[cursors[s]]))
        cursors[s] += 1
        if batch.count == 1000 {
            appendTime += clock.measure { store.append(batch) }
            appended += batch.count
            sinceFlush += batch.count
            batch.removeAll(keepingCapacity: true)
            // Flush as the gateway would every second at 100 readings/s per 1000 series: a
            // segment per series per 100 k readings here keeps the bench quick.
            if sinceFlush >= 100_000 {
                flushTime += try clock.measure { try store.flush() }
                sinceFlush = 0
            }
        }
    }
}
appendTime += clock.measure { store.append(batch) }
flushTime += try clock.measure { try store.flush() }
let compactTime = try clock.measure { try store.compactAll() }
try store.vacuum()
let rawBytes = fileSize(path) + fileSize(path + "-wal")
let rollupTime = try clock.measure { try store.rollUpAll(nowMs: .max / 2) }
try store.vacuum()
let allBytes = fileSize(path) + fileSize(path + "-wal")

print(String(format: "dataset: %d series, %d samples", perSeries.count, total))
print(String(format: "bytes/sample on disk: %.3f raw (%d bytes), %.3f with 1m+1h rollups (%d bytes)",
             Double(rawBytes) / Double(total), rawBytes, Double(allBytes) / Double(total), allBytes))
print(String(format: "append: %.2f M samples/s in memory (one core); flush %.1f s, compaction %.1f s, rollups %.1f s",
             Double(total) / seconds(appendTime) / 1e6, seconds(flushTime), seconds(compactTime), seconds(rollupTime)))

// 3. (After the query latencies below.) What stays once retention has deleted the raw samples:
//    every rollup, the sparse ones written just before.
@MainActor func rollupsAfterRetention() throws {
    let newest = perSeries.map { $0.1.last ?? 0 }.max() ?? 0
    let later = newest + options.retention.milliseconds + 86_400_000
    while try store.applyRetention(nowMs: later, maxRows: 100_000).more {}
    try store.vacuum()
    let left = fileSize(path) + fileSize(path + "-wal")
    print(String(format: "after raw retention: %.3f bytes per raw sample of 1m+1h rollups (%d bytes)",
                 Double(left) / Double(total), left))
}

// 2. Query latency.
func percentile(_ samples: [Duration], _ p: Double) -> Double {
    let sorted = samples.sorted()
    return seconds(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) * 1000
}
let oneSeries = perSeries[0].0
let end = perSeries[0].1.last!, start = end - 86_400_000
let exact = try SeriesSelector.parse(oneSeries.description)
var rangeTimes: [Duration] = []
var points = 0
for _ in 0..<200 {
    rangeTimes.append(try clock.measure { points = try store.read(exact, from: start, to: end).first?.timestamps.count ?? 0 })
}
var lastTimes: [Duration] = []
var lastCount = 0
let everything = try SeriesSelector.parse(#"{__name__=~".+"}"#)
for _ in 0..<50 { lastTimes.append(try clock.measure { lastCount = try store.lastValues(everything).count }) }
var stepTimes: [Duration] = []
let weekly = RangeQuery(selector: try SeriesSelector.parse(oneSeries.metric), start: start, end: end, step: 3_600_000, aggregation: .max)
for _ in 0..<20 { stepTimes.append(try clock.measure { _ = try store.query(weekly) }) }
print(String(format: "range query, 1 series, 24 h raw (%d samples): p50 %.2f ms, p99 %.2f ms", points,
             percentile(rangeTimes, 0.5), percentile(rangeTimes, 0.99)))
print(String(format: "last value of %d series: p50 %.2f ms", lastCount, percentile(lastTimes, 0.5)))
print(String(format: "max per hour over 24 h of every %@ series (from 1h rollups): p50 %.2f ms", oneSeries.metric as NSString,
             percentile(stepTimes, 0.5)))

try rollupsAfterRetention()

func residentBytes() -> Int64 {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    return (Int64(text.split(separator: " ")[1]) ?? 0) * Int64(sysconf(Int32(_SC_PAGESIZE)))
}

extension String {
    var wrappedInQuotes: String { "\"\(self)\"" }
}
