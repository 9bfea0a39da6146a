import Dispatch
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Small helpers for a command-line tool's own terminal I/O.
enum Terminal {
    static func printError(_ line: String) { write(line + "\n", to: STDERR_FILENO) }

    /// All of `text` to a descriptor (standard error, an export file), through EINTR and short writes.
    static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// Everything until end of file from a descriptor (standard input).
    static func readAll(_ descriptor: Int32 = STDIN_FILENO) -> [UInt8] {
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return all }
            all.append(contentsOf: chunk[..<count])
        }
    }

    /// One line to stderr, exit status 1. For errors that the user fixes (no stack trace).
    static func fail(_ line: String) -> Never {
        printError(line)
        exit(1)
    }

    /// Reads a line from the terminal with echo off.
    static func readSecret(prompt: String) -> String? {
        write(prompt, to: STDERR_FILENO)
        var original = termios()
        tcgetattr(STDIN_FILENO, &original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            write("\n", to: STDERR_FILENO)
        }
        return readLine(strippingNewline: true)
    }
}

/// Runs `action` once when one of `signals` arrives (the default handlers are replaced while it is alive).
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], action: @escaping @Sendable () -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
