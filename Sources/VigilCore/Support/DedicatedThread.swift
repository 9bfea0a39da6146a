import CThreadName
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// Wakes a sleeping body when a stop is requested.
    private let wakeup = Wakeup()

    private init() {}

    /// True once a stop was requested; the body returns at its next check.
    public var stopping: Bool { state.withLock { $0.stop } }

    /// Starts `body` on a new thread named `name`.
    public static func start(name: String, _ body: @escaping @Sendable (DedicatedThread) -> Void) -> DedicatedThread {
        let worker = DedicatedThread()
        // A POSIX thread, detached: `waitUntilExited` learns of its end from `exited()`.
        final class Start {
            let run: () -> Void
            init(_ run: @escaping () -> Void) { self.run = run }
        }
        let start = Unmanaged.passRetained(Start {
            // Linux names threads in at most 15 bytes.
            _ = cthreadname_set_current(String(decoding: name.utf8.prefix(15), as: UTF8.self))
            body(worker)
            worker.exited()
        })
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            start.run()
            return nil
        }, start.toOpaque())
        precondition(created == 0, "pthread_create failed: \(created)")
        pthread_detach(thread)
        return worker
    }

    /// Asks the body to return, waking it if it sleeps.
    public func requestStop() {
        state.withLock { $0.stop = true }
        wakeup.broadcast()
    }

    /// Sleeps until `deadline`, returning early when a stop is requested.
    public func sleep(until deadline: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        wakeup.lock()
        defer { wakeup.unlock() }
        while !stopping {
            let left = deadline - clock.now
            guard left > .zero else { return }
            wakeup.wait(for: left)
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

/// A condition variable with its mutex (POSIX), waited on with the monotonic clock.
private final class Wakeup: @unchecked Sendable {
    // Safe to share: pthread mutexes and condition variables exist to be used from several
    // threads; the pointers are set once in init and freed in deinit, when no thread holds them.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func broadcast() {
        lock()
        pthread_cond_broadcast(condition)
        unlock()
    }

    /// Waits (the mutex held) until woken or `duration` passed.
    func wait(for duration: Duration) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = duration.components
        var nanoseconds = Int64(now.tv_nsec) + attoseconds / 1_000_000_000
        let wholeSeconds = Int(min(seconds, 86_400 * 365)) + Int(nanoseconds / 1_000_000_000)  // checked: integers, at most a year
        var deadline = timespec(tv_sec: now.tv_sec + wholeSeconds, tv_nsec: 0)
        nanoseconds %= 1_000_000_000
        deadline.tv_nsec = Int(nanoseconds)
        _ = pthread_cond_timedwait(condition, mutex, &deadline)
    }
}
