/// What the alert engine wants saved: the outcome of one evaluation, API call or reload, and also
/// several of them merged while the database was busy. Applied in one transaction, in order of
/// submission, so a merged batch leaves `alerts.db` exactly as the separate ones would have.
struct AlertWrites: Sendable {
    /// The latest saved form of each changed instance; nil forgets it.
    private(set) var instances: [AlertInstance.Key: AlertInstance?] = [:]
    /// Notifications to queue, in order.
    private(set) var enqueue: [AlertDatabase.Queued] = []
    /// The latest form of each changed silence; nil deletes it.
    private(set) var silences: [String: Silence?] = [:]

    var isEmpty: Bool { instances.isEmpty && enqueue.isEmpty && silences.isEmpty }

    /// The notifiers with something new to deliver once this is saved.
    var notifiers: Set<String> { Set(enqueue.map(\.notifier)) }

    mutating func save(_ instance: AlertInstance) { instances[instance.key] = .some(instance) }
    mutating func forget(_ key: AlertInstance.Key) { instances[key] = .some(nil) }
    mutating func queue(_ item: AlertDatabase.Queued) { enqueue.append(item) }
    mutating func save(_ silence: Silence) { silences[silence.id] = .some(silence) }
    mutating func deleteSilence(_ id: String) { silences[id] = .some(nil) }

    /// Adds writes submitted after these: later forms of the same instance or silence win, and
    /// notifications keep their order (the database supersedes an earlier repeat as it inserts).
    mutating func merge(_ later: AlertWrites) {
        instances.merge(later.instances) { _, new in new }
        enqueue += later.enqueue
        silences.merge(later.silences) { _, new in new }
    }
}
