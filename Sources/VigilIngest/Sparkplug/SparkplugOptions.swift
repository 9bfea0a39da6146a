import VigilConfig
import VigilCore

/// How a `format: sparkplug` subscription behaves as a Sparkplug B host application.
public struct SparkplugOptions: Sendable, Equatable {
    /// Ask an edge node to publish its births again (NCMD `Node Control/Rebirth`) when its
    /// sequence numbers skip, it sends data before its birth, or it uses an alias its birth did
    /// not define. Off for read-only deployments that must never publish to the plant's nodes.
    public var rebirth = true
    /// At most one rebirth request per edge node in this interval.
    public var rebirthInterval: Duration = .seconds(30)
    /// How long a skipped sequence number is waited for (messages overtaking each other) before
    /// it counts as lost.
    public var reorderTimeout: Duration = .seconds(2)
    /// Publish `spBv1.0/STATE/<host_id>` (retained, and as the connection's will) so edge nodes
    /// that wait for their primary host application start publishing. nil: no STATE.
    public var hostID: String?
    /// Larger payloads are refused (`payload_too_large`) before decoding.
    public var maxPayloadBytes = 4 << 20
    /// Edge nodes and devices tracked per broker connection; births beyond it are refused
    /// (`sparkplug_too_many_nodes`) so a runaway publisher cannot grow the gateway without bound.
    public var maxNodes = 20_000

    public init() {}

    static func decode(_ object: ConfigObject?) throws(ConfigError) -> SparkplugOptions {
        var options = SparkplugOptions()
        guard let object else { return options }
        options.rebirth = try object.bool("rebirth", default: true)
        options.rebirthInterval = try object.duration("rebirth_interval", default: .seconds(30))
        guard options.rebirthInterval >= .seconds(1) else {
            throw ConfigError("\(object.qualified("rebirth_interval")): must be at least 1s", at: object.location(of: "rebirth_interval"))
        }
        options.reorderTimeout = try object.duration("reorder_timeout", default: .seconds(2))
        if let host = try object.optionalString("host_id") {
            // A topic level: no wildcards, no separators (Sparkplug 3.0, 4.1.1).
            guard !host.isEmpty, !host.contains(where: { "/+#".contains($0) }) else {
                throw ConfigError("\(object.qualified("host_id")): '\(host)' cannot be a topic level (no '/', '+' or '#')",
                                  at: object.location(of: "host_id"))
            }
            options.hostID = host
        }
        if let bytes = try object.byteSize("max_payload") {
            guard bytes >= 1024, bytes <= 256 << 20 else {
                throw ConfigError("\(object.qualified("max_payload")): between 1KiB and 256MiB", at: object.location(of: "max_payload"))
            }
            options.maxPayloadBytes = Int(bytes)
        }
        options.maxNodes = try object.int("max_nodes", default: 20_000, in: 1...1_000_000)
        try object.finish()
        return options
    }
}
