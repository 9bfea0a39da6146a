import Foundation
import Testing
import VigilTestSupport

/// `make deb` (deploy/build-deb.sh), checked the way Debian checks packages: dpkg-deb's view of
/// it, lintian, and dpkg installing, upgrading, removing and purging it under a directory
/// (`dpkg --root`, maintainer scripts honouring DPKG_ROOT), so the host is never touched.
///
/// It packages the debug build the tests already have (the release package holds the static
/// build; the packaging is the same), so the one lintian tag only the debug build brings is
/// expected, and nothing else.
@Suite("Debian package", .serialized)
struct DebianPackageTests {
    /// The tag expected from this build: the debug binary's RUNPATH to the Swift toolchain (the
    /// static build has none). `embedded-library` (a vendored zlib, which async-http-client brought
    /// through swift-nio-extras) must not come back.
    static let expectedErrors: Set<String> = ["custom-library-search-path"]

    struct Package {
        let directory: TemporaryDirectory
        let deb: String
    }

    static func build() async throws -> Package {
        let directory = try TemporaryDirectory("deb")
        let script = TestEnvironment.packageRoot.appendingPathComponent("deploy/build-deb.sh").path
        // Stripping a debug build of a few hundred MB and packing it is heavy on CPU and disk:
        // at the lowest priority, so that the suites starting their servers beside it are not
        // starved (they missed their start deadlines once).
        let process = try ManagedProcess("/usr/bin/nice", ["-n", "19", "ionice", "-c", "3", "/bin/bash", script,
                                                           "--binary", try TestEnvironment.vigilBinary(), "--out", directory.path("out"), "--fast"],
                                         directory: directory, name: "build-deb")
        let status = try await process.finish(timeout: .seconds(300))
        #expect(status == 0, "\(process.stderr)")
        let built = try FileManager.default.contentsOfDirectory(atPath: directory.path("out")).filter { $0.hasSuffix(".deb") }
        let name = try #require(built.first, "no .deb in \(built)")
        return Package(directory: directory, deb: directory.path("out/\(name)"))
    }

