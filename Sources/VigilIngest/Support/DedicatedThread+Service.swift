import ServiceLifecycle
import VigilCore

extension DedicatedThread {
    /// Runs `body` on its own thread for the life of a service: returns once graceful shutdown
    /// asked the body to stop and it did.
    static func run(name: String, _ body: @escaping @Sendable (DedicatedThread) -> Void) async {
        let worker = DedicatedThread.start(name: name, body)
        try? await gracefulShutdown()
        worker.requestStop()
        await worker.waitUntilExited()
    }
}
