import VigilConfig

/// `http.ws`: the live stream's limits and heartbeat.
public struct LiveSettings: Sendable, Equatable {
    public var pingInterval: Duration = .seconds(15)
    public var maxConnections = 1000
    /// Largest message a client may send (frames and the reassembled message).
    public var maxMessageBytes = 64 * 1024
    /// Updates waiting for a slow client before they are conflated (latest per series).
    public var sendQueue = 1000
    /// Past this many conflated series waiting, the client is closed with 1013.
    public var sendQueueHardLimit = 20_000
    /// How many recent updates a stream keeps for `resume` after a reconnect.
    public var replayBuffer = 1000
    /// And at most this many bytes of them: a console subscribed to everything at 10 000
    /// readings/s makes 1.6 MB of updates a second, and 1000 of them per stream was what held a
    /// hundred consoles' memory (bench/footprint). Past it a resume gets `resync`.
    /// 64 KiB: a console following its screen (a few KB/s) can resume across 15 s and more;
    /// 256 KiB kept 100 such consoles at 25 MiB of rings more (bench/footprint, FOLLOW=30).
    public var replayBytes = 64 * 1024
    /// A connection that takes no writes for this long while updates wait is closed with 1013:
    /// a client that stopped reading must not hold its queue and the kernel's and TLS buffers
    /// (megabytes with every series subscribed) when its queue never reaches `sendQueueHardLimit`.
    public var stallTimeout: Duration = .seconds(30)
    /// How long a disconnected stream can be resumed.
    public var resumeWindow: Duration = .seconds(300)
    public var compression = true

    public init() {}

    /// Reads the `http.ws` section.
    package static func decode(_ wsObject: ConfigObject) throws(ConfigError) -> LiveSettings {
        var ws = LiveSettings()
        ws.pingInterval = try wsObject.duration("ping_interval", default: ws.pingInterval)
        guard ws.pingInterval >= .milliseconds(100) else {
            throw ConfigError("http.ws.ping_interval: must be at least 100ms", at: wsObject.location(of: "ping_interval"))
        }
        ws.maxConnections = try wsObject.int("max_connections", default: ws.maxConnections, in: 1...1_000_000)
        ws.maxMessageBytes = Int(try wsObject.byteSize("max_message") ?? Int64(ws.maxMessageBytes))
        guard ws.maxMessageBytes >= 1024, ws.maxMessageBytes <= 64 << 20 else {
            throw ConfigError("http.ws.max_message: must be between 1KiB and 64MiB", at: wsObject.location(of: "max_message"))
        }
        ws.sendQueue = try wsObject.int("send_queue", default: ws.sendQueue, in: 10...1_000_000)
        ws.sendQueueHardLimit = try wsObject.int("send_queue_limit", default: max(ws.sendQueueHardLimit, ws.sendQueue), in: ws.sendQueue...10_000_000)
        ws.replayBuffer = try wsObject.int("replay_buffer", default: ws.replayBuffer, in: 0...1_000_000)
        ws.replayBytes = Int(try wsObject.byteSize("replay_bytes") ?? Int64(ws.replayBytes))
        guard ws.replayBytes >= 0, ws.replayBytes <= 1 << 30 else {
            throw ConfigError("http.ws.replay_bytes: must be between 0 and 1GiB", at: wsObject.location(of: "replay_bytes"))
        }
        ws.resumeWindow = try wsObject.duration("resume_window", default: ws.resumeWindow)
        ws.stallTimeout = try wsObject.duration("stall_timeout", default: ws.stallTimeout)
        guard ws.stallTimeout >= .seconds(1) else {
            throw ConfigError("http.ws.stall_timeout: must be at least 1s", at: wsObject.location(of: "stall_timeout"))
        }
        ws.compression = try wsObject.bool("compression", default: true)
        try wsObject.finish()
        return ws
    }
}
