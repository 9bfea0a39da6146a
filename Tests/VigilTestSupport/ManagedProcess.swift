import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process for integration tests: output captured to files in a temp directory, helpers
/// to wait for a log line or an exit, and SIGTERM-then-SIGKILL on `stop()` so nothing outlives
/// the test.
///
/// Started with posix_spawn rather than Foundation's Process: on Linux, Process starts children
/// with almost every signal blocked, so a SIGTERM sent by a test would never reach them. Here the
/// child gets an empty signal mask and default signal dispositions, like a child of a shell.
public final class ManagedProcess: Sendable {
    public let stdoutPath: String
    public let stderrPath: String
    public let name: String
    public let pid: pid_t
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                directory: TemporaryDirectory, name: String, stdin: String? = nil) throws {
        self.name = name
        stdoutPath = directory.path("\(name).stdout")
        stderrPath = directory.path("\(name).stderr")
        var stdinPath = "/dev/null"
        if let stdin { stdinPath = try directory.write("\(name).stdin", stdin) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Reaps the child if it has exited; nil while it runs.
    public var terminationStatus: Int32? {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            // Exit code, or 128 + signal number as a shell reports it.
            let signal = raw & 0x7F
            status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
            return status
        }
    }

    public var isRunning: Bool { terminationStatus == nil }

    /// Waits until stderr or stdout contains `text`; returns the matching line.
    ///
    /// The output is read once more after the deadline has passed: when synchronous tests hold
    /// both threads of the cooperative pool (2 cores), this task may not run again until long
    /// after the line was printed, and it failed CI twice that way, with the line in the file.
    @discardableResult
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(15)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            for output in [stderr, stdout] {
                if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            }
            if let status = terminationStatus {
                throw TestFailure("\(name) exited (status \(status)) before printing '\(text)'.\nstderr:\n\(stderr)")
            }
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(name) did not print '\(text)' within \(timeout).\nstderr:\n\(stderr)")
    }

    public func signal(_ number: Int32) { if isRunning { kill(pid, number) } }

    /// Waits for the process to exit; nil on timeout.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = terminationStatus { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Runs to completion (for short CLI invocations).
    public func finish(timeout: Duration = .seconds(60)) async throws -> Int32 {
        guard let status = await waitForExit(timeout: timeout) else {
            stop()
            throw TestFailure("\(name) did not finish within \(timeout)")
        }
        return status
    }

    /// SIGTERM, then SIGKILL if it is still there after 3 s; always reaps.
    public func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<300 {
            if !isRunning { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        while isRunning { usleep(10_000) }
    }

    deinit { stop() }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
