import ArgumentParser
import FoundationEssentials
import VigilCore
import VigilServer
import VigilStore
#if canImport(Glibc)
import Glibc
#endif

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write raw samples as CSV (series,timestamp_ms,value), bit-exact (read-only, safe while the gateway runs).",
        discussion: """
            The output is what `vigil import --format csv` reads, so export → import round-trips every
            value bit for bit with its millisecond timestamp.

            Examples:
              vigil export --data-dir /var/lib/vigil 'temperature' > temperature.csv
              vigil export --data-dir /var/lib/vigil '{site="a"}' --start 2026-11-01T00:00:00Z --end=-1d -o site-a.csv
            """)

    @OptionGroup var location: StoreLocation

    @Argument(help: ArgumentHelp("A series selector.", valueName: "selector"))
    var selector: String

    @Option(help: "Start of the range (default: everything).")
    var start: String?

    @Option(help: "End of the range (default: everything).")
    var end: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var output: String?

    func run() throws {
        let parsed: SeriesSelector
        do { parsed = try SeriesSelector.parse(selector) } catch { Terminal.fail("vigil export: \(error)") }
        let now = WallClock.nowMs()
        guard let startMs = start.map({ QueryParameters.parseTime($0, nowMs: now) }) ?? Int64.min else {
            throw ValidationError("--start: expected unix seconds, RFC 3339, now, or relative such as -1h")
        }
        guard let endMs = end.map({ QueryParameters.parseTime($0, nowMs: now) }) ?? Int64.max else {
            throw ValidationError("--end: expected unix seconds, RFC 3339, now, or relative such as -1h")
        }
        let store: MetricStore
        do { store = try location.openReadOnly() } catch { Terminal.fail("vigil export: \(error)") }
        let sink = output.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? STDOUT_FILENO
        guard sink >= 0 else { Terminal.fail("vigil export: cannot create \(output ?? ""): \(String(cString: strerror(errno)))") }
        defer { if output != nil { close(sink) } }
        var buffer = SampleCSV.header + "\n"
        var samples = 0
        // One series at a time keeps memory bounded by the largest series, not the whole store.
        for key in store.series(parsed).sorted(by: { $0.description < $1.description }) {
            let one: SeriesSamples?
            do { one = try store.read(series: key, from: startMs, to: endMs) } catch { Terminal.fail("vigil export: \(error)") }
            if let series = one {
                for gap in series.gaps {
                    Terminal.printError("warning: \(series.series): samples from \(gap.lowerBound) to \(gap.upperBound) ms are unreadable (corrupt chunk)")
                }
                for i in series.timestamps.indices {
                    buffer += SampleCSV.line(series.series, series.timestamps[i], series.values[i])
                    buffer += "\n"
                    if buffer.utf8.count > 1 << 20 {
                        Terminal.write(buffer, to: sink)
                        buffer = ""
                    }
                }
                samples += series.timestamps.count
            }
        }
        Terminal.write(buffer, to: sink)
        if output != nil { Terminal.printError("exported \(samples) samples to \(output!)") }
    }
}