    /// Runs a tool and returns its exit status, stdout and stderr.
    static func run(_ tool: String, _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String] = [:],
                    timeout: Duration = .seconds(120)) async throws -> (status: Int32, out: String, err: String) {
        let name = "\(URL(fileURLWithPath: tool).lastPathComponent)-\(UUID().uuidString.prefix(6))"
        let process = try ManagedProcess(tool, arguments, environment: environment, directory: directory, name: name)
        let status = try await process.finish(timeout: timeout)
        return (status, process.stdout, process.stderr)
    }

    /// One package for both checks: building it (strip, pack) and lintian cost CPU that the
    /// tests running beside this one need.
    @Test func thePackageIsWellFormedAndInstallsUpgradesRemovesAndPurges() async throws {
        let package = try await Self.build()
        try await contents(package)
        try await lifecycle(package)
    }

    func contents(_ package: Package) async throws {
        let dpkgDeb = try TestEnvironment.tool("dpkg-deb", package: "dpkg")
        let info = try await Self.run(dpkgDeb, ["--info", package.deb], in: package.directory)
        #expect(info.status == 0)
        #expect(info.out.contains("Package: vigil"))
        #expect(info.out.contains("Depends:") && info.out.contains("libmosquitto1") && info.out.contains("libsqlite3-0"), "\(info.out)")
        // The C library at the version the binary's symbol versions need (a box with an older one
        // is refused by dpkg instead of failing at start).
        #expect(info.out.contains("libc6 (>= 2."), "\(info.out)")
        let conffiles = try await Self.run(dpkgDeb, ["--info", package.deb, "conffiles"], in: package.directory)
        #expect(conffiles.out.trimmingCharacters(in: .whitespacesAndNewlines) == "/etc/vigil/vigil.yaml")

        let contents = try await Self.run(dpkgDeb, ["--contents", package.deb], in: package.directory)
        for path in ["./usr/bin/vigil", "./lib/systemd/system/vigil.service", "./etc/vigil/vigil.yaml",
                     "./usr/share/doc/vigil/copyright", "./usr/share/doc/vigil/changelog.Debian.gz", "./usr/share/man/man1/vigil.1.gz"] {
            #expect(contents.out.contains(" \(path)\n"), "\(path) missing from\n\(contents.out)")
        }
        #expect(!contents.out.contains("/usr/local/"))

        let extracted = package.directory.path("x")
        #expect(try await Self.run(dpkgDeb, ["-x", package.deb, extracted], in: package.directory).status == 0)
        let unit = try String(contentsOfFile: extracted + "/lib/systemd/system/vigil.service", encoding: .utf8)
        for line in ["ExecStart=/usr/bin/vigil run --config /etc/vigil/vigil.yaml", "User=vigil", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "StateDirectory=vigil", "CapabilityBoundingSet=\n", "MemoryDenyWriteExecute=yes"] {
            #expect(unit.contains(line), "the unit lacks \(line)")
        }
        // The shipped config is valid and listens on loopback only.
        let config = try String(contentsOfFile: extracted + "/etc/vigil/vigil.yaml", encoding: .utf8)
        #expect(config.contains("listen: 127.0.0.1:"))
        let check = try await Self.run(try TestEnvironment.vigilBinary(), ["check-config", extracted + "/etc/vigil/vigil.yaml"], in: package.directory)
        #expect(check.status == 0, "\(check.out)\(check.err)")

        let lintian = try TestEnvironment.tool("lintian", package: "lintian")
        let report = try await Self.run("/usr/bin/nice", ["-n", "19", "ionice", "-c", "3", lintian, "--tag-display-limit", "0", package.deb],
                                        in: package.directory, timeout: .seconds(300))
        let errors = report.out.split(separator: "\n").filter { $0.hasPrefix("E: ") }
        let unexpected = errors.filter { line in !Self.expectedErrors.contains(where: { line.contains(": \($0) ") }) }
        #expect(unexpected.isEmpty, "lintian errors:\n\(report.out)")
    }

    func lifecycle(_ package: Package) async throws {
        let root = try TemporaryDirectory("root")
        for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
            try FileManager.default.createDirectory(atPath: root.path(directory), withIntermediateDirectories: true)
        }
        _ = try root.write("var/lib/dpkg/status", "")
        _ = try root.write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        _ = try root.write("etc/group", "root:x:0:\n")
        _ = try root.write("etc/shadow", "root:*:19000:0:99999:7:::\n")
        _ = try root.write("etc/gshadow", "root:*::\n")
        let dpkg = try TestEnvironment.tool("dpkg", package: "dpkg")
        // Dependencies are not installed in the empty root; the scripts run on the host with
        // DPKG_ROOT set (they touch nothing outside it).
        let base = ["--root=\(root.url.path)", "--force-script-chrootless", "--force-depends", "--force-not-root"]

        let install = try await Self.run(dpkg, base + ["-i", package.deb], in: package.directory)
        #expect(install.status == 0, "\(install.out)\(install.err)")
        let passwd = try String(contentsOfFile: root.path("etc/passwd"), encoding: .utf8)
        let vigil = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("vigil:") }, "no vigil user in \(passwd)")
        let fields = vigil.split(separator: ":", omittingEmptySubsequences: false)
        #expect(fields[5] == "/var/lib/vigil" && fields[6] == "/usr/sbin/nologin")
        let uid = Int(fields[2]) ?? -1
        #expect(uid > 0 && uid < 1000, "a system user")
        let state = try FileManager.default.attributesOfItem(atPath: root.path("var/lib/vigil"))
        #expect((state[.ownerAccountID] as? NSNumber)?.intValue == uid)
        #expect((state[.posixPermissions] as? NSNumber)?.intValue == 0o750)
        let configAttributes = try FileManager.default.attributesOfItem(atPath: root.path("etc/vigil/vigil.yaml"))
        #expect((configAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o640, "the config may hold secrets")
        #expect(FileManager.default.isExecutableFile(atPath: root.path("usr/bin/vigil")))

        // An upgrade keeps the administrator's config (a conffile) and the data.
        let edited = try String(contentsOfFile: root.path("etc/vigil/vigil.yaml"), encoding: .utf8) + "# edited by the operator\n"
        try edited.write(toFile: root.path("etc/vigil/vigil.yaml"), atomically: false, encoding: .utf8)
        _ = try root.write("var/lib/vigil/metrics.db", "data")
        let upgrade = try await Self.run(dpkg, base + ["--force-confold", "-i", package.deb], in: package.directory)
        #expect(upgrade.status == 0, "\(upgrade.out)\(upgrade.err)")
        #expect(try String(contentsOfFile: root.path("etc/vigil/vigil.yaml"), encoding: .utf8) == edited)
        #expect(FileManager.default.fileExists(atPath: root.path("var/lib/vigil/metrics.db")))
        #expect(try String(contentsOfFile: root.path("etc/passwd"), encoding: .utf8).components(separatedBy: "\nvigil:").count == 2,
                "the user is created once")

        // Remove keeps config and data; purge takes both.
        let remove = try await Self.run(dpkg, base + ["-r", "vigil"], in: package.directory)
        #expect(remove.status == 0, "\(remove.out)\(remove.err)")
        #expect(!FileManager.default.fileExists(atPath: root.path("usr/bin/vigil")))
        #expect(FileManager.default.fileExists(atPath: root.path("etc/vigil/vigil.yaml")))
        #expect(FileManager.default.fileExists(atPath: root.path("var/lib/vigil/metrics.db")))
        let purge = try await Self.run(dpkg, base + ["-P", "vigil"], in: package.directory)
        #expect(purge.status == 0, "\(purge.out)\(purge.err)")
        #expect(!FileManager.default.fileExists(atPath: root.path("etc/vigil")))
        #expect(!FileManager.default.fileExists(atPath: root.path("var/lib/vigil")))
    }
}
