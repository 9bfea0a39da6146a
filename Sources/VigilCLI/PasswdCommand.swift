import ArgumentParser
import VigilCrypto
import HummingbirdBcrypt
import VigilCore

#if canImport(Glibc)
import Glibc
#endif

struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Hash a console password for auth.users[].password_hash.",
        discussion: """
            Reads the password from standard input: at a terminal it asks twice without echo; from a pipe
            it reads the first line. Prints a bcrypt hash to paste into the config. The password itself is
            never printed or logged.

            With --token, makes a random API token for a machine client instead: prints the token (give
            it to the client; it is shown once) and the auth.tokens entry with its SHA-256.

            Examples:
              vigil passwd
              printf '%s\\n' "$PASSWORD" | vigil passwd --cost 12
              vigil passwd --token --name grafana --role viewer
            """)

    @Flag(help: "Make an API token instead of hashing a password.")
    var token = false

    @Option(help: "The token's name (with --token).")
    var name = "client"

    @Option(help: "The token's role: viewer, operator or admin (with --token).")
    var role = "viewer"

    @Option(help: "bcrypt cost factor (work doubles with each step).")
    var cost: Int = 12

    func validate() throws {
        guard (10...16).contains(cost) else { throw ValidationError("--cost must be from 10 to 16") }
    }

    func run() throws {
        if token {
            guard ["viewer", "operator", "admin"].contains(role) else { Terminal.fail("vigil passwd: --role must be viewer, operator or admin") }
            let secret = "vgl_" + Secrets.hex(Secrets.randomBytes(32))
            let digest = Secrets.hex(Digest.sha256(Array(secret.utf8)))
            print("token: \(secret)")
            print("config (auth.tokens):\n  - name: \(name)\n    role: \(role)\n    sha256: \(digest)")
            return
        }
        let password: String
        if isatty(STDIN_FILENO) == 1 {
            guard let first = Terminal.readSecret(prompt: "Password: ") else { Terminal.fail("no password read") }
            guard let second = Terminal.readSecret(prompt: "Repeat password: ") else { Terminal.fail("no password read") }
            guard first == second else { Terminal.fail("vigil passwd: the passwords differ") }
            password = first
        } else {
            guard let line = readLine(strippingNewline: true) else { Terminal.fail("vigil passwd: no password on standard input") }
            password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        guard password.count >= 8 else { Terminal.fail("vigil passwd: use at least 8 characters") }
        guard password.utf8.count <= 72 else { Terminal.fail("vigil passwd: bcrypt uses at most 72 bytes of a password") }
        print(Bcrypt.hash(password, cost: UInt8(cost)))
    }
}
