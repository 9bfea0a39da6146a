import CSQLite

/// Process-wide SQLite settings, made once before the first connection opens (SQLite reads them
/// when it initializes): see `vigil_sqlite3_no_bulk_page_cache`. If something else in the process
/// initialized SQLite first, the call fails harmlessly and the defaults stay.
private let sqliteConfigured: Void = { _ = vigil_sqlite3_no_bulk_page_cache() }()

/// The error type a user of `SQLiteDatabase` throws: SQLite's failures become it, so a caller's
/// typed `throws` needs no conversion at each call.
public protocol SQLiteFailure: Error {
    static func sqlite(_ message: String) -> Self
}

/// A minimal SQLite connection: prepared statements, typed binds and columns, transactions.
/// One connection is used by one thread at a time (its owner serializes access); SQLite's WAL mode
/// lets a writer and readers on separate connections work concurrently. `Failure` is the owner's
/// error type (the store's `StoreError`).
public final class SQLiteDatabase<Failure: SQLiteFailure> {
    let handle: OpaquePointer
    public let path: String
    /// Statements on hot paths, prepared once (close_v2 waits for them to be finalized).
    private var statementCache: [String: Statement<Failure>] = [:]

    public init(path: String, readOnly: Bool = false) throws(Failure) {
        _ = sqliteConfigured
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw Failure.sqlite("cannot open \(path): \(message)")
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    public func execute(_ sql: String) throws(Failure) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error \(rc)"
            sqlite3_free(error)
            throw Failure.sqlite("\(message) (in: \(sql.prefix(80)))")
        }
    }

    public func prepare(_ sql: String) throws(Failure) -> Statement<Failure> {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw Failure.sqlite("\(lastError) (in: \(sql.prefix(80)))") }
        return Statement(statement, database: self)
    }

    /// A prepared statement kept for reuse; `bind` resets it, so callers need not.
    public func cached(_ sql: String) throws(Failure) -> Statement<Failure> {
        if let statement = statementCache[sql] { return statement }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    public func transaction<T>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { Int(sqlite3_changes(handle)) }
    var lastError: String { String(cString: sqlite3_errmsg(handle)) }
    public var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement, reset after each use.
public final class Statement<Failure: SQLiteFailure> {
    let handle: OpaquePointer
    unowned let database: SQLiteDatabase<Failure>

    init(_ handle: OpaquePointer, database: SQLiteDatabase<Failure>) {
        self.handle = handle
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds parameters 1...n in order.
    @discardableResult
    public func bind(_ values: [SQLiteValue]) throws(Failure) -> Statement<Failure> {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v): rc = sqlite3_bind_text(handle, index, v, -1, sqliteTransient)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), sqliteTransient) }
            case .null: rc = sqlite3_bind_null(handle, index)
            }
            guard rc == SQLITE_OK else { throw Failure.sqlite("bind: \(database.lastError)") }
        }
        return self
    }

    /// Advances to the next row; false when done.
    public func step() throws(Failure) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw Failure.sqlite(database.lastError)
        }
    }

    /// Runs a statement that returns no rows.
    public func run(_ values: [SQLiteValue] = []) throws(Failure) {
        try bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: pointer)
    }
    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func reset() { sqlite3_reset(handle) }
}

public enum SQLiteValue {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// SQLITE_TRANSIENT: SQLite copies the bound buffer before the call returns.
private let sqliteTransient = unsafeBitCast(Int(-1), to: sqlite3_destructor_type.self)
