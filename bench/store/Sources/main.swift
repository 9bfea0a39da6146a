import Foundation
import VigilCore
import VigilStore

/// bench/store: writes the sensor dataset into a fresh store and reports bytes per sample,
/// append throughput and query latency. `--export-openmetrics FILE` and `--export-csv FILE` write
/// the same dataset for the reference systems (see bench/store/run.sh).
///     swift run -c release vigil-bench-store --series 1000 --hours 24
var series = 1000
var hours = 24
var directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-store").path
var exportOpenMetrics: String?
var exportCSV: String?
var byKind = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--series": series = Int(arguments.next() ?? "") ?? series
    case "--hours": hours = Int(arguments.next() ?? "") ?? hours
    case "--dir": directory = arguments.next() ?? directory
    case "--export-openmetrics": exportOpenMetrics = arguments.next()
    case "--export-csv": exportCSV = arguments.next()
    case "--by-kind": byKind = true
    default:
        print("usage: vigil-bench-store [--series N] [--hours H] [--dir DIR] [--export-openmetrics FILE] [--export-csv FILE]")
        exit(2)
    }
}
let dataset = SensorDataset(series: series, hours: hours)

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

if let path = exportOpenMetrics ?? exportCSV {
    FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    var buffer = ""
    try dataset.generate { key, timestamps, values in
        if exportOpenMetrics != nil { buffer += "# TYPE \(key.metric) gauge\n" }
        for i in timestamps.indices {
            if exportOpenMetrics != nil {
                // OpenMetrics timestamps are seconds; "%.3f" keeps the milliseconds exact.
                buffer += "\(key) \(values[i]) \(String(format: "%.3f", Double(timestamps[i]) / 1000))\n"
            } else {
                buffer += "\(key.description.replacingOccurrences(of: "\"", with: "\"\"").wrappedInQuotes),\(timestamps[i]),\(values[i])\n"
            }
            if buffer.utf8.count > 1 << 20 {
                handle.write(Data(buffer.utf8))
                buffer = ""
            }
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

// Append in 1 s-of-wall-time shaped batches would take a day; instead append series by series
// in blocks of 2 h (what a day of live flushing plus compaction converges to).
var total = 0
let clock = ContinuousClock()
var appendTime = Duration.zero
try dataset.generate { key, timestamps, values in
    var start = 0
    while start < timestamps.count {
        let end = min(start + 720, timestamps.count)
        let readings = (start..<end).map { Reading(series: key, timestampMs: timestamps[$0], value: values[$0]) }
        appendTime += clock.measure { store.append(readings) }
        try store.flush()
        start = end
    }
    total += timestamps.count
}
let compactTime = try clock.measure { try store.compactAll() }
let db = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
_ = db
func fileSize(_ p: String) -> Int64 { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int64) ?? 0 }
try store.vacuum()
let bytes = fileSize(path) + fileSize(path + "-wal")
print(String(format: "samples %d, bytes %d, %.3f bytes/sample", total, bytes, Double(bytes) / Double(total)))
print(String(format: "append: %.0f samples/s (in-memory append only); compaction %.1f s",
             Double(total) / max(1e-9, Double(appendTime.components.attoseconds) / 1e18 + Double(appendTime.components.seconds)),
             Double(compactTime.components.seconds) + Double(compactTime.components.attoseconds) / 1e18))

extension String {
    var wrappedInQuotes: String { "\"\(self)\"" }
}
