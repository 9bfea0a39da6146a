import Synchronization

/// The live state of one ingest source (an MQTT broker connection, later a serial line or a
/// Modbus bus), as `/readyz`, `/metrics` and `/api/v1/sources` report it.
public struct SourceStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case connecting, connected, disconnected, stopped
    }

    public let name: String
    public let kind: String
    public var state: State
    /// Human-readable detail of the last state change ("connection refused", …).
    public var detail: String
    public var lastMessageMs: Int64?
    public var messages: UInt64
    public var bytes: UInt64
    /// Times the liveness watchdog found the source connected but silent.
    public var silences: UInt64 = 0
    /// Forwarding endpoints: how far behind the store they are, in seconds and (estimated) samples.
    public var lagSeconds: Double?
    public var lagSamples: Int?
    /// Whether `/readyz` waits for this source to be connected. Ingest sources do; forwarding
    /// endpoints do not (the site is served while the central database is away).
    public let decidesReadiness: Bool

    public init(name: String, kind: String, decidesReadiness: Bool = true) {
        self.name = name
        self.kind = kind
        self.decidesReadiness = decidesReadiness
        self.state = .connecting
        self.detail = ""
        self.messages = 0
        self.bytes = 0
    }
}

/// Shared, thread-safe table of source states. Sources write, HTTP handlers read.
public final class SourceStatusBoard: Sendable {
    private let entries = Mutex([String: SourceStatus]())

    public init() {}

    public func register(name: String, kind: String, decidesReadiness: Bool = true) {
        entries.withLock { $0[name] = SourceStatus(name: name, kind: kind, decidesReadiness: decidesReadiness) }
        stateChanges.add(1, ordering: .relaxed)
    }

    public func update(_ name: String, _ change: (inout SourceStatus) -> Void) {
        entries.withLock { entries in
            guard var status = entries[name] else { return }
            change(&status)
            if let before = entries[name], before.state != status.state || before.detail != status.detail || before.silences != status.silences {
                stateChanges.add(1, ordering: .relaxed)
            }
            entries[name] = status
        }
    }

    /// Counts changes of any source's state, detail or silences (not of its message counters):
    /// a watcher of those (the live hub's `source` events) skips its comparison while it stands.
    public var stateVersion: Int { stateChanges.load(ordering: .relaxed) }
    private let stateChanges = Atomic<Int>(0)

    public func snapshot() -> [SourceStatus] {
        entries.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }
}
