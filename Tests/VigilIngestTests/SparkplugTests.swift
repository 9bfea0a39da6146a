import Foundation
import SwiftProtobuf
import Testing
import VigilCore
import VigilTestSupport
@testable import VigilIngest

/// Sparkplug B as a host application reads it: datatypes, births and aliases, sequence numbers,
/// rebirth requests, deaths by session, and hostile payloads. End to end with a third-party edge
/// node: VigilEndToEndTests/SparkplugEndToEndTests.
@Suite("Sparkplug B: payloads, sessions and rebirths")
struct SparkplugTests {
    typealias Payload = Org_Eclipse_Tahu_Protobuf_Payload
    static let now: Int64 = 1_796_040_000_000

    static func metric(_ name: String?, alias: UInt64? = nil, _ type: SparkplugDataType? = nil,
                       _ value: SparkplugMetric.OneOf_Value?, timestamp: UInt64? = nil, unit: String? = nil) -> SparkplugMetric {
        var metric = SparkplugMetric()
        if let name { metric.name = name }
        if let alias { metric.alias = alias }
        if let type { metric.datatype = type.rawValue }
        if let timestamp { metric.timestamp = timestamp }
        metric.value = value
        if let unit {
            var property = Payload.PropertyValue()
            property.type = SparkplugDataType.string.rawValue
            property.stringValue = unit
            metric.properties.keys = ["engUnit"]
            metric.properties.values = [property]
        }
        return metric
    }

    static func bytes(seq: UInt64?, timestamp: UInt64? = nil, _ metrics: [SparkplugMetric]) -> [UInt8] {
        var payload = Payload()
        if let seq { payload.seq = seq }
        if let timestamp { payload.timestamp = timestamp }
        payload.metrics = metrics
        return try! payload.serializedBytes()
    }

    static func mapper(_ options: SparkplugOptions = SparkplugOptions(), metric: String? = nil,
                       timestamps: SubscriptionConfig.TimestampSource = .device) throws -> MessageMapper {
        var subscription = try SubscriptionConfig.test(filter: "spBv1.0/#", format: .sparkplug(options))
        subscription.metric = metric
        subscription.timestamps = timestamps
        subscription.labels = Labels(["site": "north"])
        return MessageMapper(subscriptions: [subscription], broker: "test")
    }

    static let birth = bytes(seq: 0, timestamp: UInt64(now), [
        metric("bdSeq", .int64, .longValue(7)),
        metric("Node Control/Rebirth", .boolean, .booleanValue(false)),
        metric("Boiler/Temperature", alias: 1, .double, .doubleValue(71.5), unit: "°C"),
        metric("Running", alias: 2, .boolean, .booleanValue(true)),
        metric("Firmware", alias: 3, .string, .stringValue("1.2.3")),
    ])

    // MARK: - Values

    @Test func integerWidthsAndSignsReadAsTheirDatatypeSays() {
        let cases: [(SparkplugDataType, SparkplugMetric.OneOf_Value, Double)] = [
            (.int8, .intValue(0xFF), -1), (.int8, .intValue(0xFFFF_FFFF), -1), (.int16, .intValue(0xFFFF_8000), -32768),
            (.int16, .intValue(0x8000), -32768), (.int32, .intValue(0xFFFF_FFFE), -2), (.int64, .longValue(UInt64.max), -1),
            (.uint8, .intValue(200), 200), (.uint16, .intValue(65535), 65535), (.uint32, .intValue(4_000_000_000), 4e9),
            (.uint64, .longValue(1 << 60), Double(1 << 60)), (.float, .floatValue(1.5), 1.5), (.double, .doubleValue(-2.25), -2.25),
            (.boolean, .booleanValue(true), 1), (.boolean, .booleanValue(false), 0),
        ]
        for (type, value, expected) in cases {
            let result = SparkplugValue.number(Self.metric("x", type, value), datatype: type.rawValue)
            #expect((try? result.get()) == expected, "\(type) \(value)")
        }
    }

    @Test func floatsReadAsTheDecimalTheyStandFor() {
        for (float, expected) in [(Float(21.37), 21.37), (Float(0.1), 0.1), (Float(-3.25), -3.25), (Float(1e-7), 1e-7),
                                  (Float(123456.7), 123456.7), (Float(16_777_216), 16_777_216), (Float(3.4e38), Double(Float(3.4e38)))] {
            #expect(SparkplugValue.decimal(float) == expected, "\(float)")
            #expect(Float(SparkplugValue.decimal(float)) == float)
        }
    }

