import Foundation
import Testing
import VigilServer

@Suite("Every sample config is valid as shipped")
struct SampleConfigTests {
    static let samplesDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("samples")
    }()

    static let samples: [String] = (try? FileManager.default.contentsOfDirectory(atPath: samplesDirectory.path))?
        .filter { $0.hasSuffix(".yaml") }.sorted() ?? []

    @Test func thereAreSamples() {
        #expect(Self.samples.contains("demo.yaml"))
        #expect(Self.samples.contains("minimal.yaml"))
    }

    @Test(arguments: samples)
    func sampleLoadsWithoutEnvironment(name: String) throws {
        let config = try VigilConfiguration.load(path: Self.samplesDirectory.appendingPathComponent(name).path, environment: [:])
        #expect(!config.gatewayName.isEmpty)
    }

    @Test func demoTakesPortsAndPathsFromTheEnvironment() throws {
        let config = try VigilConfiguration.load(
            path: Self.samplesDirectory.appendingPathComponent("demo.yaml").path,
            environment: ["VIGIL_LISTEN": "127.0.0.1:0", "VIGIL_DATA_DIR": "/tmp/x", "VIGIL_MQTT_URL": "mqtt://127.0.0.1:1999"])
        #expect(config.http.port == 0)
        #expect(config.dataDir == "/tmp/x")
        #expect(config.mqtt.brokers.first?.port == 1999)
    }
}
