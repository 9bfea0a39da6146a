import Foundation
import Synchronization

/// A thread of its own for work whose I/O blocks (a serial port, a Modbus master, libmosquitto's
/// loop), so that it never holds up an event loop, the cooperative pool, or another source.
/// The body checks `stopping` between steps and sleeps with `sleep(until:)`, which a stop request
/// interrupts at once.
public final class DedicatedThread: Sendable {
    private struct State {
        var stop = false
        var exited = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Wakes a sleeping body when a stop is requested. NSCondition is thread-safe by design.
    private let wakeup = NSCondition()

    private init() {}

    /// True once a stop was requested; the body returns at its next check.
    public var stopping: Bool { state.withLock { $0.stop } }

    /// Starts `body` on a new thread named `name`.
    public static func start(name: String, _ body: @escaping @Sendable (DedicatedThread) -> Void) -> DedicatedThread {
        let worker = DedicatedThread()
        let thread = Thread {
            body(worker)
            worker.exited()
        }
        thread.name = name
        thread.start()
        return worker
    }

    /// Asks the body to return, waking it if it sleeps.
    public func requestStop() {
        state.withLock { $0.stop = true }
        wakeup.lock()
        wakeup.broadcast()
        wakeup.unlock()
    }

    /// Sleeps until `deadline`, returning early when a stop is requested.
    public func sleep(until deadline: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        wakeup.lock()
        defer { wakeup.unlock() }
        while !stopping {
            let left = deadline - clock.now
            guard left > .zero else { return }
            _ = wakeup.wait(until: Date(timeIntervalSinceNow: left.inSeconds))
        }
    }

    public func sleep(for duration: Duration) { sleep(until: ContinuousClock.now + duration) }

    /// Returns once the body has returned, without blocking the calling task's thread.
    public func waitUntilExited() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.exited { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func exited() {
        let waiters = state.withLock { state in
            state.exited = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
