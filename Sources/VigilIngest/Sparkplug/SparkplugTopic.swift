/// A Sparkplug B topic: `spBv1.0/<group>/<type>/<edge node>[/<device>]`, or a host
/// application's `spBv1.0/STATE/<host id>` (Sparkplug 3.0, section 4.1).
struct SparkplugTopic: Equatable, Sendable {
    enum MessageType: String, CaseIterable, Sendable {
        case nbirth = "NBIRTH", ndeath = "NDEATH", ndata = "NDATA", ncmd = "NCMD"
        case dbirth = "DBIRTH", ddeath = "DDEATH", ddata = "DDATA", dcmd = "DCMD"
        /// Another host application's state (`spBv1.0/STATE/<host id>`): nothing to ingest.
        case state = "STATE"

        /// Device messages name a device after the node.
        var isDeviceMessage: Bool { self == .dbirth || self == .ddeath || self == .ddata || self == .dcmd }
    }

    static let namespace = "spBv1.0"

    let type: MessageType
    let group: String
    let node: String
    let device: String?
    /// The edge node, as the sessions key it.
    let id: SparkplugSessions.NodeID
    /// `type`'s position in `MessageType.allCases`.
    let typeIndex: Int

    init(type: MessageType, group: String, node: String, device: String?) {
        self.type = type
        self.group = group
        self.node = node
        self.device = device
        id = SparkplugSessions.NodeID(group: group, node: node)
        typeIndex = MessageType.allCases.firstIndex(of: type)!  // checked: allCases holds every case
    }

    static func == (a: SparkplugTopic, b: SparkplugTopic) -> Bool {
        a.type == b.type && a.group == b.group && a.node == b.node && a.device == b.device
    }

    /// nil when the topic is not a Sparkplug B topic of a known shape.
    static func parse(_ levels: [Substring]) -> SparkplugTopic? {
        guard levels.count >= 3, levels[0] == namespace else { return nil }
        if levels[1] == "STATE" {
            guard levels.count == 3, !levels[2].isEmpty else { return nil }
            return SparkplugTopic(type: .state, group: "", node: String(levels[2]), device: nil)
        }
        guard levels.count >= 4, let type = MessageType(rawValue: String(levels[2])), type != .state,
              levels.count == (type.isDeviceMessage ? 5 : 4),
              !levels[1].isEmpty, !levels[3].isEmpty else { return nil }
        let device = type.isDeviceMessage ? String(levels[4]) : nil
        if device?.isEmpty == true { return nil }
        return SparkplugTopic(type: type, group: String(levels[1]), node: String(levels[3]), device: device)
    }

    /// Where a host application sends an edge node its commands.
    static func nodeCommand(group: String, node: String) -> String { "\(namespace)/\(group)/NCMD/\(node)" }

    /// Where a host application publishes its own state (retained, and as its will).
    static func hostState(_ hostID: String) -> String { "\(namespace)/STATE/\(hostID)" }
}
