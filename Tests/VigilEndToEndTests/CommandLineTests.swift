import Foundation
import HummingbirdBcrypt
import Testing
import VigilTestSupport

/// Runs `vigil` with arguments and returns (status, stdout, stderr).
func vigil(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) async throws
    -> (status: Int32, stdout: String, stderr: String) {
    let directory = try TemporaryDirectory("vigil-cli")
    let process = try ManagedProcess(try TestEnvironment.vigilBinary(), arguments, environment: environment,
                                     directory: directory, name: "vigil", stdin: stdin)
    let status = try await process.finish()
    return (status, process.stdout, process.stderr)
}

@Suite("vigil command line")
struct CommandLineTests {
    @Test func versionCommandAndFlag() async throws {
        let command = try await vigil(["version"])
        #expect(command.status == 0)
        #expect(command.stdout.hasPrefix("vigil 0.1.0 (swift "))
        let flag = try await vigil(["--version"])
        #expect(flag.stdout == command.stdout)
    }

    /// Full Foundation brings ICU (34 MB of data in a static binary) and 10 MB of resident
    /// libraries; the gateway uses FoundationEssentials only (docs/architecture.md). One
    /// `import Foundation` in Sources/ links it all back.
    @Test func theBinaryLinksNoFullFoundationNorICU() async throws {
        let directory = try TemporaryDirectory("ldd")
        let ldd = try ManagedProcess("/usr/bin/ldd", [try TestEnvironment.vigilBinary()], directory: directory, name: "ldd")
        #expect(try await ldd.finish() == 0)
        #expect(ldd.stdout.contains("libFoundationEssentials"), "\(ldd.stdout)")
        for library in ["libFoundation.so", "libFoundationInternationalization", "lib_FoundationICU"] {
            #expect(!ldd.stdout.contains(library), "\(library) is linked: a file in Sources/ imports Foundation")
        }
    }

    @Test(arguments: ["run", "check-config", "simulate", "passwd", "version", "query", "export", "import", "store stats", "store maintain",
                      "mapping explain"])
    func everyCommandHasHelpWithExamples(command: String) async throws {
        let result = try await vigil(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("Example"))
        #expect(result.stdout.contains("USAGE: vigil \(command)"))
    }

    @Test func checkConfigAcceptsEverySample() async throws {
        let samples = TestEnvironment.packageRoot.appendingPathComponent("samples")
        let files = try FileManager.default.contentsOfDirectory(atPath: samples.path).filter { $0.hasSuffix(".yaml") }
            .map { samples.appendingPathComponent($0).path }
        let result = try await vigil(["check-config"] + files)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("demo.yaml: ok"))
        #expect(result.stdout.contains("mqtt/local: 127.0.0.1:1883 sensors/+/+/+ (qos 1)"))
    }

    @Test func checkConfigNamesFileLineAndColumnOfAMisspelledKey() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("bad.yaml", "gateway:\n  name: x\nhttp:\n  listen: 127.0.0.1:8443\n  tsl: self-signed\n")
        let result = try await vigil(["check-config", file])
        #expect(result.status == 1)
        #expect(result.stderr == "\(file):5:3: unknown key 'tsl' in http (did you mean 'tls'?)\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func checkConfigReportsEveryBadFileAndStillFails() async throws {
        let directory = try TemporaryDirectory()
        let good = try directory.write("good.yaml", "gateway:\n  name: g\n")
        let bad = try directory.write("bad.yaml", "http:\n  listen: ${VIGIL_E2E_UNSET}\n")
        let result = try await vigil(["check-config", "--quiet", good, bad])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(bad):2:11: environment variable VIGIL_E2E_UNSET is not set"))
    }

    @Test func passwdHashesWhatComesOnStandardInput() async throws {
        let result = try await vigil(["passwd", "--cost", "10"], stdin: "correct horse battery\n")
        #expect(result.status == 0)
        let hash = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix("$2b$10$"))
        #expect(Bcrypt.verify("correct horse battery", hash: hash))
        #expect(!result.stdout.contains("correct horse"))
        let short = try await vigil(["passwd"], stdin: "short\n")
        #expect(short.status == 1)
        #expect(short.stderr == "vigil passwd: use at least 8 characters\n")
    }

    @Test func mappingExplainShowsReadingsAndRejects() async throws {
        let config = TestEnvironment.packageRoot.appendingPathComponent("samples/mqtt.yaml").path
        // A device time of the last full hour: inside normalize.max_age, as the gateway would see it.
        let hour = Int(Date().timeIntervalSince1970) / 3600 * 3600
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(hour)))
        let good = try await vigil(["mapping", "explain", "--config", config, "devices/meter-7/telemetry",
                                    #"{"ts": \#(hour), "power_kw": 1.5, "energy_wh": 123400, "env": {"temp_f": 71.6}}"#])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("subscription 2: devices/+/telemetry (format json)"))
        #expect(good.stdout.contains(#"reading  power{device="meter-7"} = 1500.0 W  at \#(stamp) (device time)"#), "\(good.stdout)")
        let old = try await vigil(["mapping", "explain", "--config", config, "devices/meter-7/telemetry", #"{"ts": 1764064800, "power_kw": 1.5}"#])
        #expect(old.status == 1 && old.stdout.contains("rejected too_old"), "\(old.stdout)")
        let poison = try await vigil(["mapping", "explain", "--config", config, "senml/x", #"[{"bn":"fz:","bt":9223372036854775807,"n":"a","v":1}]"#])
        #expect(poison.status == 1 && poison.stdout.contains("rejected invalid_timestamp"), "\(poison.stdout) \(poison.stderr)")
        let bad = try await vigil(["mapping", "explain", "--config", config, "sensors/a/b/temperature", "-"], stdin: "hot")
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("rejected not_a_number: the payload is not a number"))
        let none = try await vigil(["mapping", "explain", "--config", config, "nowhere", "1"])
        #expect(none.status == 1 && none.stdout.contains("no subscription matches 'nowhere'"))
    }

    @Test func runWithAMissingConfigIsOneLine() async throws {
        let result = try await vigil(["run", "--config", "/nonexistent/vigil.yaml"])
        #expect(result.status == 1)
        #expect(result.stderr == "cannot read config file /nonexistent/vigil.yaml: no such file\n")
    }
}
