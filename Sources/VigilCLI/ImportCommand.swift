import ArgumentParser
import FoundationEssentials
import VigilConfig
import VigilCore
import VigilIngest
import VigilServer
import VigilStore

#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Backfill the metric store from Influx line protocol or CSV.",
        discussion: """
            CSV is `series,timestamp_ms,value` with the series in selector form, as `vigil export`
            writes it. Influx lines become one series per numeric field (`measurement_field`; a field
            named `value` keeps the measurement name), tags become labels.

            A bad line is reported with its line number and skipped; the rest is imported. Exit
            status 1 if any line was rejected. The import commits as it goes (one transaction per
            second): if it is interrupted, everything reported as committed is kept.

            The gateway must not be running on the same data_dir (the store has one writer).

            Examples:
              vigil import --data-dir /var/lib/vigil --format csv temperature.csv
              zcat history.lp.gz | vigil import --data-dir /var/lib/vigil --format influx --precision s -
            """)

    @OptionGroup var location: StoreLocation

    @Option(help: "influx or csv.")
    var format: InputFormat

    @Option(help: "Influx timestamp precision: ns, us, ms or s.")
    var precision: String = "ns"

    @Option(name: .customLong("commit-interval"), help: "How often to commit (a duration such as 1s or 200ms).")
    var commitInterval: String = "1s"

    @Option(name: .customLong("max-age"),
            help: "Refuse samples older than this (a duration such as 400d; default: the store's retention). Data older than retention would be deleted by the next retention pass anyway.")
    var maxAge: String?

    @Argument(help: ArgumentHelp("The file to import, or - for standard input.", valueName: "file"))
    var file: String

    enum InputFormat: String, ExpressibleByArgument, CaseIterable { case influx, csv }

    static let maxReportedErrors = 20

    func run() throws {
        guard let influxPrecision = InfluxLineParser.Precision(rawValue: precision) else {
            throw ValidationError("--precision: expected ns, us, ms or s")
        }
        guard let commitEvery = ConfigValues.parseDuration(commitInterval), commitEvery > .zero else {
            throw ValidationError("--commit-interval: expected a duration such as 1s")
        }
        if let maxAge, ConfigValues.parseDuration(maxAge).map({ $0 > .zero }) != true {
            throw ValidationError("--max-age: expected a duration such as 400d (at most 100 years)")
        }
        let descriptor = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { Terminal.fail("vigil import: cannot read \(file): \(String(cString: strerror(errno)))") }
        let (store, settings, lock) = location.openForWriting("import") { options in
            // A backfill is older than what is stored by design: no out-of-order window.
            options.outOfOrderWindow = .seconds(Int64.max / 1_000_000_000_000)
        }
        defer { lock.release() }

        let samplesBefore: Int64
        do { samplesBefore = try store.stats().samples } catch { Terminal.fail("vigil import: \(error)") }
        let progress = ImportProgress(name: file == "-" ? "stdin" : file)
        var csv = SampleCSV.Reader()
        let now = WallClock.nowMs()
        // The same window as live ingest: nothing older than max-age, nothing from the future
        // beyond the normalizer's default skew, so one stray line cannot spread the store's
        // bookkeeping over centuries.
        let ageLimit = maxAge.flatMap(ConfigValues.parseDuration) ?? settings.options.retention
        let window = (now - ageLimit.milliseconds)...(now + NormalizeConfig().maxClockSkew.milliseconds)
        let windowHint = maxAge == nil ? " (pass --max-age to import older data)" : ""
        var batch: [Reading] = []
        batch.reserveCapacity(65_536)
        var lastFlush = ContinuousClock.now
        let label = file == "-" ? "stdin" : file

        func commit() {
            store.append(batch)
            batch.removeAll(keepingCapacity: true)
            do { try store.flush() } catch { Terminal.fail("vigil import: \(error)") }
            progress.committed = progress.samples
            progress.report()
            lastFlush = .now
        }

        func handle(_ line: Substring) {
            progress.lines += 1
            do {
                let readings: [Reading] = switch format {
                case .csv: try csv.parse(line).map { [$0] } ?? []
                case .influx: try InfluxLineParser.parse(line, precision: influxPrecision, defaultTimeMs: now)
                }
                for reading in readings where !window.contains(reading.timestampMs) {
                    throw ImportWindowError(timestampMs: reading.timestampMs, window: window, hint: windowHint)
                }
                batch.append(contentsOf: readings)
            } catch {
                progress.rejected += 1
                if progress.rejected <= Self.maxReportedErrors {
                    progress.clearLine()
                    Terminal.printError("\(label):\(progress.lines): \(error)")
                    if progress.rejected == Self.maxReportedErrors { Terminal.printError("(further bad lines are counted, not shown)") }
                }
                return
            }
            if batch.count >= 65_536 || ContinuousClock.now - lastFlush >= commitEvery {
                progress.samples += batch.count
                store.append(batch)
                batch.removeAll(keepingCapacity: true)
                if ContinuousClock.now - lastFlush >= commitEvery { commit() }
            }
        }

        // read(2) returns what is there: a slow pipe is imported (and committed) as it arrives.
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var carry: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { Terminal.fail("vigil import: read error: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            var lineStart = 0
            buffer.withUnsafeBufferPointer { bytes in
                for i in 0..<count where bytes[i] == UInt8(ascii: "\n") {
                    if carry.isEmpty {
                        handle(Substring(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<i]), as: UTF8.self))
                    } else {
                        carry.append(contentsOf: bytes[lineStart..<i])
                        handle(Substring(decoding: carry, as: UTF8.self))
                        carry.removeAll(keepingCapacity: true)
                    }
                    lineStart = i + 1
                }
                carry.append(contentsOf: bytes[lineStart..<count])
            }
        }
        if !carry.isEmpty { handle(Substring(decoding: carry, as: UTF8.self)) }
        progress.samples += batch.count
        commit()

        progress.phase = "compacting"
        progress.report(force: true)
        do {
            try store.compactAll()
            // Lines whose series and time were already there (earlier in the file, or in the
            // store) replaced a value instead of adding one: the ledger of the import.
            progress.duplicates = max(0, progress.committed - Int(try store.stats().samples - samplesBefore))
            progress.phase = "rolling up"
            progress.report(force: true)
            // Every complete day written gets its rollups now, as the gateway would compute them.
            try store.rollUpAll(settleWindow: settings.options.outOfOrderWindow)
            progress.phase = "reclaiming free pages"
            progress.report(force: true)
            try store.reclaimFreePages(maxPages: nil, everything: true)
        } catch {
            Terminal.fail("vigil import: \(error)")
        }
        progress.finish(series: store.seriesCount)
        if progress.rejected > 0 { throw ExitCode(1) }
    }
}

