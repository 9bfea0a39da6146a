import Logging
import ServiceLifecycle
import VigilCore

/// What every ingest source works through: the bus its readings go to, the status board it reports
/// its connection on, the reject ledger that counts what it refuses, and the shared normalizer.
public struct SourceContext: Sendable {
    public let bus: ReadingBus
    public let board: SourceStatusBoard
    public let rejects: IngestRejects
    public let normalizer: Normalizer

    public init(bus: ReadingBus, board: SourceStatusBoard, rejects: IngestRejects, normalizer: Normalizer) {
        self.bus = bus
        self.board = board
        self.rejects = rejects
        self.normalizer = normalizer
    }
}

/// An ingest source (an MQTT broker, a serial port, a Modbus bus) as a service: it appears on the
/// status board under `sourceName` while it runs and shows `stopped` once it has.
public protocol ReadingSource: Service {
    /// `mqtt/<name>`, `serial/<name>`, `modbus/<name>`: the `source` label and the board's key.
    var sourceName: String { get }
    /// `mqtt`, `serial` or `modbus`.
    static var kind: String { get }
    var context: SourceContext { get }
}

extension ReadingSource {
    var bus: ReadingBus { context.bus }
    var board: SourceStatusBoard { context.board }
    var rejects: IngestRejects { context.rejects }
    var normalizer: Normalizer { context.normalizer }

    /// Registers the source on the board, runs it until it returns, and marks it stopped.
    func registered(_ body: () async throws -> Void) async rethrows {
        board.register(name: sourceName, kind: Self.kind)
        defer { board.update(sourceName) { $0.state = .stopped } }
        try await body()
    }

    /// The source's logger with its own name attached (`<key>=<name>`).
    static func logger(_ logger: Logger, key: String, name: String) -> Logger {
        var logger = logger
        logger[metadataKey: key] = "\(name)"
        return logger
    }
}
