import VigilStore

/// Mutes notifications for the alerts whose labels match, between two times. Alerts keep their
/// state and stay listed (marked silenced); a silence that ends while an alert still fires lets the
/// firing notification go out then.
public struct Silence: Sendable, Codable, Equatable {
    public let id: String
    /// Selector over alert labels (`metric` is the series name): `{alertname="DoorOpen",device="d1"}`.
    public let matchers: String
    public let startsAtMs: Int64
    public var endsAtMs: Int64
    public let createdBy: String
    public let comment: String

    public init(id: String, matchers: String, startsAtMs: Int64, endsAtMs: Int64, createdBy: String, comment: String) throws(StoreError) {
        _ = try SeriesSelector.parse(matchers)
        self.id = id
        self.matchers = matchers
        self.startsAtMs = startsAtMs
        self.endsAtMs = endsAtMs
        self.createdBy = createdBy
        self.comment = comment
    }

    public func isActive(at now: Int64) -> Bool { startsAtMs <= now && now < endsAtMs }
}

/// Silences with their selectors compiled once.
struct SilenceSet: Sendable {
    private(set) var silences: [Silence] = []
    private var selectors: [String: SeriesSelector] = [:]

    init(_ silences: [Silence] = []) {
        for silence in silences { add(silence) }
    }

    mutating func add(_ silence: Silence) {
        silences.removeAll { $0.id == silence.id }
        silences.append(silence)
        selectors[silence.id] = try? SeriesSelector.parse(silence.matchers)
    }

    mutating func remove(id: String) -> Silence? {
        guard let index = silences.firstIndex(where: { $0.id == id }) else { return nil }
        selectors[id] = nil
        return silences.remove(at: index)
    }

    /// The active silences matching the instance.
    func matching(_ instance: AlertInstance, at now: Int64) -> [Silence] {
        let key = instance.labelKey
        return silences.filter { $0.isActive(at: now) && (selectors[$0.id]?.matches(key) ?? false) }
    }

    /// Silences that ended more than `keepMs` ago: forgotten.
    mutating func expire(now: Int64, keepMs: Int64) -> [String] {
        let old = silences.filter { now - $0.endsAtMs > keepMs }.map(\.id)
        for id in old { _ = remove(id: id) }
        return old
    }
}
