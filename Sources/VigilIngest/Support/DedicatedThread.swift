import Foundation
import ServiceLifecycle
import Synchronization

/// A thread of its own for a source whose I/O blocks (a serial port, a Modbus master), so that it
/// never holds up an event loop, the cooperative pool, or another source. `run` starts the body on
/// the thread and returns once graceful shutdown asked the body to stop and it did.
final class DedicatedThread: Sendable {
    private let state = Mutex((stop: false, exited: false, waiters: [CheckedContinuation<Void, Never>]()))

    /// True once shutdown began; the body checks it between steps and returns.
    var stopping: Bool { state.withLock { $0.stop } }

    static func run(name: String, _ body: @escaping @Sendable (DedicatedThread) -> Void) async {
        let worker = DedicatedThread()
        let thread = Thread {
            body(worker)
            worker.exited()
        }
        thread.name = name
        thread.start()
        try? await gracefulShutdown()
        worker.state.withLock { $0.stop = true }
        await worker.waitUntilExited()
    }

    /// Sleeps until `deadline` in short steps, returning early when a stop is requested.
    func sleep(until deadline: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        while !stopping {
            let left = deadline - clock.now
            guard left > .zero else { return }
            let micros = min(20_000, max(50, left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000))
            usleep(UInt32(micros))
        }
    }

    func sleep(for duration: Duration) { sleep(until: ContinuousClock.now + duration) }

    private func exited() {
        let waiters = state.withLock { state in
            state.exited = true
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitUntilExited() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.exited { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
