import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked: `url` is immutable.
    public let url: URL

    public init(_ prefix: String = "vigil-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let file = path(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

public enum TestEnvironment {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The `vigil` binary that `swift build` made ($VIGIL_BIN overrides).
    public static func vigilBinary() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["VIGIL_BIN"] { return explicit }
        let candidates = [".build/debug/vigil", ".build/x86_64-unknown-linux-gnu/debug/vigil",
                          ".build/aarch64-unknown-linux-gnu/debug/vigil"]
        for candidate in candidates {
            let path = packageRoot.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestFailure("the vigil binary is not built: run `swift build` first (or set VIGIL_BIN)")
    }

    /// A program from PATH or the usual sbin directories, or a failure that says how to install it.
    public static func tool(_ name: String, package: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
            let candidate = (directory as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestFailure("\(name) is not installed: apt-get install \(package) (make test installs it)")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

/// A real mosquitto on a free loopback port, configured from samples/mosquitto-demo.conf.
public final class MosquittoBroker: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init.
    public let port: Int
    public let process: ManagedProcess
    let directory: TemporaryDirectory

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    /// `configuration` replaces samples/mosquitto-demo.conf; `{port}` and `{dir}` in it are replaced
    /// by the port and a directory that lives as long as the broker (or `directory`, to share one
    /// across a restart).
    public init(port requested: Int? = nil, configuration: String? = nil, directory shared: TemporaryDirectory? = nil) async throws {
        let mosquitto = try TestEnvironment.tool("mosquitto", package: "mosquitto")
        directory = try shared ?? TemporaryDirectory("mosquitto")
        let template = try configuration
            ?? String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("samples/mosquitto-demo.conf"), encoding: .utf8)
                .replacingOccurrences(of: "listener 1883 ", with: "listener {port} ")
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = requested ?? TestEnvironment.freePort()
            let conf = try directory.write("mosquitto-\(port).conf",
                                           template.replacingOccurrences(of: "{port}", with: "\(port)")
                                               .replacingOccurrences(of: "{dir}", with: directory.url.path))
            let process = try ManagedProcess(mosquitto, ["-c", conf], directory: directory, name: "mosquitto-\(port)")
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, process.isRunning, !TestEnvironment.isListening(port: port) {
                try await Task.sleep(for: .milliseconds(20))
            }
            if TestEnvironment.isListening(port: port), process.isRunning {
                self.port = port
                self.process = process
                return
            }
            lastError = TestFailure("mosquitto did not start on port \(port): \(process.stderr)")
            process.stop()
        }
        throw lastError ?? TestFailure("mosquitto did not start")
    }

    public func stop() { process.stop() }

    /// Publishes with mosquitto_pub: one message, or with `lines`, one message per line (`-l`).
    /// A payload over 64 KiB goes through a file (`-f`): the command line could not hold it.
    public func publish(topic: String, payload: String? = nil, lines: [String]? = nil, qos: Int = 1,
                        arguments: [String] = []) async throws {
        let tool = try TestEnvironment.tool("mosquitto_pub", package: "mosquitto-clients")
        var args = ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "\(qos)"] + arguments
        let scratch = try TemporaryDirectory("mosquitto-pub")
        if lines != nil {
            args.append("-l")
        } else if let payload, payload.utf8.count > 65_536 {
            args += ["-f", try scratch.write("payload", payload)]
        } else {
            args += ["-m", payload ?? ""]
        }
        let process = try ManagedProcess(tool, args, directory: scratch, name: "pub",
                                         stdin: lines.map { $0.joined(separator: "\n") + "\n" })
        let status = try await process.finish(timeout: .seconds(60))
        guard status == 0 else { throw TestFailure("mosquitto_pub failed (\(status)): \(process.stderr)") }
    }
}

/// A throw-away certificate authority and a server certificate for 127.0.0.1, made with openssl.
public struct TestCertificates: Sendable {
    public let caCertificate: String
    public let serverCertificate: String
    public let serverKey: String

    public init(in directory: TemporaryDirectory, name: String = "test") async throws {
        let openssl = try TestEnvironment.tool("openssl", package: "openssl")
        caCertificate = directory.path("\(name)-ca.crt")
        serverCertificate = directory.path("\(name)-server.crt")
        serverKey = directory.path("\(name)-server.key")
        let caKey = directory.path("\(name)-ca.key"), request = directory.path("\(name)-server.csr")
        let extensions = try directory.write("\(name)-san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Vigil test CA \(name)",
             "-keyout", caKey, "-out", caCertificate],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", serverKey, "-out", request],
            ["x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
             "-extfile", extensions, "-out", serverCertificate],
        ]
        for step in steps {
            let process = try ManagedProcess(openssl, step, directory: directory, name: "openssl")
            guard try await process.finish() == 0 else { throw TestFailure("openssl \(step[0]) failed: \(process.stderr)") }
        }
    }
}

/// curl, for HTTPS requests that verify the gateway's certificate like a real client does.
public enum Curl {
    public struct Response: Sendable {
        public let status: Int
        public let body: String
        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    /// `arguments` go to curl before the URL: `-u user:password`, `--data-urlencode …` for a POST.
    public static func get(_ url: String, caCertificate: String? = nil, insecure: Bool = false,
                           headers: [String] = [], arguments extra: [String] = []) async throws -> Response {
        let curl = try TestEnvironment.tool("curl", package: "curl")
        let directory = try TemporaryDirectory("curl")
        var arguments = ["-sS", "--max-time", "10", "-o", directory.path("body"), "-w", "%{http_code}"]
        if let caCertificate { arguments += ["--cacert", caCertificate] }
        if insecure { arguments.append("-k") }
        for header in headers { arguments += ["-H", header] }
        arguments += extra
        arguments.append(url)
        let process = try ManagedProcess(curl, arguments, directory: directory, name: "curl")
        let status = try await process.finish()
        guard status == 0 else { throw TestFailure("curl \(url) failed (\(status)): \(process.stderr)") }
        let body = (try? String(contentsOfFile: directory.path("body"), encoding: .utf8)) ?? ""
        return Response(status: Int(process.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, body: body)
    }
}
