import Logging
import Metrics
import VigilCore

/// Delivers one notifier's queued notifications, oldest first, one at a time. A failure keeps the
/// notification at the head and retries after an exponential backoff with jitter (from
/// `retry_initial` up to `retry_max`), so a receiver that comes back gets everything, in order.
struct OutboxDeliverer: Sendable {
    let center: AlertCenter
    let notifier: any AlertNotifier
    let retryInitial: Duration
    let retryMax: Duration
    let logger: Logger
    let sent: Counter
    let failed: Counter
    let dropped: Counter
    let failureLog = RateLimiter(burst: 3, window: .seconds(60))

    init(center: AlertCenter, notifier: any AlertNotifier, config: NotifierConfig, logger: Logger) {
        self.center = center
        self.notifier = notifier
        self.retryInitial = config.retryInitial
        self.retryMax = config.retryMax
        var logger = logger
        logger[metadataKey: "notifier"] = "\(config.name)"
        self.logger = logger
        let labels = [("notifier", config.name), ("type", config.typeName)]
        sent = Counter(label: "vigil_alert_notifications_sent_total", dimensions: labels)
        failed = Counter(label: "vigil_alert_notifications_failed_total", dimensions: labels)
        dropped = Counter(label: "vigil_alert_notifications_dropped_total", dimensions: labels)
    }

    func run() async {
        guard let doorbell = center.persistence.doorbells[notifier.name] else { return }
        while !Task.isCancelled {
            guard let entry = await center.persistence.outboxHead(notifier.name) else {
                await doorbell.wait(timeout: .seconds(30))
                continue
            }
            let now = WallClock.nowMs()
            if entry.nextAttemptMs > now {
                await doorbell.wait(timeout: .milliseconds(entry.nextAttemptMs - now))
                continue
            }
            guard let notification = AlertNotification.decode(entry.body) else {
                logger.error("dropping an unreadable queued notification", metadata: ["outbox_id": "\(entry.id)"])
                await center.persistence.markDelivered(entry)
                continue
            }
            do throws(NotifierError) {
                try await notifier.send(notification, body: entry.body)
                await center.persistence.markDelivered(entry)
                sent.increment()
                if entry.attempts > 0 {
                    logger.notice("notification delivered after retries", metadata: [
                        "id": "\(notification.id)", "attempts": "\(entry.attempts + 1)", "alert": "\(entry.alert)"])
                } else {
                    logger.debug("notification delivered", metadata: ["id": "\(notification.id)", "alert": "\(entry.alert)"])
                }
            } catch {
                await handle(error, entry: entry, notification: notification)
            }
        }
    }

    private func handle(_ error: NotifierError, entry: AlertDatabase.OutboxEntry, notification: AlertNotification) async {
        switch error {
        case .rejected(let reason):
            dropped.increment()
            logger.error("notification rejected by the receiver, dropped: \(reason)", metadata: [
                "id": "\(notification.id)", "alert": "\(entry.alert)"])
            await center.persistence.markDelivered(entry)
        case .retry(let reason):
            failed.increment()
            let delay = backoff(attempt: entry.attempts)
            await center.persistence.markFailed(entry, error: reason, retryAtMs: WallClock.nowMs() + delay.milliseconds)
            let decision = failureLog.check("retry")
            if decision.emit {
                logger.warning("notification not delivered, will retry: \(reason)", metadata: [
                    "id": "\(notification.id)", "attempt": "\(entry.attempts + 1)", "retry_in": "\(delay.compactDescription)",
                    "suppressed_since_last": "\(decision.suppressed)"])
            }
        }
    }

    /// The delay before the next attempt: the shared reconnect backoff, resumed at the entry's
    /// attempt count (kept in the outbox, so a restart does not reset it).
    func backoff(attempt: Int) -> Duration {
        var backoff = ReconnectBackoff(minimum: retryInitial, maximum: retryMax, attempt: attempt)
        return backoff.nextDelay()
    }
}
