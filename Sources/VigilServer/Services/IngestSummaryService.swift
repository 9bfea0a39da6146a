import Logging
import ServiceLifecycle
import VigilConfig
import VigilCore

/// A bus subscriber that logs what is arriving every `interval`: readings, distinct series, rate
/// and one recent example, so an operator tailing the log sees ingest working (or not).
struct IngestSummaryService: Service {
    let subscription: ReadingSubscription
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let subscription = self.subscription
        let summary = Summary()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await batch in subscription.cancelOnGracefulShutdown() { await summary.add(batch) }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil, !Task.isShuttingDownGracefully {
                    await summary.flush(to: logger, over: interval)
                }
            }
            await group.next()
            group.cancelAll()
        }
        await summary.add(subscription.takePending())
        await summary.flush(to: logger, over: interval, final: true)
        subscription.cancel()
        // Returning before this service's turn in the shutdown order would fail the group.
        try? await gracefulShutdown()
    }

    actor Summary {
        var readings = 0
        var series = DistinctSeriesCount()
        var latest: Reading?

        func add(_ batch: [Reading]) {
            guard !batch.isEmpty else { return }
            readings += batch.count
            for reading in batch { series.add(reading.series) }
            latest = batch.last
        }

        /// `final`: the flush at shutdown, which has nothing to say when nothing arrived.
        func flush(to logger: Logger, over interval: Duration, final: Bool = false) {
            defer {
                readings = 0
                series.reset()
                latest = nil
            }
            guard readings > 0, let latest else {
                if final { return }
                logger.info("ingest summary: no readings arrived", metadata: ["interval": "\(ConfigValues.format(interval))"])
                return
            }
            let seconds = max(0.001, Double(interval.milliseconds) / 1000)
            let unit = latest.unit.map { " \($0)" } ?? ""
            logger.info("ingest summary", metadata: [
                "readings": "\(readings)", "series": "\(series.estimate.map(String.init) ?? "over a million")",
                "per_second": "\((Double(readings) / seconds * 10).rounded() / 10)",
                "latest": "\(latest.series) = \(latest.value)\(unit)",
            ])
        }
    }
}
