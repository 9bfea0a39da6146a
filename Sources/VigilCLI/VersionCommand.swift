import ArgumentParser
import VigilServer

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version and build details.",
        discussion: "Example:\n  vigil version")

    static var versionLine: String {
        "vigil \(BuildInfo.version) (swift \(BuildInfo.swiftVersion), \(BuildInfo.os)/\(BuildInfo.arch))"
    }

    func run() { print(Self.versionLine) }
}
