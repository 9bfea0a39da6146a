import VigilSQLite

/// A failure of `alerts.db` (open, read, write): SQLite's message. The alert state has its own
/// error type; it shares the SQLite wrapper with the store, not the store's errors.
public struct AlertStateError: SQLiteFailure, CustomStringConvertible, Sendable {
    public let description: String

    public static func sqlite(_ message: String) -> AlertStateError { AlertStateError(description: message) }
}