/// A line whose time is outside the import's window.
struct ImportWindowError: Error, CustomStringConvertible {
    let timestampMs: Int64
    let window: ClosedRange<Int64>
    let hint: String
    var description: String {
        timestampMs < window.lowerBound
            ? "timestamp \(RFC3339.format(timestampMs)) is older than the import's max age, \(RFC3339.format(window.lowerBound))\(hint)"
            : "timestamp \(RFC3339.format(timestampMs)) is in the future (after \(RFC3339.format(window.upperBound)))"
    }
}

/// The progress line on standard error: rewritten in place on a terminal, one line per commit
/// otherwise (so a log or a supervising process sees what is committed).
final class ImportProgress {
    let name: String
    let started = ContinuousClock.now
    let isTerminal = isatty(STDERR_FILENO) == 1
    var lines = 0
    var samples = 0
    var committed = 0
    var rejected = 0
    /// Lines whose series and time an earlier line of the import already had (the last one wins).
    var duplicates = 0
    var phase = "importing"
    private var lastReport = ContinuousClock.now

    init(name: String) { self.name = name }

    var elapsedSeconds: Double {
        let elapsed = ContinuousClock.now - started
        return elapsed.inSeconds
    }

    func report(force: Bool = false) {
        guard force || !isTerminal || ContinuousClock.now - lastReport >= .milliseconds(250) else { return }
        lastReport = .now
        let rate = Double(samples) / max(0.001, elapsedSeconds)
        let text = "\(phase) \(name): \(lines) lines, \(committed) samples committed, \(rejected) rejected, \(Int(rate)) samples/s"
        if isTerminal {
            Terminal.write("\r\u{1B}[K" + text, to: STDERR_FILENO)
        } else {
            Terminal.printError(text)
        }
    }

    func clearLine() {
        if isTerminal { Terminal.write("\r\u{1B}[K", to: STDERR_FILENO) }
    }

    func finish(series: Int) {
        clearLine()
        let seconds = elapsedSeconds
        Terminal.printError("imported \(committed - duplicates) samples into \(series) series from \(lines) lines in \(seconds.fixed(1)) s "
                            + "(\((Double(committed) / max(0.001, seconds)).fixed(0)) samples/s); \(rejected) lines rejected; "
                            + "\(duplicates) duplicate times (the last line wins)")
    }
}
