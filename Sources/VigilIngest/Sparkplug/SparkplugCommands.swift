import SwiftProtobuf

/// What Vigil publishes as a Sparkplug host application.
enum SparkplugCommands {
    /// An NCMD asking an edge node to publish NBIRTH and all its DBIRTHs again (Sparkplug 3.0,
    /// 6.4.20: the Boolean metric `Node Control/Rebirth` set to true).
    static func rebirth(nowMs: Int64) -> [UInt8] {
        var metric = SparkplugMetric()
        metric.name = "Node Control/Rebirth"
        metric.timestamp = UInt64(max(0, nowMs))
        metric.datatype = SparkplugDataType.boolean.rawValue
        metric.booleanValue = true
        var payload = Org_Eclipse_Tahu_Protobuf_Payload()
        payload.timestamp = UInt64(max(0, nowMs))
        payload.metrics = [metric]
        // Serializing a message of set scalar fields cannot fail (no required fields, no Any).
        return (try? payload.serializedBytes()) ?? []
    }

    /// The host application's STATE payload (Sparkplug 3.0, 7.4): JSON, the same timestamp in the
    /// birth and in the will so an edge node can tell which session a death belongs to.
    static func hostState(online: Bool, timestampMs: Int64) -> String {
        "{\"online\":\(online),\"timestamp\":\(timestampMs)}"
    }
}
