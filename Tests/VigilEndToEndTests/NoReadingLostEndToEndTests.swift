import Foundation
import Testing
import VigilTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 15 with real peers: readings that arrive together are all kept.
@Suite("No reading lost, end to end", .serialized)
struct NoReadingLostEndToEndTests {
    /// 20 devices × 50 plain values at QoS 1, queued by mosquitto while the gateway is down, arrive
    /// in one burst when it comes back: every one is stored, in order.
    @Test func anOutageBurstIsStoredWhole() async throws {
        let broker = try await MosquittoBroker(configuration: """
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 100000
            log_dest stderr
            log_type error
            """)
        defer { broker.stop() }
        let directory = try TemporaryDirectory("outage-burst")
        let config = try directory.write("vigil.yaml", """
            data_dir: ${VIGIL_DATA_DIR}
            http: {listen: 127.0.0.1:0, tls: off}
            logging: {ingest_summary: 0}
            store: {flush_interval: 100ms}
            mqtt:
              brokers:
                - name: plant
                  url: ${VIGIL_MQTT_URL}
                  client_id: vigil-outage-test
                  subscriptions:
                    - {topic: "burst/+/+", pattern: "burst/{device}/{metric}", format: value, qos: 1}
            """)
        do {  // the first run makes the persistent session
            let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
            try await gateway.process.waitForOutput(containing: "subscriptions active")
            gateway.process.signal(SIGTERM)
            #expect(await gateway.process.waitForExit(timeout: .seconds(10)) == 0)
        }
        let (devices, readings) = (20, 50)
        for device in 0..<devices {
            try await broker.publish(topic: "burst/d\(device)/level", lines: (0..<readings).map { "\($0)" }, qos: 1)
        }
        let gateway = try await RunningGateway(mqttURL: broker.url, config: config, directory: directory)
        defer { gateway.process.stop() }
        let dataDir = directory.path("data")
        var rows: [String] = []
        _ = try await eventually(timeout: .seconds(20)) {
            rows = try await storedRows(dataDir, "level")
            return rows.count >= devices * readings
        }
        #expect(rows.count == devices * readings)
        // Per device, the values come back as they were sent: 0, 1, …, 49 in time order.
        var perDevice: [String: [(Int64, Double)]] = [:]
        for row in rows {
            let fields = row.split(separator: ",")
            guard fields.count >= 3, let t = Int64(fields[fields.count - 2]), let v = Double(fields[fields.count - 1]) else { continue }
            perDevice[String(fields.dropLast(2).joined(separator: ",")), default: []].append((t, v))
        }
        #expect(perDevice.count == devices)
        for (series, points) in perDevice {
            let ordered = points.sorted { $0.0 < $1.0 }.map(\.1)
            #expect(ordered == (0..<readings).map(Double.init), "\(series)")
        }
        #expect(try await gateway.metric("vigil_ingest_receive_time_shifted_total") ?? 0 > 0)
    }
}
