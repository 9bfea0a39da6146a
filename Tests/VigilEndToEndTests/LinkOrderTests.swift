import Foundation
import Testing
import VigilTestSupport

/// The tooling behind the release binary's code order (deploy/profile-order.sh,
/// deploy/order_from_callgrind.py, the link flags of deploy/build-release.sh), on a small C program
/// with the same toolchain: clang and lld with one section per function and a link map, callgrind
/// recording what runs, the order file and linker script written from both, and a second link
/// that must put every executed function before every function that never ran.
@Suite("Link order")
struct LinkOrderTests {
    static let program = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        #define COLD(n) __attribute__((noinline)) double cold_##n(double x) { \\
            for (int i = 0; i < 50; i++) x = x * 1.0001 + i / (x + 3.0) - (double)(n); return x; }
        COLD(1) COLD(2) COLD(3) COLD(4) COLD(5) COLD(6) COLD(7) COLD(8)
        __attribute__((noinline)) double startup_work(double x) { return x * 2.0 + 1.0; }
        __attribute__((noinline)) double hot_loop(double x) {
            for (int i = 0; i < 100000; i++) x = x * 0.5 + 1.0; return x; }
        int main(int argc, char **argv) {
            if (argc == 2 && argv[1][0] == 'w') { printf("ready %f\\n", hot_loop(1.0)); fflush(stdout); pause(); return 0; }
            double x = startup_work(argc);
            if (argc > 5) x += cold_1(x) + cold_2(x) + cold_3(x) + cold_4(x) + cold_5(x) + cold_6(x) + cold_7(x) + cold_8(x);
            printf("%f\\n", hot_loop(x));
            return 0;
        }
        """

    @Test func executedFunctionsAreLinkedFirst() async throws {
        let directory = try TemporaryDirectory("link-order")
        try Self.program.write(toFile: directory.path("program.c"), atomically: true, encoding: .utf8)
        let clang = try Self.clang()
        let valgrind = try TestEnvironment.tool("valgrind", package: "valgrind")
        let python = try TestEnvironment.tool("python3", package: "python3")
        let nm = try TestEnvironment.tool("nm", package: "binutils")
        let path = { (name: String) in directory.path(name) }  // the processes start in another directory
        let flags = ["-O1", "-ffunction-sections", "-fuse-ld=lld", path("program.c")]

        // Linked as the sources come (main last in the file, the cold functions first).
        var result = try await Self.run(clang, flags + ["-Wl,-Map=\(path("program.map"))", "-o", path("program")], in: directory)
        #expect(result.status == 0, "\(result.err)")
        result = try await Self.run(valgrind, ["--tool=callgrind", "--dump-instr=yes", "--callgrind-out-file=\(path("callgrind.out"))", path("program")],
                                    in: directory)
        #expect(result.status == 0, "\(result.err)")
        let generator = TestEnvironment.packageRoot.appendingPathComponent("deploy/order_from_callgrind.py").path
        result = try await Self.run(python, [generator, path("program.map"), "program", path("order.ld"), path("callgrind.out")], in: directory)
        #expect(result.status == 0, "\(result.err)")
        let order = result.out.split(separator: "\n").map(String.init)
        #expect(Array(order.prefix(1)) == ["hot_loop"], "hottest first: \(order)")
        #expect(order.contains("main") && order.contains("startup_work"), "\(order)")
        #expect(!order.contains { $0.hasPrefix("cold_") }, "never ran: \(order)")
        let script = try String(contentsOfFile: directory.path("order.ld"), encoding: .utf8)
        #expect(script.contains("INSERT BEFORE .text;"), "\(script)")

        // Linked again in that order: everything that ran lies before everything that did not.
        try order.joined(separator: "\n").write(toFile: directory.path("order"), atomically: true, encoding: .utf8)
        result = try await Self.run(clang, flags + ["-Wl,--symbol-ordering-file=\(path("order"))", "-Wl,-T,\(path("order.ld"))", "-o", path("ordered")], in: directory)
        #expect(result.status == 0, "\(result.err)")
        result = try await Self.run(nm, ["--defined-only", path("ordered")], in: directory)
        var addresses: [String: UInt64] = [:]
        for line in result.out.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, let address = UInt64(fields[0], radix: 16) { addresses[String(fields[2])] = address }
        }
        let ran = try order.map { name in try #require(addresses[name], "\(name) not in the ordered binary") }
        let cold = try (1...8).map { n in try #require(addresses["cold_\(n)"]) }
        #expect(ran.max()! < cold.min()!, "executed \(ran.map { String($0, radix: 16) }), cold \(cold.map { String($0, radix: 16) })")
        result = try await Self.run(directory.path("ordered"), [], in: directory)
        #expect(result.status == 0 && !result.out.isEmpty, "the ordered program still runs: \(result.err)")
    }

    /// bench/footprint/code-map.py on a running program: its code's resident pages, shared out among
    /// the input sections of the link map.
    @Test func theCodeMapFindsTheResidentCode() async throws {
        let directory = try TemporaryDirectory("code-map")
        try Self.program.write(toFile: directory.path("program.c"), atomically: true, encoding: .utf8)
        let python = try TestEnvironment.tool("python3", package: "python3")
        var result = try await Self.run(try Self.clang(), ["-O1", "-ffunction-sections", "-fuse-ld=lld", directory.path("program.c"),
                                                          "-Wl,-Map=\(directory.path("program.map"))", "-o", directory.path("program")], in: directory)
        #expect(result.status == 0, "\(result.err)")
        let program = try ManagedProcess(directory.path("program"), ["wait"], directory: directory, name: "program")
        defer { program.stop() }
        _ = try await program.waitForOutput(containing: "ready")
        let tool = TestEnvironment.packageRoot.appendingPathComponent("bench/footprint/code-map.py").path
        result = try await Self.run(python, [tool, String(program.pid), directory.path("program.map"), "--top", "50"], in: directory)
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("code of \(directory.path("program"))"), "\(result.out)")
        let sections = result.out.split(separator: "\n").filter { $0.contains(":(.text.") }
        #expect(sections.contains { $0.contains("(.text.hot_loop)") }, "the function that ran is resident: \(result.out)")
        #expect(!result.out.contains(".debug"), "\(result.out)")
    }

    /// The toolchain's clang (next to `swift`), which drives its lld as deploy/build-release.sh does.
    static func clang() throws -> String {
        let swift = try TestEnvironment.tool("swift", package: "the Swift toolchain")
        let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidate = real.appendingPathComponent("clang").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else { throw TestFailure("no clang next to \(swift)") }
        return candidate
    }

    static func run(_ tool: String, _ arguments: [String], in directory: TemporaryDirectory) async throws
        -> (status: Int32, out: String, err: String) {
        let name = "\(URL(fileURLWithPath: tool).lastPathComponent)-\(UUID().uuidString.prefix(6))"
        let process = try ManagedProcess(tool, arguments, directory: directory, name: name)
        let status = try await process.finish(timeout: .seconds(120))
        return (status, process.stdout, process.stderr)
    }
}
