/// Sends one stored notification. Throwing `NotifierError.retry` keeps it at the head of the
/// outbox and tries again after a backoff; `NotifierError.rejected` drops it (the receiver will never
/// take it: retrying would block everything behind it).
public protocol AlertNotifier: Sendable {
    var name: String { get }
    func send(_ notification: AlertNotification, body: [UInt8]) async throws(NotifierError)
    func shutdown() async
}

public enum NotifierError: Error, CustomStringConvertible {
    case retry(String)
    case rejected(String)

    public var description: String {
        switch self {
        case .retry(let reason), .rejected(let reason): reason
        }
    }
}
