import ArgumentParser
import FoundationEssentials
import VigilCore
import VigilServer
import VigilStore

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Query the metric store directly (read-only, safe while the gateway runs).",
        discussion: """
            Without --step, prints the raw samples. With --step, one value per step per series,
            aggregated over the step with --agg (avg, min, max, sum, count, last, rate), and
            combined across series sharing the --by labels. --last prints each series' newest sample.
            Times: unix seconds, RFC 3339, `now`, or relative to now as in --start=-1h (write the
            `=`, or the value is taken for an option).

            Examples:
              vigil query --data-dir /var/lib/vigil 'temperature{site="a"}' --start=-1h
              vigil query --config /etc/vigil/vigil.yaml 'power' --start=-7d --step 1h --agg max --by site
              vigil query --data-dir /var/lib/vigil '{__name__=~"temp.*"}' --last --format json
            """)

    @OptionGroup var location: StoreLocation

    @Argument(help: ArgumentHelp("A series selector, as in Prometheus.", valueName: "selector"))
    var selector: String

    @Option(help: "Start of the range (default: 1 hour before --end).")
    var start: String?

    @Option(help: "End of the range (default: now).")
    var end: String?

    @Option(help: "Step between points, such as 1m or 1h (default: raw samples).")
    var step: String?

    @Option(help: "Aggregation per step: avg, min, max, sum, count, last, rate.")
    var agg: String?

    @Option(help: "Combine series by these labels (comma-separated; empty for all together).")
    var by: String?

    @Flag(help: "Print the newest sample of each series.")
    var last = false

    @Option(help: "table, csv or json.")
    var format: OutputFormat = .table

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    func run() throws {
        let parsed: SeriesSelector
        do { parsed = try SeriesSelector.parse(selector) } catch { Terminal.fail("vigil query: \(error)") }
        let store: MetricStore
        do { store = try location.openReadOnly() } catch { Terminal.fail("vigil query: \(error)") }
        let now = WallClock.nowMs()
        let endMs = try time(end, default: now, name: "--end", now: now)
        let startMs = try time(start, default: endMs - 3_600_000, name: "--start", now: now)
        var rows: [(labels: Labels, points: [(Int64, Double)])] = []
        do {
            if last {
                rows = try store.lastValues(parsed).map { ($0.series.labelsWithName, [($0.timestampMs, $0.value)]) }
            } else if step != nil || agg != nil || by != nil {
                let stepMs = try step.map { text in
                    guard let value = QueryParameters.parseStep(text) else { throw ValidationError("--step: expected a duration such as 1m") }
                    return value
                } ?? QueryParameters.defaultStep(start: startMs, end: endMs)
                guard let aggregation = QueryParameters.parseAggregation(agg ?? "avg") else {
                    throw ValidationError("--agg: expected one of \(RangeQuery.Aggregation.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let query = RangeQuery(selector: parsed, start: startMs, end: endMs, step: stepMs, aggregation: aggregation,
                                       groupBy: by.map(QueryParameters.parseGroupBy))
                rows = try store.query(query).map { ($0.labels, Array(zip($0.timestamps, $0.values))) }
            } else {
                rows = try store.read(parsed, from: startMs, to: endMs).map { samples in
                    for gap in samples.gaps {
                        Terminal.printError("warning: \(samples.series): data from \(gap.lowerBound) to \(gap.upperBound) ms is unreadable (corrupt chunk)")
                    }
                    return (samples.series.labelsWithName, Array(zip(samples.timestamps, samples.values)))
                }
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            Terminal.fail("vigil query: \(error)")
        }
        print(QueryCLIOutput.render(rows, format: format), terminator: "")
    }

    private func time(_ text: String?, default fallback: Int64, name: String, now: Int64) throws -> Int64 {
        guard let text else { return fallback }
        guard let value = QueryParameters.parseTime(text, nowMs: now) else {
            throw ValidationError("\(name): expected unix seconds, RFC 3339, now, or relative such as -1h")
        }
        return value
    }
}

enum QueryCLIOutput {
    /// The series a result row stands for: `__name__` is the metric, the rest are its labels.
    static func seriesKey(_ labels: Labels) -> SeriesKey {
        SeriesKey(metric: labels["__name__"] ?? "", labels: Labels(labels.filter { $0.name != "__name__" }.map { ($0.name, $0.value) }))
    }

    static func render(_ rows: [(labels: Labels, points: [(Int64, Double)])], format: QueryCommand.OutputFormat) -> String {
        var out = ""
        switch format {
        case .table:
            for row in rows {
                out += seriesKey(row.labels).description.ifEmpty("{}") + "\n"
                for (t, v) in row.points {
                    out += "  " + RFC3339.format(t) + "  \(v)\n"
                }
            }
            if rows.isEmpty { out = "no data\n" }
        case .csv:
            out = SampleCSV.header + "\n"
            for row in rows {
                let key = seriesKey(row.labels)
                for (t, v) in row.points { out += SampleCSV.line(key, t, v) + "\n" }
            }
        case .json:
            let series = rows.map { row in
                "{\"metric\":" + JSONText.labels(row.labels) + ",\"values\":["
                    + row.points.map { "[\($0.0),\(JSONText.number($0.1))]" }.joined(separator: ",") + "]}"
            }
            out = "[" + series.joined(separator: ",\n") + "]\n"
        }
        return out
    }
}

extension String {
    func ifEmpty(_ fallback: String) -> String { isEmpty ? fallback : self }
}