    @Test func stringsDatesBytesNullsAndNaNAreRefusedWithAReason() {
        #expect(SparkplugValue.number(Self.metric("x", .string, .stringValue("on")), datatype: 12) == .failure(.unsupportedType))
        #expect(SparkplugValue.number(Self.metric("x", .dateTime, .longValue(1)), datatype: 13) == .failure(.unsupportedType))
        #expect(SparkplugValue.number(Self.metric("x", nil, .bytesValue(.init([1, 2]))), datatype: 24) == .failure(.unsupportedType))
        #expect(SparkplugValue.number(Self.metric("x", .double, nil), datatype: 10) == .failure(.nullValue))
        var null = Self.metric("x", .double, .doubleValue(1))
        null.isNull = true
        #expect(SparkplugValue.number(null, datatype: 10) == .failure(.nullValue))
        #expect(SparkplugValue.number(Self.metric("x", .double, .doubleValue(.nan)), datatype: 10) == .failure(.nonFinite))
        #expect(SparkplugValue.number(Self.metric("x", .float, .floatValue(.infinity)), datatype: 9) == .failure(.nonFinite))
    }

    // MARK: - Sessions

    @Test func aBirthDefinesAliasesUnitsAndLabelsAndDataUsesThem() throws {
        let mapper = try Self.mapper()
        let born = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)
        #expect(born.readings.map(\.series.description).sorted() == [
            #"Boiler_Temperature{group="plant",node="edge-1",site="north"}"#, #"Running{group="plant",node="edge-1",site="north"}"#,
        ])
        #expect(born.rejects == [.unsupportedType])  // Firmware; bdSeq and Node Control are the protocol's
        #expect(born.changes == [SparkplugStateChange(name: "plant/edge-1", online: true, detail: "NBIRTH, bdSeq 7")])
        #expect(born.readings.first { $0.metric == "Boiler_Temperature" }?.unit == "°C")

        let data = Self.bytes(seq: 1, timestamp: UInt64(Self.now + 1000), [
            Self.metric(nil, alias: 1, nil, .doubleValue(72.0)),
            Self.metric(nil, alias: 2, nil, .booleanValue(false), timestamp: UInt64(Self.now + 500)),
        ])
        let outcome = mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: data, receivedMs: Self.now + 2000)
        #expect(outcome.rejects.isEmpty && outcome.commands.isEmpty)
        let readings = Dictionary(uniqueKeysWithValues: outcome.readings.map { ($0.metric, $0) })
        #expect(readings["Boiler_Temperature"]?.value == 72 && readings["Boiler_Temperature"]?.unit == "°C")
        #expect(readings["Boiler_Temperature"]?.timestampMs == Self.now + 1000)  // the payload's time
        #expect(readings["Running"]?.value == 0 && readings["Running"]?.timestampMs == Self.now + 500)  // the metric's own
    }

    @Test func devicesAreBornDieAndCarryTheDeviceLabel() throws {
        let mapper = try Self.mapper(metric: "spb")
        _ = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)
        let dbirth = Self.bytes(seq: 1, [Self.metric("Pressure", alias: 10, .float, .floatValue(1.5), unit: "bar")])
        let born = mapper.map(topic: "spBv1.0/plant/DBIRTH/edge-1/pump-3", payload: dbirth, receivedMs: Self.now)
        #expect(born.readings.map(\.series.description) == [#"spb_Pressure{device="pump-3",group="plant",node="edge-1",site="north"}"#])
        #expect(born.changes.map(\.online) == [true])
        let ddata = Self.bytes(seq: 2, [Self.metric(nil, alias: 10, nil, .floatValue(2.5))])
        // The birth's engUnit travels with the alias, and the normalizer converts it (bar → hPa).
        let pressure = mapper.map(topic: "spBv1.0/plant/DDATA/edge-1/pump-3", payload: ddata, receivedMs: Self.now).readings
        #expect(pressure.map(\.value) == [2500] && pressure.first?.unit == "hPa")
        let died = mapper.map(topic: "spBv1.0/plant/DDEATH/edge-1/pump-3", payload: Self.bytes(seq: 3, []), receivedMs: Self.now)
        #expect(died.changes == [SparkplugStateChange(name: "plant/edge-1/pump-3", online: false, detail: "DDEATH")])
        let late = mapper.map(topic: "spBv1.0/plant/DDATA/edge-1/pump-3", payload: Self.bytes(seq: 4, [Self.metric(nil, alias: 10, nil, .floatValue(3))]),
                              receivedMs: Self.now)
        #expect(late.rejects == [.sparkplugNoBirth] && late.readings.isEmpty)
        #expect(late.commands.map(\.topic) == ["spBv1.0/plant/NCMD/edge-1"])
    }

    @Test func dataBeforeABirthIsRefusedAndARebirthIsRequestedAtMostOncePerInterval() throws {
        var options = SparkplugOptions()
        options.rebirthInterval = .seconds(10)
        let mapper = try Self.mapper(options)
        let data = Self.bytes(seq: 5, [Self.metric("Temperature", .double, .doubleValue(1))])
        let first = mapper.map(topic: "spBv1.0/plant/NDATA/edge-9", payload: data, receivedMs: Self.now)
        #expect(first.rejects == [.sparkplugNoBirth] && first.readings.isEmpty)
        let command = try #require(first.commands.first)
        #expect(command.topic == "spBv1.0/plant/NCMD/edge-9")
        let decoded = try Payload(serializedBytes: command.payload)
        #expect(decoded.metrics.count == 1 && decoded.metrics[0].name == "Node Control/Rebirth")
        #expect(decoded.metrics[0].datatype == SparkplugDataType.boolean.rawValue && decoded.metrics[0].booleanValue)
        #expect(mapper.map(topic: "spBv1.0/plant/NDATA/edge-9", payload: data, receivedMs: Self.now + 9_000).commands.isEmpty)
        #expect(mapper.map(topic: "spBv1.0/plant/NDATA/edge-9", payload: data, receivedMs: Self.now + 10_000).commands.count == 1)
    }

    @Test func readOnlyDeploymentsNeverPublish() throws {
        var options = SparkplugOptions()
        options.rebirth = false
        let mapper = try Self.mapper(options)
        let data = Self.bytes(seq: 5, [Self.metric(nil, alias: 1, nil, .doubleValue(1))])
        let outcome = mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: data, receivedMs: Self.now)
        #expect(outcome.rejects == [.sparkplugNoBirth] && outcome.commands.isEmpty)
    }

    @Test func aSequenceGapOrAnUnknownAliasAsksForARebirthButKeepsTheGoodValues() throws {
        var immediate = SparkplugOptions()
        immediate.reorderTimeout = .zero
        let mapper = try Self.mapper(immediate)
        _ = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)
        let gap = Self.bytes(seq: 3, [Self.metric(nil, alias: 1, nil, .doubleValue(73))])
        let outcome = mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: gap, receivedMs: Self.now)
        #expect(outcome.readings.map(\.value) == [73] && outcome.rejects.isEmpty)
        #expect(outcome.commands.count == 1)

        let fresh = try Self.mapper()
        _ = fresh.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)
        let unknown = Self.bytes(seq: 1, [Self.metric(nil, alias: 99, nil, .doubleValue(1)), Self.metric(nil, alias: 1, nil, .doubleValue(74))])
        let result = fresh.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: unknown, receivedMs: Self.now)
        #expect(result.rejects == [.sparkplugUnknownAlias] && result.readings.map(\.value) == [74] && result.commands.count == 1)
        // The sequence wraps at 255.
        let wrap = try Self.mapper(immediate)
        _ = wrap.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.bytes(seq: 254, [Self.metric("bdSeq", .int64, .longValue(1))]),
                     receivedMs: Self.now)
        for seq: UInt64 in [255, 0, 1] {
            let data = Self.bytes(seq: seq, [Self.metric("Speed", .double, .doubleValue(1))])
            #expect(wrap.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: data, receivedMs: Self.now).commands.isEmpty, "seq \(seq)")
        }
    }

    /// A device publishing on a connection of its own can overtake its node's NBIRTH: its DBIRTH is
    /// taken, and the node's NBIRTH then continues from the numbers its devices already used.
    @Test func aDeviceBirthAheadOfItsNodeAndReorderedMessagesAreNotGaps() throws {
        let mapper = try Self.mapper()
        let dbirth = Self.bytes(seq: 1, [Self.metric("Pressure", alias: 10, .float, .floatValue(1.5))])
        let early = mapper.map(topic: "spBv1.0/plant/DBIRTH/edge-1/pump", payload: dbirth, receivedMs: Self.now)
        #expect(early.readings.count == 1 && early.rejects.isEmpty && early.commands.isEmpty)
        _ = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)  // seq 0
        let ddata = Self.bytes(seq: 2, [Self.metric(nil, alias: 10, nil, .floatValue(2))])
        let outcome = mapper.map(topic: "spBv1.0/plant/DDATA/edge-1/pump", payload: ddata, receivedMs: Self.now)
        #expect(outcome.readings.count == 1 && outcome.commands.isEmpty)
        // 4 before 3 within the reorder timeout (2 s): no gap; both stored.
        func data(_ seq: UInt64, at ms: Int64) -> MessageMapper.Outcome {
            mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: Self.bytes(seq: seq, [Self.metric(nil, alias: 1, nil, .doubleValue(1))]),
                       receivedMs: ms)
        }
        #expect(data(4, at: Self.now).commands.isEmpty)
        let three = data(3, at: Self.now + 500)
        #expect(three.readings.count == 1 && three.commands.isEmpty)
        #expect(data(5, at: Self.now + 3000).commands.isEmpty)
        // 7 skips 6, and 6 never comes: the first message after the timeout asks for a rebirth.
        #expect(data(7, at: Self.now + 4000).commands.isEmpty)
        #expect(data(8, at: Self.now + 5000).commands.isEmpty)
        #expect(data(9, at: Self.now + 6001).commands.count == 1)
        // A jump beyond the reorder window is a gap at once.
        #expect(data(100, at: Self.now + 100_000).commands.count == 1)
    }

    /// Some edge nodes name metrics with a folder in the birth only (mqtt-spb-wrapper: `DATA/speed`)
    /// and send data by the bare name: the unique last element finds the birth's series.
    @Test func dataByTheLastElementOfABirthName() throws {
        let mapper = try Self.mapper()
        let birth = Self.bytes(seq: 0, [Self.metric("bdSeq", .int64, .longValue(0)), Self.metric("DATA/speed", .int64, .longValue(5)),
                                        Self.metric("A/level", .double, .doubleValue(1)), Self.metric("B/level", .double, .doubleValue(2)),
                                        Self.metric("CMD/Node Control/Rebirth", .boolean, .booleanValue(false))])
        #expect(mapper.map(topic: "spBv1.0/g/NBIRTH/n", payload: birth, receivedMs: Self.now).readings.count == 3)
        let data = Self.bytes(seq: 1, [Self.metric("speed", .int64, .longValue(6)), Self.metric("level", .double, .doubleValue(3))])
        let outcome = mapper.map(topic: "spBv1.0/g/NDATA/n", payload: data, receivedMs: Self.now)
        // `level` is ambiguous (A/level, B/level): it becomes a series of its own.
        #expect(outcome.readings.map(\.metric).sorted() == ["DATA_speed", "level"])
    }

    @Test func aDeathFromAnEarlierSessionDoesNotKillTheNewOne() throws {
        let mapper = try Self.mapper()
        _ = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)  // bdSeq 7
        _ = mapper.map(topic: "spBv1.0/plant/DBIRTH/edge-1/pump-3",
                       payload: Self.bytes(seq: 1, [Self.metric("Pressure", .float, .floatValue(1))]), receivedMs: Self.now)
        // Shown offline (a node whose deaths are numbered differently does die this way)…
        let stale = Self.bytes(seq: nil, [Self.metric("bdSeq", .int64, .longValue(6))])
        let maybe = mapper.map(topic: "spBv1.0/plant/NDEATH/edge-1", payload: stale, receivedMs: Self.now)
        #expect(maybe.changes.map(\.online) == [false, false] && maybe.notice != nil)
        // … but the session goes on: its data is taken, and node and device are online again.
        let data = Self.bytes(seq: 2, [Self.metric(nil, alias: 1, nil, .doubleValue(1))])
        let alive = mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: data, receivedMs: Self.now)
        #expect(alive.readings.count == 1 && alive.commands.isEmpty && alive.changes.map(\.online) == [true])
        let ddata = Self.bytes(seq: 3, [Self.metric("Pressure", nil, .floatValue(2))])
        let device = mapper.map(topic: "spBv1.0/plant/DDATA/edge-1/pump-3", payload: ddata, receivedMs: Self.now)
        #expect(device.readings.count == 1 && device.changes.map(\.name) == ["plant/edge-1/pump-3"])
        let death = Self.bytes(seq: nil, [Self.metric("bdSeq", .int64, .longValue(7))])
        let died = mapper.map(topic: "spBv1.0/plant/NDEATH/edge-1", payload: death, receivedMs: Self.now)
        #expect(died.changes.map(\.name) == ["plant/edge-1", "plant/edge-1/pump-3"] && died.changes.allSatisfy { !$0.online })
        #expect(mapper.sparkplug[0]?.onlineCount == 0)
    }

    /// While the gateway's broker connection is down nothing is known of the nodes: shown offline,
    /// and online again with their next message (no data refused for it).
    @Test func aLostBrokerConnectionMakesNodesUnknownUntilTheyPublish() throws {
        let mapper = try Self.mapper()
        _ = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now)
        _ = mapper.map(topic: "spBv1.0/plant/DBIRTH/edge-1/pump",
                       payload: Self.bytes(seq: 1, [Self.metric("Pressure", alias: 10, .float, .floatValue(1))]), receivedMs: Self.now)
        let lost = mapper.connectionLost()
        #expect(lost.map(\.name) == ["plant/edge-1", "plant/edge-1/pump"] && lost.allSatisfy { !$0.online })
        #expect(mapper.connectionLost().isEmpty)  // once
        let ddata = mapper.map(topic: "spBv1.0/plant/DDATA/edge-1/pump",
                               payload: Self.bytes(seq: 2, [Self.metric(nil, alias: 10, nil, .floatValue(2))]), receivedMs: Self.now)
        #expect(ddata.readings.count == 1 && ddata.rejects.isEmpty)
        // A device's message comes through its node: both are alive.
        #expect(ddata.changes.map(\.name) == ["plant/edge-1", "plant/edge-1/pump"] && ddata.changes.allSatisfy(\.online))
        let ndata = mapper.map(topic: "spBv1.0/plant/NDATA/edge-1",
                               payload: Self.bytes(seq: 3, [Self.metric(nil, alias: 1, nil, .doubleValue(2))]), receivedMs: Self.now)
        #expect(ndata.readings.count == 1 && ndata.changes.isEmpty)
    }

    @Test func receiveTimeWhenTheSubscriptionSaysSo() throws {
        let mapper = try Self.mapper(timestamps: .receive)
        let outcome = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-1", payload: Self.birth, receivedMs: Self.now + 42)
        #expect(outcome.readings.allSatisfy { $0.timestampMs == Self.now + 42 })
    }

    // MARK: - Hostile input

    @Test func topicsPayloadSizesAndOtherHostsState() throws {
        var options = SparkplugOptions()
        options.maxPayloadBytes = 2048
        let mapper = try Self.mapper(options)
        #expect(mapper.map(topic: "spBv1.0/plant/NBIRTH", payload: Self.birth, receivedMs: Self.now).rejects == [.sparkplugTopic])
        #expect(mapper.map(topic: "spBv1.0/plant/NDATA/edge-1/extra", payload: Self.birth, receivedMs: Self.now).rejects == [.sparkplugTopic])
        #expect(mapper.map(topic: "spBv1.0/plant/XDATA/edge-1", payload: Self.birth, receivedMs: Self.now).rejects == [.sparkplugTopic])
        #expect(mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: [], receivedMs: Self.now).rejects == [.empty])
        #expect(mapper.map(topic: "spBv1.0/plant/NDATA/edge-1", payload: Array(repeating: 0x0A, count: 4096), receivedMs: Self.now)
                .rejects == [.tooLarge])
        let state = mapper.map(topic: "spBv1.0/STATE/scada", payload: Array(#"{"online":true,"timestamp":1}"#.utf8), receivedMs: Self.now)
        #expect(state.rejects.isEmpty && state.readings.isEmpty)
        let command = mapper.map(topic: "spBv1.0/plant/NCMD/edge-1", payload: SparkplugCommands.rebirth(nowMs: Self.now), receivedMs: Self.now)
        #expect(command.rejects.isEmpty && command.readings.isEmpty && command.commands.isEmpty)
        // Cut inside a field: refused. (A cut between two metrics is a valid, shorter message.)
        for cut in [1, 10, Self.birth.count - 1] {
            let outcome = mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-2", payload: Array(Self.birth.prefix(cut)), receivedMs: Self.now)
            #expect(outcome.rejects == [.invalidSparkplug], "cut at \(cut)")
        }
        #expect(mapper.map(topic: "spBv1.0/plant/NBIRTH/edge-3", payload: Array("not protobuf at all".utf8), receivedMs: Self.now)
                .rejects == [.invalidSparkplug])
    }

    @Test func nodesBeyondTheLimitAreRefused() throws {
        var options = SparkplugOptions()
        options.maxNodes = 3
        let mapper = try Self.mapper(options)
        for node in 0..<3 {
            #expect(mapper.map(topic: "spBv1.0/plant/NBIRTH/n\(node)", payload: Self.birth, receivedMs: Self.now).changes.count == 1)
        }
        let refused = mapper.map(topic: "spBv1.0/plant/NBIRTH/n3", payload: Self.birth, receivedMs: Self.now)
        #expect(refused.readings.isEmpty && refused.rejects.allSatisfy { $0 == .sparkplugTooManyNodes } && !refused.rejects.isEmpty)
        let device = mapper.map(topic: "spBv1.0/plant/DBIRTH/n0/d", payload: Self.bytes(seq: 1, [Self.metric("P", .float, .floatValue(1))]),
                                receivedMs: Self.now)
        #expect(device.rejects == [.sparkplugTooManyNodes])
    }

    /// Seeded mutations of valid births and data: never a trap, every reading finite.
    @Test func mutatedPayloadsNeverTrap() throws {
        var random = Fuzz.generator("sparkplug")
        let mapper = try Self.mapper()
        let data = Self.bytes(seq: 1, timestamp: UInt64(Self.now), [Self.metric(nil, alias: 1, nil, .doubleValue(72.0)),
                                                                   Self.metric("Running", .boolean, .booleanValue(true))])
        let topics = ["spBv1.0/plant/NBIRTH/edge-1", "spBv1.0/plant/NDATA/edge-1", "spBv1.0/plant/DBIRTH/edge-1/d",
                      "spBv1.0/plant/DDATA/edge-1/d", "spBv1.0/plant/NDEATH/edge-1"]
        for round in 0..<Fuzz.iterations {
            let seed = round % 2 == 0 ? Self.birth : data
            let payload = Fuzz.mutate(seed, &random)
            let outcome = mapper.map(topic: topics[round % topics.count], payload: payload, receivedMs: Self.now)
            for reading in outcome.readings { #expect(reading.value.isFinite) }
        }
    }
}

