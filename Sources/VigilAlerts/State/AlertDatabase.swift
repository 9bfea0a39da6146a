import FoundationEssentials
import VigilSQLite

/// `alerts.db` in the data directory (SQLite, WAL): alert instances, silences and the outbox.
///
/// A state change and the notifications it causes are written in one transaction, before anything
/// is sent: after a crash the outbox still holds what was not delivered, and the persisted state
/// says what was already queued, so nothing is sent twice by the engine and nothing is forgotten.
final class AlertDatabase {
    let db: SQLiteDatabase<AlertStateError>
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    struct OutboxEntry: Sendable {
        let id: Int64
        let notifier: String
        let alert: String
        let reason: String
        let body: [UInt8]
        let createdMs: Int64
        let attempts: Int
        let nextAttemptMs: Int64
    }

    struct Queued: Sendable {
        let notifier: String
        let alert: String
        let reason: String
        let body: [UInt8]
        let createdMs: Int64
    }

    init(path: String) throws(AlertStateError) {
        db = try SQLiteDatabase<AlertStateError>(path: path)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        try db.execute("""
            CREATE TABLE IF NOT EXISTS alert_instances (rule TEXT NOT NULL, series TEXT NOT NULL, data BLOB NOT NULL,
                PRIMARY KEY (rule, series));
            CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, data BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, notifier TEXT NOT NULL,
                alert TEXT NOT NULL, reason TEXT NOT NULL, body BLOB NOT NULL, created_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT);
            CREATE INDEX IF NOT EXISTS outbox_by_notifier ON outbox (notifier, id);
            """)
    }

    // MARK: instances

    func loadInstances() throws(AlertStateError) -> [AlertInstance] { try loadAll(AlertInstance.self, from: "alert_instances") }

    /// Every row's JSON `data` of a table; a row that no longer decodes (written by a newer
    /// version, or damaged) is skipped rather than stopping the start.
    private func loadAll<T: Decodable>(_ type: T.Type, from table: String) throws(AlertStateError) -> [T] {
        let statement = try db.prepare("SELECT data FROM \(table)")
        defer { statement.reset() }
        var out: [T] = []
        while try statement.step() {
            if let value = try? decoder.decode(T.self, from: Data(statement.blob(0))) { out.append(value) }
        }
        return out
    }

    /// Saves and forgets instances, queues notifications and saves or deletes silences, atomically.
    func commit(_ writes: AlertWrites) throws(AlertStateError) {
        guard !writes.isEmpty else { return }
        try db.transaction { () throws(AlertStateError) in
            let upsert = try db.cached("INSERT INTO alert_instances (rule, series, data) VALUES (?, ?, ?) "
                                       + "ON CONFLICT (rule, series) DO UPDATE SET data = excluded.data")
            let delete = try db.cached("DELETE FROM alert_instances WHERE rule = ? AND series = ?")
            for (key, instance) in writes.instances {
                if let instance {
                    guard let data = try? encoder.encode(instance) else { continue }
                    try upsert.run([.text(key.rule), .text(key.series), .blob(Array(data))])
                } else {
                    try delete.run([.text(key.rule), .text(key.series)])
                }
            }
            // A repeat supersedes an undelivered repeat of the same alert to the same notifier, so a
            // receiver that is down for days does not face a pile of identical reminders.
            let supersede = try db.cached("DELETE FROM outbox WHERE notifier = ? AND alert = ? AND reason = 'repeat'")
            let insert = try db.cached("INSERT INTO outbox (notifier, alert, reason, body, created_ms, next_attempt_ms) "
                                       + "VALUES (?, ?, ?, ?, ?, ?)")
            for item in writes.enqueue {
                if item.reason == "repeat" { try supersede.run([.text(item.notifier), .text(item.alert)]) }
                try insert.run([.text(item.notifier), .text(item.alert), .text(item.reason), .blob(item.body),
                                .integer(item.createdMs), .integer(item.createdMs)])
            }
            for (id, silence) in writes.silences {
                if let silence {
                    try saveSilence(silence)
                } else {
                    try db.cached("DELETE FROM silences WHERE id = ?").run([.text(id)])
                }
            }
        }
    }

    // MARK: outbox

    /// The oldest undelivered notification for a notifier (delivery is in order: head of line).
    func head(notifier: String) throws(AlertStateError) -> OutboxEntry? {
        let statement = try db.cached("SELECT id, alert, reason, body, created_ms, attempts, next_attempt_ms FROM outbox "
                                      + "WHERE notifier = ? ORDER BY id LIMIT 1").bind([.text(notifier)])
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return OutboxEntry(id: statement.int64(0), notifier: notifier, alert: statement.text(1), reason: statement.text(2),
                           body: statement.blob(3), createdMs: statement.int64(4), attempts: Int(statement.int64(5)),
                           nextAttemptMs: statement.int64(6))
    }

    func delivered(id: Int64) throws(AlertStateError) {
        try db.cached("DELETE FROM outbox WHERE id = ?").run([.integer(id)])
    }

    func failed(id: Int64, error: String, nextAttemptMs: Int64) throws(AlertStateError) {
        try db.cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?")
            .run([.integer(nextAttemptMs), .text(String(error.prefix(500))), .integer(id)])
    }

    /// Depth and oldest creation time per notifier.
    func outboxStatistics() throws(AlertStateError) -> [String: (depth: Int, oldestMs: Int64)] {
        let statement = try db.cached("SELECT notifier, COUNT(*), MIN(created_ms) FROM outbox GROUP BY notifier")
        defer { statement.reset() }
        var out: [String: (Int, Int64)] = [:]
        while try statement.step() { out[statement.text(0)] = (Int(statement.int64(1)), statement.int64(2)) }
        return out
    }

    /// Drops queued notifications for notifiers no longer configured (after a reload), returning how many.
    func dropOutbox(except notifiers: [String]) throws(AlertStateError) -> Int {
        let names = notifiers.map { "'\($0.replacing("'", with: "''"))'" }.joined(separator: ",")
        try db.execute("DELETE FROM outbox WHERE notifier NOT IN (\(names.isEmpty ? "''" : names))")
        return db.changes
    }

    // MARK: silences

    func loadSilences() throws(AlertStateError) -> [Silence] { try loadAll(Silence.self, from: "silences") }

    private func saveSilence(_ silence: Silence) throws(AlertStateError) {
        guard let data = try? encoder.encode(silence) else { return }
        try db.cached("INSERT INTO silences (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data")
            .run([.text(silence.id), .blob(Array(data))])
    }
}
