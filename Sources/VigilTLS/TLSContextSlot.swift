import Synchronization

/// The listener's current TLS context. New connections take the newest; a reload (SIGHUP, a
/// renewed certificate) swaps it without touching connections already made, which keep the
/// context they started with until they close.
public final class TLSContextSlot: Sendable {
    private let current: Mutex<TLSServerContext>

    public init(_ context: TLSServerContext) {
        current = Mutex(context)
    }

    public var context: TLSServerContext { current.withLock { $0 } }

    public func replace(with context: TLSServerContext) {
        current.withLock { $0 = context }
    }
}