@Suite("Sparkplug topics")
struct SparkplugTopicTests {
    @Test func aliasTablesTakeDenseSparseAndHugeAliases() {
        typealias Definition = SparkplugSessions.Definition
        func definition(_ name: String) -> Definition { Definition(series: SeriesKey(metric: name), datatype: 9, unit: nil) }
        var table = SparkplugSessions.AliasTable()
        for alias in UInt64(0)..<300 { table[alias] = definition("m\(alias)") }
        table[UInt64.max] = definition("max")
        table[1 << 40] = definition("far")
        table[5000] = definition("beyond")  // past the dense part: kept aside, found all the same
        #expect((0..<300).allSatisfy { table[UInt64($0)]?.series.metric == "m\($0)" })
        #expect(table[UInt64.max]?.series.metric == "max" && table[1 << 40]?.series.metric == "far")
        #expect(table[5000]?.series.metric == "beyond" && table[300] == nil && table[4999] == nil)
        table[7] = nil
        table[UInt64.max] = nil
        #expect(table[7] == nil && table[UInt64.max] == nil && table[8]?.series.metric == "m8")
        table[7] = definition("again")
        #expect(table[7]?.series.metric == "again")
    }

    @Test func shapes() {
        func parse(_ topic: String) -> SparkplugTopic? { SparkplugTopic.parse(topic.split(separator: "/", omittingEmptySubsequences: false)) }
        #expect(parse("spBv1.0/g/NBIRTH/n") == SparkplugTopic(type: .nbirth, group: "g", node: "n", device: nil))
        #expect(parse("spBv1.0/g/DDATA/n/d") == SparkplugTopic(type: .ddata, group: "g", node: "n", device: "d"))
        #expect(parse("spBv1.0/STATE/host") == SparkplugTopic(type: .state, group: "", node: "host", device: nil))
        for bad in ["spBv1.0/g/NBIRTH/n/d", "spBv1.0/g/DDATA/n", "spBv1.0//NDATA/n", "spBv1.0/g/NDATA/", "spBv1.0/g/DDATA/n/",
                    "spAv1.0/g/NDATA/n", "spBv1.0/g/STATE/n", "spBv1.0/STATE", "spBv1.0/STATE/a/b"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }
}
