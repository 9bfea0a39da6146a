import Metrics
import Synchronization
import VigilCore

/// A value a Sparkplug message carried, with the series its birth named.
struct SparkplugSample: Sendable {
    let series: SeriesKey
    let value: Double
    let timestampMs: Int64?
    let unit: String?
}

/// A message Vigil publishes because of one it received (a rebirth request).
public struct SparkplugCommand: Sendable, Equatable {
    public let topic: String
    public let payload: [UInt8]
}

/// An edge node or device that was born or died: `name` is `<group>/<node>[/<device>]`.
public struct SparkplugStateChange: Sendable, Equatable {
    public let name: String
    public let online: Bool
    public let detail: String
}

/// What one Sparkplug message gave.
struct SparkplugResult: Sendable {
    var samples: [SparkplugSample] = []
    var rejects: [PayloadReject] = []
    var commands: [SparkplugCommand] = []
    var changes: [SparkplugStateChange] = []
}

/// The host application's view of every edge node on one subscription: which nodes and devices
/// are online, their session (`bdSeq`) and message sequence (`seq`), and the metrics their births
/// defined, by alias and by name, each with its series key already built. Used from the broker
/// connection's thread; the lock is uncontended.
final class SparkplugSessions: Sendable {
    struct Definition: Sendable {
        let series: SeriesKey
        let datatype: UInt32
        let unit: String?
    }

    struct MetricTable: Sendable {
        var byAlias: [UInt64: Definition] = [:]
        var byName: [String: Definition] = [:]
    }

    struct Device: Sendable {
        var online = false
        var metrics = MetricTable()
    }

    struct Node: Sendable {
        var online = false
        var bdSeq: UInt64?
        var seq: UInt64?
        var metrics = MetricTable()
        var devices: [String: Device] = [:]
        var lastRebirthMs: Int64?
    }

    struct NodeID: Hashable, Sendable {
        let group: String
        let node: String
    }

    struct State: Sendable {
        var nodes: [NodeID: Node] = [:]
        /// Nodes plus devices, against `maxNodes`.
        var tracked = 0
    }

    let options: SparkplugOptions
    /// Names series: the subscription's metric prefix and static labels.
    let naming: SparkplugNaming
    /// For `vigil mapping explain`: a message is read as if its node and device were born, so
    /// one payload can be explained on its own.
    let assumeBorn: Bool
    private let state = Mutex(State())
    private let gaps: Counter
    private let rebirths: Counter
    private let messages: [SparkplugTopic.MessageType: Counter]

    init(options: SparkplugOptions, naming: SparkplugNaming, broker: String?, assumeBorn: Bool = false) {
        self.options = options
        self.naming = naming
        self.assumeBorn = assumeBorn
        let dimensions = broker.map { [("broker", $0)] } ?? []
        gaps = Counter(label: "vigil_sparkplug_sequence_gaps_total", dimensions: dimensions)
        rebirths = Counter(label: "vigil_sparkplug_rebirth_requests_total", dimensions: dimensions)
        messages = Dictionary(uniqueKeysWithValues: SparkplugTopic.MessageType.allCases.map {
            ($0, Counter(label: "vigil_sparkplug_messages_total", dimensions: dimensions + [("type", $0.rawValue)]))
        })
    }

    /// Online edge nodes and devices now (for status and tests).
    var onlineCount: Int {
        state.withLock { state in
            state.nodes.values.reduce(0) { $0 + ($1.online ? 1 + $1.devices.values.count(where: \.online) : 0) }
        }
    }

