import VigilSQLite

/// Errors from the store, with what to do where that is known.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case database(String)
    case invalidSelector(String)
    case readOnly
    /// A query stopped by its budget (timeout, sample limit, cancellation); the text says which.
    case queryAborted(QueryBudget.Reason, String)

    public var description: String {
        switch self {
        case .queryAborted(_, let message): message
        case .database(let message): "store: \(message)"
        case .invalidSelector(let message): "invalid selector: \(message)"
        case .readOnly: "store: opened read-only"
        }
    }
}

extension StoreError: SQLiteFailure {
    public static func sqlite(_ message: String) -> StoreError { .database(message) }
}

/// The store's SQLite connection and statements: failures are `StoreError.database`.
public typealias StoreDatabase = SQLiteDatabase<StoreError>
public typealias StoreStatement = Statement<StoreError>
