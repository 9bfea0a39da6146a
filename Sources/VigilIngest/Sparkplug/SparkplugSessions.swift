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
    /// Every metric of `payload` refused for one reason (at least one: an empty message counts).
    mutating func refuseAll(_ reason: PayloadReject, _ payload: Org_Eclipse_Tahu_Protobuf_Payload) {
        rejects = Array(repeating: reason, count: max(1, payload.metrics.count))
    }

    /// Why a death certificate was not taken (a session number that is not the current one).
    var notice: String?
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

    /// Aliases are usually numbered from 0 or 1 up: those index an array (a data message looks
    /// up every metric's alias, and hashing each was a tenth of its time). The array grows only
    /// while it stays about as long as the entries it holds; other aliases go to a dictionary.
    struct AliasTable: Sendable {
        private var dense: [Definition?] = []
        private var sparse: [UInt64: Definition] = [:]
        private var count = 0

        subscript(alias: UInt64) -> Definition? {
            get {
                if alias < UInt64(dense.count), let definition = dense[Int(alias)] { return definition }
                return sparse.isEmpty ? nil : sparse[alias]
            }
            set {
                if self[alias] == nil, newValue != nil { count += 1 } else if self[alias] != nil, newValue == nil { count -= 1 }
                if alias < UInt64(dense.count) {
                    dense[Int(alias)] = newValue
                    if !sparse.isEmpty { sparse[alias] = nil }
                } else if newValue != nil, alias <= UInt64(count) * 2 + 64 {
                    dense += Array(repeating: nil, count: Int(alias) + 1 - dense.count)
                    dense[Int(alias)] = newValue
                } else {
                    sparse[alias] = newValue
                }
            }
        }
    }

    struct MetricTable: Sendable {
        var byAlias = AliasTable()
        var byName: [String: Definition] = [:]
        /// The last path element of birth names (`DATA/speed` → `speed`) where it is unique: some
        /// edge nodes (mqtt-spb-wrapper) prefix names in births only, and send data by the bare name.
        var byLeaf: [String: Definition] = [:]

        func lookup(name: String) -> Definition? { byName[name] ?? byLeaf[name] }
    }

    /// A class for the same reason as `Node`: DDATA finds its device with one lookup and reads
    /// its table in place.
    final class Device {
        var online: Bool
        var metrics: MetricTable
        /// Offline because its node died (not by its own DDEATH).
        var diedWithNode = false

        init(online: Bool, metrics: MetricTable = MetricTable()) {
            self.online = online
            self.metrics = metrics
        }
    }

    /// A class, changed in place under the lock: a struct in the dictionary was copied out and
    /// written back for every message.
    final class Node {
        var online = false
        var bdSeq: UInt64?
        var seq: UInt64?
        var metrics = MetricTable()
        var devices: [String: Device] = [:]
        var lastRebirthMs: Int64?
        /// Died by an NDEATH whose bdSeq was not its birth's: messages of the session revive it.
        var looseDeath = false
        /// Sequence numbers seen while the node was not born (DBIRTHs ahead of their NBIRTH).
        var earlySeqs: Set<UInt64> = []
        /// Numbers skipped by a jump ahead, and since when: a gap once the reorder timeout passes
        /// without them arriving.
        var missing: Set<UInt64> = []
        var missingSinceMs: Int64?

        init() {}
    }

    /// Parsed with its topic (and cached with it), so its hash is computed once per topic rather
    /// than per message.
    struct NodeID: Hashable, Sendable {
        let group: String
        let node: String
        private let hashCode: Int

        init(group: String, node: String) {
            self.group = group
            self.node = node
            var hasher = Hasher()
            hasher.combine(group)
            hasher.combine(node)
            hashCode = hasher.finalize()
        }

        static func == (a: NodeID, b: NodeID) -> Bool { a.hashCode == b.hashCode && a.group == b.group && a.node == b.node }
        func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }
    }

    struct State {
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
    /// Parsed topics: splitting a topic into its levels cost a fifth of a message's time.
    private let topics = Mutex([String: SparkplugTopic]())
    private let gaps: Counter
    private let rebirths: Counter
    private let mismatchedDeaths: Counter
    /// By `SparkplugTopic.typeIndex`.
    private let messages: [Counter]

    init(options: SparkplugOptions, naming: SparkplugNaming, broker: String?, assumeBorn: Bool = false) {
        self.options = options
        self.naming = naming
        self.assumeBorn = assumeBorn
        let dimensions = broker.map { [("broker", $0)] } ?? []
        gaps = Counter(label: "vigil_sparkplug_sequence_gaps_total", dimensions: dimensions)
        rebirths = Counter(label: "vigil_sparkplug_rebirth_requests_total", dimensions: dimensions)
        mismatchedDeaths = Counter(label: "vigil_sparkplug_mismatched_deaths_total", dimensions: dimensions)
        messages = SparkplugTopic.MessageType.allCases.map {
            Counter(label: "vigil_sparkplug_messages_total", dimensions: dimensions + [("type", $0.rawValue)])
        }
    }

    /// Online edge nodes and devices now (for status and tests).
    var onlineCount: Int {
        state.withLock { state in
            state.nodes.values.reduce(0) { $0 + ($1.online ? 1 + $1.devices.values.count(where: \.online) : 0) }
        }
    }

    /// The broker connection is gone: what the nodes do meanwhile is unknown. Each online node and
    /// device is shown offline with its session kept, like after an NDEATH of another session:
    /// its next message shows it online again (and a skipped `seq` asks for its births).
    func connectionLost() -> [SparkplugStateChange] {
        state.withLock { state in
            var changes: [SparkplugStateChange] = []
            for (id, node) in state.nodes.sorted(by: { ($0.key.group, $0.key.node) < ($1.key.group, $1.key.node) }) where node.online {
                node.online = false
                node.looseDeath = true
                changes.append(SparkplugStateChange(name: "\(id.group)/\(id.node)", online: false,
                                                    detail: "the broker connection was lost: unknown until it publishes again"))
                for (name, device) in node.devices.sorted(by: { $0.key < $1.key }) where device.online {
                    device.online = false
                    device.diedWithNode = true
                    changes.append(SparkplugStateChange(name: "\(id.group)/\(id.node)/\(name)", online: false,
                                                        detail: "the broker connection was lost: unknown until it publishes again"))
                }
            }
            return changes
        }
    }

    /// `topic` parsed, remembered for the topics seen (bounded like the mapper's topic cache).
    func parse(_ topic: String) -> SparkplugTopic? {
        if let known = topics.withLock({ $0[topic] }) { return known }
        guard let parsed = SparkplugTopic.parse(topic.split(separator: "/", omittingEmptySubsequences: false)) else { return nil }
        topics.withLock { topics in
            if topics.count >= TopicCache.limit { topics.removeAll(keepingCapacity: true) }
            topics[topic] = parsed
        }
        return parsed
    }

    func handle(_ topic: SparkplugTopic, _ payload: Org_Eclipse_Tahu_Protobuf_Payload, receivedMs: Int64) -> SparkplugResult {
        messages[topic.typeIndex].increment()
        var result = SparkplugResult()
        let id = topic.id
        state.withLock { state in
            switch topic.type {
            case .state, .ncmd, .dcmd:
                return  // commands and other hosts' state: nothing to ingest
            case .nbirth:
                guard let node = existingOrNew(id, &state) else {
                    result.refuseAll(.sparkplugTooManyNodes, payload)
                    return
                }
                node.online = true
                node.looseDeath = false
                node.bdSeq = SparkplugValue.sessionNumber(payload.metrics)
                node.seq = payload.hasSeq ? payload.seq : nil
                // DBIRTHs that overtook this NBIRTH (a node whose devices publish on connections of
                // their own) already used the next numbers.
                if var seq = node.seq {
                    while node.earlySeqs.contains((seq + 1) % 256) { seq = (seq + 1) % 256 }
                    node.seq = seq
                }
                node.earlySeqs = []
                node.missing = []
                node.missingSinceMs = nil
                var table = define(payload.metrics, group: topic.group, node: topic.node, device: nil)
                read(payload, table: &table, device: nil, into: &result, node: node, id: id, receivedMs: receivedMs)
                node.metrics = table
                result.changes.append(SparkplugStateChange(
                    name: "\(topic.group)/\(topic.node)", online: true,
                    detail: "NBIRTH" + (node.bdSeq.map { ", bdSeq \($0)" } ?? "")))
            case .ndeath:
                guard let node = state.nodes[id] else { return }
                let session = SparkplugValue.sessionNumber(payload.metrics)
                // A bdSeq that is not the birth's: a will from an earlier session that arrived after
                // the new birth, or a node that numbers its deaths differently from its births (Tahu's
                // Python helpers do). The node is shown offline either way, but its session is kept:
                // if it goes on publishing, it was alive, and it is shown online again (no data is
                // refused, no rebirth needed).
                var loose = false
                if let session, let current = node.bdSeq, session != current {
                    mismatchedDeaths.increment()
                    loose = true
                    result.notice = "NDEATH of \(topic.group)/\(topic.node) has bdSeq \(session), its birth said \(current): shown offline, and online again if it goes on publishing"
                }
                if node.online {
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)", online: false,
                                                               detail: "NDEATH" + (session.map { ", bdSeq \($0)" } ?? "")))
                }
                node.online = false
                node.looseDeath = loose
                if !loose { node.seq = nil }
                for (name, device) in node.devices where device.online {
                    device.online = false
                    device.diedWithNode = true
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: false,
                                                               detail: "its edge node died"))
                }
            case .ndata:
                guard let node = bornNode(id, &state, payload: payload, result: &result, receivedMs: receivedMs) else { return }
                checkSequence(payload, node, id: id, result: &result, receivedMs: receivedMs)
                var table = node.metrics
                read(payload, table: &table, device: nil, into: &result, node: node, id: id, receivedMs: receivedMs)
                node.metrics = table
            case .dbirth:
                // A DBIRTH describes its device completely, so it is taken even before its node's
                // NBIRTH (which can arrive later when the device publishes on a connection of its own).
                guard let node = existingOrNew(id, &state), let name = topic.device else {
                    result.refuseAll(.sparkplugTooManyNodes, payload)
                    return
                }
                if node.devices[name] == nil {
                    guard state.tracked < options.maxNodes else {
                        result.refuseAll(.sparkplugTooManyNodes, payload)
                        return
                    }
                    state.tracked += 1
                }
                revive(node, id, result: &result)
                checkSequence(payload, node, id: id, result: &result, receivedMs: receivedMs)
                var table = define(payload.metrics, group: topic.group, node: topic.node, device: name)
                read(payload, table: &table, device: name, into: &result, node: node, id: id, receivedMs: receivedMs)
                node.devices[name] = Device(online: true, metrics: table)
                result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: true, detail: "DBIRTH"))
            case .ddeath:
                guard let node = state.nodes[id], let name = topic.device else { return }
                checkSequence(payload, node, id: id, result: &result, receivedMs: receivedMs)
                if let device = node.devices[name], device.online {
                    device.online = false
                    result.changes.append(SparkplugStateChange(name: "\(topic.group)/\(topic.node)/\(name)", online: false, detail: "DDEATH"))
                }
            case .ddata:
                guard let node = existingOrNew(id, &state), let name = topic.device else {
                    result.refuseAll(.sparkplugTooManyNodes, payload)
                    return
                }
                var device = node.devices[name]
                if device?.online != true, assumeBorn {
                    device = Device(online: true)
                    node.devices[name] = device
                }
                revive(node, id, device: device.map { (name, $0) }, result: &result)
                // The device's own birth is what names its data; the node's is not needed for it.
                guard let device, device.online else {
                    result.refuseAll(.sparkplugNoBirth, payload)
                    requestRebirth(id, node, result: &result, receivedMs: receivedMs)
                    return
                }
                checkSequence(payload, node, id: id, result: &result, receivedMs: receivedMs)
                read(payload, table: &device.metrics, device: name, into: &result, node: node, id: id, receivedMs: receivedMs)
            }
        }
        return result
    }

    // MARK: - Births and deaths

    private func existingOrNew(_ id: NodeID, _ state: inout State) -> Node? {
        if let node = state.nodes[id] { return node }
        guard state.tracked < options.maxNodes else { return nil }
        state.tracked += 1
        let node = Node()
        state.nodes[id] = node
        return node
    }

    /// The node if it is online; else its data is refused and it is asked to be born again.
    private func bornNode(_ id: NodeID, _ state: inout State, payload: Org_Eclipse_Tahu_Protobuf_Payload,
                          result: inout SparkplugResult, receivedMs: Int64) -> Node? {
        if assumeBorn, state.nodes[id]?.online != true {
            let node = state.nodes[id] ?? Node()
            state.nodes[id] = node
            node.online = true
            return node
        }
        guard let node = existingOrNew(id, &state) else {
            result.refuseAll(.sparkplugTooManyNodes, payload)
            return nil
        }
        revive(node, id, result: &result)
        guard node.online else {
            result.refuseAll(.sparkplugNoBirth, payload)
            requestRebirth(id, node, result: &result, receivedMs: receivedMs)
            return nil
        }
        return node
    }

    /// A node that died by a death of another session and publishes again is alive after all.
    private func revive(_ node: Node, _ id: NodeID, device: (name: String, state: Device)? = nil, result: inout SparkplugResult) {
        if node.looseDeath {
            node.looseDeath = false
            node.online = true
            result.changes.append(SparkplugStateChange(name: "\(id.group)/\(id.node)", online: true,
                                                       detail: "publishing again: its session went on"))
        }
        if let device, node.online, !device.state.online, device.state.diedWithNode {
            device.state.online = true
            device.state.diedWithNode = false
            result.changes.append(SparkplugStateChange(name: "\(id.group)/\(id.node)/\(device.name)", online: true,
                                                       detail: "publishing again: its session went on"))
        }
    }

    /// The metrics a birth defines: series keys built once here, used by every data message.
    private func define(_ metrics: [SparkplugMetric], group: String, node: String, device: String?) -> MetricTable {
        var table = MetricTable()
        var ambiguous = Set<String>()
        for metric in metrics where metric.hasName && !Self.isProtocolMetric(metric.name) {
            guard let series = naming.series(metric.name, group: group, node: node, device: device) else { continue }
            let definition = Definition(series: series, datatype: metric.datatype, unit: SparkplugValue.unit(metric))
            if metric.hasAlias { table.byAlias[metric.alias] = definition }
            table.byName[metric.name] = definition
            if let slash = metric.name.lastIndex(of: "/") {
                let leaf = String(metric.name[metric.name.index(after: slash)...])
                if table.byLeaf.updateValue(definition, forKey: leaf) != nil { ambiguous.insert(leaf) }
            }
        }
        for leaf in ambiguous { table.byLeaf[leaf] = nil }
        return table
    }

    /// Names taken from data messages (not in the birth) remembered per node or device; a
    /// publisher inventing names cannot grow the table beyond this.
    static let maxLearnedNames = 10_000

    /// `bdSeq` and the `Node Control/…` metrics are the protocol's own, not measurements.
    /// (`CMD/Node Control/Rebirth`: some nodes put their commands under a folder.)
    static func isProtocolMetric(_ name: String) -> Bool {
        name == "bdSeq" || name.contains("Node Control/") || name.contains("Device Control/")
    }

    // MARK: - Values

    /// Every metric of a message to a sample or a reason. A metric named but not in the birth is
    /// taken by its name (and remembered in `table`); one known only by an unknown alias cannot be
    /// named, so it is refused and the node is asked for its births again.
    private func read(_ payload: Org_Eclipse_Tahu_Protobuf_Payload, table: inout MetricTable, device: String?,
                      into result: inout SparkplugResult, node: Node, id: NodeID, receivedMs: Int64) {
        let payloadTime = payload.hasTimestamp ? Int64(clamping: payload.timestamp) : nil
        result.samples.reserveCapacity(result.samples.count + payload.metrics.count)
        for metric in payload.metrics {
            if metric.hasName, Self.isProtocolMetric(metric.name) { continue }
            var definition = metric.hasAlias ? table.byAlias[metric.alias] : nil
            if definition == nil, metric.hasName {
                definition = table.lookup(name: metric.name)
                if definition == nil, let series = naming.series(metric.name, group: id.group, node: id.node, device: device) {
                    let learned = Definition(series: series, datatype: metric.datatype, unit: SparkplugValue.unit(metric))
                    if table.byName.count < Self.maxLearnedNames { table.byName[metric.name] = learned }
                    definition = learned
                }
            }
            guard let definition else {
                result.rejects.append(metric.hasName ? .invalidMetricName : .sparkplugUnknownAlias)
                if !metric.hasName { requestRebirth(id, node, result: &result, receivedMs: receivedMs) }
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

    /// Every message of a session after the NBIRTH carries the next `seq` (mod 256). A message
    /// can overtake another (a device publishing on a connection of its own, Sparkplug 3.0's
    /// "reorder timeout"): numbers skipped by a jump ahead are waited for; if one has not come
    /// within `reorder_timeout` (checked as the node's messages arrive), messages were lost and
    /// what the host knows may be stale: a gap is counted and a rebirth asked for. Before the node
    /// is born its numbers are only remembered.
    private func checkSequence(_ payload: Org_Eclipse_Tahu_Protobuf_Payload, _ node: Node, id: NodeID,
                               result: inout SparkplugResult, receivedMs: Int64) {
        guard payload.hasSeq, payload.seq < 256 else { return }
        guard node.online, let last = node.seq else {
            if !node.online, node.earlySeqs.count < 16 { node.earlySeqs.insert(payload.seq) }
            return
        }
        let expected = (last + 1) % 256
        let ahead = (payload.seq + 256 - expected) % 256
        if ahead == 0 {
            node.seq = payload.seq
        } else if 256 - ahead <= Self.reorderWindow {
            node.missing.remove(payload.seq)  // a late one: the newer position stays
        } else if ahead <= Self.reorderWindow {
            for skipped in 0..<ahead { node.missing.insert((expected + skipped) % 256) }
            node.missingSinceMs = node.missingSinceMs ?? receivedMs
            node.seq = payload.seq
        } else {
            node.seq = payload.seq
            node.missing = [(expected + 1) % 256]  // too far to wait for: a gap now
            node.missingSinceMs = .min
        }
        guard let since = node.missingSinceMs, !node.missing.isEmpty else {
            node.missingSinceMs = nil
            return
        }
        guard since == .min || receivedMs &- since >= options.reorderTimeout.milliseconds else { return }
        node.missing = []
        node.missingSinceMs = nil
        gaps.increment()
        requestRebirth(id, node, result: &result, receivedMs: receivedMs)
    }

    /// How far out of order a message may arrive and still be waited for.
    static let reorderWindow: UInt64 = 16

    private func requestRebirth(_ id: NodeID, _ node: Node, result: inout SparkplugResult, receivedMs: Int64) {
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
