import Hummingbird
import VigilCore
import VigilIngest

/// `/api/v1/sources` (every ingest source's state and counters) and `/api/v1/ingest/rejects` (the
/// last 100 rejected messages with their reasons), for the console and for operators.
enum IngestRoutes {
    static func add<Context: RequestContext>(to group: RouterGroup<Context>, board: SourceStatusBoard, rejects: IngestRejects) {
        group.get("sources") { _, _ in
            let ledger = rejects.ledger.snapshot()
            let items = board.snapshot().map { source in
                var fields = [
                    "\"name\":\"\(JSONText.escape(source.name))\"", "\"kind\":\"\(JSONText.escape(source.kind))\"",
                    "\"state\":\"\(source.state.rawValue)\"", "\"detail\":\"\(JSONText.escape(source.detail))\"",
                    "\"messages\":\(source.messages)", "\"bytes\":\(source.bytes)", "\"silences\":\(source.silences)",
                ]
                fields.append("\"last_message\":" + (source.lastMessageMs.map(QueryJSON.seconds) ?? "null"))
                if let lag = source.lagSeconds { fields.append("\"lag_seconds\":\(JSONText.number(lag))") }
                if let lag = source.lagSamples { fields.append("\"lag_samples\":\(lag)") }
                if source.decidesReadiness { fields.append("\"ledger\":" + ledgerJSON(ledger[source.name] ?? IngestLedger.Entry())) }
                return "{" + fields.joined(separator: ",") + "}"
            }
            return QueryRoutes.json(QueryJSON.success("[" + items.joined(separator: ",") + "]"))
        }
        group.get("ingest/ledger") { _, _ in
            let items = rejects.ledger.snapshot().sorted { $0.key < $1.key }
                .map { "\"\(JSONText.escape($0.key))\":" + ledgerJSON($0.value) }
            return QueryRoutes.json(QueryJSON.success("{" + items.joined(separator: ",") + "}"))
        }
        group.get("ingest/rejects") { _, _ in
            let items = rejects.recent().map { record in
                "{\"time\":\(QueryJSON.seconds(record.timeMs)),\"source\":\"\(JSONText.escape(record.source))\","
                    + "\"reason\":\"\(record.reason.rawValue)\",\"explanation\":\"\(JSONText.escape(record.reason.explanation))\","
                    + "\"topic\":\"\(JSONText.escape(record.topic))\",\"payload\":\"\(JSONText.escape(record.preview))\"}"
            }
            return QueryRoutes.json(QueryJSON.success("[" + items.joined(separator: ",") + "]"))
        }
    }

    /// `{"received":…,"stored":…,"duplicate":…,"refused":{reason: n},"dropped":{reason: n},"in_flight":…}`
    static func ledgerJSON(_ entry: IngestLedger.Entry) -> String {
        func counts(_ table: [String: UInt64]) -> String {
            "{" + table.sorted { $0.key < $1.key }.map { "\"\(JSONText.escape($0.key))\":\($0.value)" }.joined(separator: ",") + "}"
        }
        return "{\"received\":\(entry.received),\"stored\":\(entry.stored),\"duplicate\":\(entry.duplicate),"
            + "\"refused\":\(counts(entry.refused)),\"dropped\":\(counts(entry.dropped)),\"in_flight\":\(entry.inFlight)}"
    }
}
