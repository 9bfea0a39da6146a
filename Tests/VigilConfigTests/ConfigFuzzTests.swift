import Foundation
import Testing
import VigilConfig
import VigilServer
import VigilTestSupport

/// Seeded fuzzing of the config loader: every shipped sample, mutated, either loads or fails with
/// a ConfigError that names a place; nothing traps.
@Suite("Fuzz: config files")
struct ConfigFuzzTests {
    static var samples: [String] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples").standardized
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
            .compactMap { try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8) }
    }

    @Test func mutatedConfigsLoadOrFailWithAPlace() throws {
        var random = Fuzz.generator("config")
        let corpus = Self.samples
        try #require(!corpus.isEmpty)
        let environment = ["VIGIL_DATA_DIR": NSTemporaryDirectory() + "vigil-fuzz-data", "VIGIL_PASSWORD_HASH": "x"]
        // Loading a config parses YAML and checks files: a few hundred runs cover the shapes.
        for _ in 0..<max(50, Fuzz.iterations / 10) {
            let yaml = String(decoding: Fuzz.input(from: corpus, &random), as: UTF8.self)
            guard let message = loadError(yaml, environment: environment) else { continue }
            #expect(message.hasPrefix("DIR/config.yaml") || message.contains("config.yaml"), "\(message)")
        }
    }
}