    func handle(_ topic: SparkplugTopic, _ payload: Org_Eclipse_Tahu_Protobuf_Payload, receivedMs: Int64) -> SparkplugResult {
        messages[topic.type]?.increment()
        var result = SparkplugResult()
        let id = NodeID(group: topic.group, node: topic.node)
        state.withLock { state in
            switch topic.type {
            case .state, .ncmd, .dcmd:
                return  // commands and other hosts' state: nothing to ingest
            case .nbirth:
                guard var node = existingOrNew(id, &state) else {
                    result.rejects = Array(repeating: .sparkplugTooManyNodes, count: max(1, payload.metrics.count))
                    return
                }
                node.online = true
                node.bdSeq = SparkplugValue.sessionNumber(payload.metrics)
                node.seq = payload.hasSeq ? payload.seq : nil
                var table = define(payload.metrics, group: topic.group, node: topic.node, device: nil)
                // A new session: every device publishes its DBIRTH again after the NBIRTH.
                for name in node.devices.keys { node.devices[name]?.online = false }
                read(payload, table: &table, device: nil, into: &result, node: &node, id: id, receivedMs: receivedMs)
                node.metrics = table
                result.changes.append(SparkplugStateChange(
                    name: "\(topic.group)/\(topic.node)", online: true,
                    detail: "NBIRTH" + (node.bdSeq.map { ", bdSeq \($0)" } ?? "")))
                state.nodes[id] = node
            case .ndeath:
                guard var node = state.nodes[id] else { return }
                let session = SparkplugValue.sessionNumber(payload.metrics)
                // A will from an earlier session can arrive after the new birth: not this session's death.
                if let session, let current = node.bdSeq, session != current { return }
                if node.online {
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)", online: false,
                                                               detail: "NDEATH" + (session.map { ", bdSeq \($0)" } ?? "")))
                }
                node.online = false
                node.seq = nil
                for (name, device) in node.devices where device.online {
                    node.devices[name]?.online = false
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: false,
                                                               detail: "its edge node died"))
                }
                state.nodes[id] = node
            case .ndata:
                guard var node = bornNode(id, &state, payload: payload, result: &result, receivedMs: receivedMs) else { return }
                checkSequence(payload, &node, id: id, result: &result, receivedMs: receivedMs)
                var table = node.metrics
                read(payload, table: &table, device: nil, into: &result, node: &node, id: id, receivedMs: receivedMs)
                node.metrics = table
                state.nodes[id] = node
            case .dbirth:
                guard var node = bornNode(id, &state, payload: payload, result: &result, receivedMs: receivedMs),
                      let name = topic.device else { return }
                checkSequence(payload, &node, id: id, result: &result, receivedMs: receivedMs)
                if node.devices[name] == nil {
                    guard state.tracked < options.maxNodes else {
                        result.rejects = Array(repeating: .sparkplugTooManyNodes, count: max(1, payload.metrics.count))
                        state.nodes[id] = node
                        return
                    }
                    state.tracked += 1
                }
                var table = define(payload.metrics, group: topic.group, node: topic.node, device: name)
                read(payload, table: &table, device: name, into: &result, node: &node, id: id, receivedMs: receivedMs)
                node.devices[name] = Device(online: true, metrics: table)
                result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: true, detail: "DBIRTH"))
                state.nodes[id] = node
            case .ddeath:
                guard var node = state.nodes[id], node.online || assumeBorn, let name = topic.device else { return }
                checkSequence(payload, &node, id: id, result: &result, receivedMs: receivedMs)
                if node.devices[name]?.online == true {
                    node.devices[name]?.online = false
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: false, detail: "DDEATH"))
                }
                state.nodes[id] = node
            case .ddata:
                guard var node = bornNode(id, &state, payload: payload, result: &result, receivedMs: receivedMs),
                      let name = topic.device else { return }
                checkSequence(payload, &node, id: id, result: &result, receivedMs: receivedMs)
                if node.devices[name]?.online != true, assumeBorn {
                    node.devices[name] = Device(online: true)
                }
                guard let device = node.devices[name], device.online else {
                    result.rejects += Array(repeating: .sparkplugNoBirth, count: max(1, payload.metrics.count))
                    requestRebirth(id, &node, result: &result, receivedMs: receivedMs)
                    state.nodes[id] = node
                    return
                }
                var table = device.metrics
                read(payload, table: &table, device: name, into: &result, node: &node, id: id, receivedMs: receivedMs)
                node.devices[name]?.metrics = table
                state.nodes[id] = node
            }
        }
        return result
    }

    // MARK: - Births and deaths

    private func existingOrNew(_ id: NodeID, _ state: inout State) -> Node? {
        if let node = state.nodes[id] { return node }
        guard state.tracked < options.maxNodes else { return nil }
        state.tracked += 1
        return Node()
    }

    /// The node if it is online; else its data is refused and it is asked to be born again.
    private func bornNode(_ id: NodeID, _ state: inout State, payload: Org_Eclipse_Tahu_Protobuf_Payload,
                          result: inout SparkplugResult, receivedMs: Int64) -> Node? {
        if assumeBorn, state.nodes[id]?.online != true {
            var node = state.nodes[id] ?? Node()
            node.online = true
            return node
        }
        guard var node = existingOrNew(id, &state) else {
            result.rejects = Array(repeating: .sparkplugTooManyNodes, count: max(1, payload.metrics.count))
            return nil
        }
        guard node.online else {
            result.rejects = Array(repeating: .sparkplugNoBirth, count: max(1, payload.metrics.count))
            requestRebirth(id, &node, result: &result, receivedMs: receivedMs)
            state.nodes[id] = node
            return nil
        }
        return node
    }

    /// The metrics a birth defines: series keys built once here, used by every data message.
    private func define(_ metrics: [SparkplugMetric], group: String, node: String, device: String?) -> MetricTable {
        var table = MetricTable()
        for metric in metrics where metric.hasName && !Self.isProtocolMetric(metric.name) {
            guard let series = naming.series(metric.name, group: group, node: node, device: device) else { continue }
            let definition = Definition(series: series, datatype: metric.datatype, unit: SparkplugValue.unit(metric))
            if metric.hasAlias { table.byAlias[metric.alias] = definition }
            table.byName[metric.name] = definition
        }
        return table
    }

    /// Names taken from data messages (not in the birth) remembered per node or device; a
    /// publisher inventing names cannot grow the table beyond this.
    static let maxLearnedNames = 10_000

    /// `bdSeq` and the `Node Control/…` metrics are the protocol's own, not measurements.
    static func isProtocolMetric(_ name: String) -> Bool {
        name == "bdSeq" || name.hasPrefix("Node Control/") || name.hasPrefix("Device Control/")
    }

    // MARK: - Values

    /// Every metric of a message to a sample or a reason. A metric named but not in the birth is
    /// taken by its name (and remembered in `table`); one known only by an unknown alias cannot be
    /// named, so it is refused and the node is asked for its births again.
    private func read(_ payload: Org_Eclipse_Tahu_Protobuf_Payload, table: inout MetricTable, device: String?,
                      into result: inout SparkplugResult, node: inout Node, id: NodeID, receivedMs: Int64) {
        let payloadTime = payload.hasTimestamp ? Int64(clamping: payload.timestamp) : nil
        result.samples.reserveCapacity(result.samples.count + payload.metrics.count)
        for metric in payload.metrics {
            if metric.hasName, Self.isProtocolMetric(metric.name) { continue }
            var definition = metric.hasAlias ? table.byAlias[metric.alias] : nil
            if definition == nil, metric.hasName {
                definition = table.byName[metric.name]
                if definition == nil, let series = naming.series(metric.name, group: id.group, node: id.node, device: device) {
                    let learned = Definition(series: series, datatype: metric.datatype, unit: SparkplugValue.unit(metric))
                    if table.byName.count < Self.maxLearnedNames { table.byName[metric.name] = learned }
                    definition = learned
                }
            }
            guard let definition else {
                result.rejects.append(metric.hasName ? .invalidMetricName : .sparkplugUnknownAlias)
                if !metric.hasName { requestRebirth(id, &node, result: &result, receivedMs: receivedMs) }
                continue
            }
            if metric.isTransient {
                result.rejects.append(.transientValue)
                continue
            }
            let datatype = metric.hasDatatype && metric.datatype != 0 ? metric.datatype
                : definition.datatype != 0 ? definition.datatype : nil
            switch SparkplugValue.number(metric, datatype: datatype) {
            case .failure(let reason):
                result.rejects.append(reason)
            case .success(let value):
                result.samples.append(SparkplugSample(
                    series: definition.series, value: value,
                    timestampMs: metric.hasTimestamp ? Int64(clamping: metric.timestamp) : payloadTime,
                    unit: SparkplugValue.unit(metric) ?? definition.unit))
            }
        }
    }

    // MARK: - Sequence and rebirth

    /// Every message of a session after the NBIRTH carries the next `seq` (mod 256); a skip means
    /// messages were lost or reordered, and what the host knows may be stale: ask for a rebirth.
    private func checkSequence(_ payload: Org_Eclipse_Tahu_Protobuf_Payload, _ node: inout Node, id: NodeID,
                               result: inout SparkplugResult, receivedMs: Int64) {
        guard payload.hasSeq else { return }
        defer { node.seq = payload.seq }
        guard let last = node.seq, payload.seq != (last + 1) % 256 else { return }
        gaps.increment()
        requestRebirth(id, &node, result: &result, receivedMs: receivedMs)
    }

    private func requestRebirth(_ id: NodeID, _ node: inout Node, result: inout SparkplugResult, receivedMs: Int64) {
        guard options.rebirth, !assumeBorn else { return }
        if let last = node.lastRebirthMs, receivedMs &- last < options.rebirthInterval.milliseconds { return }
        node.lastRebirthMs = receivedMs
        rebirths.increment()
        result.commands.append(SparkplugCommand(topic: SparkplugTopic.nodeCommand(group: id.group, node: id.node),
                                                payload: SparkplugCommands.rebirth(nowMs: receivedMs)))
    }
}

/// How a Sparkplug metric becomes a series: its name (the subscription's `metric` in front, if
/// set), sanitized; labels `group`, `node`, `device` (device metrics only) and the subscription's
/// static labels (which win).
struct SparkplugNaming: Sendable {
    let prefix: String?
    let labels: Labels

    func series(_ name: String, group: String, node: String, device: String?) -> SeriesKey? {
        guard let metric = NameRules.sanitizeMetricName(prefix.map { "\($0)_\(name)" } ?? name) else { return nil }
        var own = Labels([("group", group), ("node", node)])
        if let device { own = own.merging(Labels([("device", device)])) }
        return SeriesKey(metric: metric, labels: own.merging(labels))
    }
}
