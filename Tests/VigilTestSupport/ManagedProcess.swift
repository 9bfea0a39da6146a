import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process for integration tests: output captured to files in a temp directory, helpers
/// to wait for a log line or an exit, and a kill on `stop()` so nothing outlives the test.
public final class ManagedProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched through Foundation's thread-safe Process API, and the
    // output paths are immutable after init.
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String
    public let name: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                directory: TemporaryDirectory, name: String, stdin: String? = nil) throws {
        self.name = name
        stdoutPath = directory.path("\(name).stdout")
        stderrPath = directory.path("\(name).stderr")
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin {
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            pipe.fileHandleForWriting.write(Data(stdin.utf8))
            try pipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stderr or stdout contains `text`; returns the matching line.
    @discardableResult
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(15)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for output in [stderr, stdout] {
                if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            }
            if !process.isRunning {
                throw TestFailure("\(name) exited (status \(process.terminationStatus)) before printing '\(text)'.\nstderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(name) did not print '\(text)' within \(timeout).\nstderr:\n\(stderr)")
    }

    public func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

    /// Waits for the process to exit; nil on timeout.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Runs to completion (for short CLI invocations).
    public func finish(timeout: Duration = .seconds(30)) async throws -> Int32 {
        guard let status = await waitForExit(timeout: timeout) else {
            stop()
            throw TestFailure("\(name) did not finish within \(timeout)")
        }
        return status
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
