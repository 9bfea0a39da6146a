import VigilCore

/// Series key ⇄ series id, and an inverted index from label name and value to series ids, so a
/// selector with equality matchers touches only the series it names. In memory; persisted by the
/// store in the `series` table.
///
/// Each series also has a *slot*: 0, 1, 2… in the order it became known here. The store keeps
/// its per-series state in an array by slot (`MetricStore.SeriesState`), so a reading costs one
/// hash lookup (its key) instead of one per table; ids, which are on disk, stay as they are.
struct SeriesCatalog {
    /// Key hash → slot; the key at that slot is compared on every hit, so a lookup is exact. A
    /// table keyed by the keys themselves kept 32 bytes of key in each of its 16 384 places at
    /// 10 000 series (0.59 MB, heaptrack), where `keys` already holds every key once.
    private var slots: [Int: Int32] = [:]
    /// The keys whose hash an earlier key holds (seeded 64-bit hashes: about never).
    private var collided: [SeriesKey: Int32] = [:]
    private var slotsByID: [Int64: Int32] = [:]
    /// By slot.
    private(set) var keys: [SeriesKey] = []
    private(set) var ids: [Int64] = []
    /// label name → label value → slots, ascending (a series gets the next slot, so appending
    /// keeps them sorted); the metric name is indexed as `__name__`. Arrays of 4-byte slots rather
    /// than sets of ids: a set kept room for twice its ids at 8 bytes each plus its own header,
    /// and most values (a device's name) hold only a few series.
    private var postings: [String: [String: [Int32]]] = [:]
    private(set) var nextID: Int64 = 1

    var count: Int { keys.count }

    func id(of key: SeriesKey) -> Int64? { slot(of: key).map { ids[$0] } }

    private func slot(of key: SeriesKey) -> Int? {
        guard let slot = slots[key.precomputedHash].map(Int.init) else { return nil }
        return keys[slot] == key ? slot : collided[key].map(Int.init)
    }

    func slot(id: Int64) -> Int? { slotsByID[id].map(Int.init) }

    func key(id: Int64) -> SeriesKey? { slotsByID[id].map { keys[Int($0)] } }

    /// The slot and id for `key`, creating them if the key is new (`created` tells which).
    mutating func slot(for key: SeriesKey) -> (slot: Int, id: Int64, created: Bool) {
        if let slot = slot(of: key) { return (slot, ids[slot], false) }
        let id = nextID
        return (insert(key, id: id), id, true)
    }

    /// Adds a series read back from disk or the log; returns its slot.
    @discardableResult
    mutating func insert(_ key: SeriesKey, id: Int64) -> Int {
        let slot = keys.count
        keys.appendGrowingGently(key)
        ids.appendGrowingGently(id)
        // (A key read twice, as before: the later slot wins.)
        if let held = slots[key.precomputedHash].map(Int.init), keys[held] != key {
            collided[key] = Int32(slot)
        } else {
            slots[key.precomputedHash] = Int32(slot)
        }
        slotsByID[id] = Int32(slot)
        nextID = max(nextID, id + 1)
        postings["__name__", default: [:]][key.metric, default: []].appendGrowingGently(Int32(slot))
        for label in key.labels { postings[label.name, default: [:]][label.value, default: []].appendGrowingGently(Int32(slot)) }
        return slot
    }

    /// Ids of the series the selector matches, ascending.
    func select(_ selector: SeriesSelector) -> [Int64] {
        var candidates: [Int32]?
        // Narrow with equality matchers first: each is one index lookup.
        for matcher in selector.matchers where matcher.op == .equal && !matcher.value.isEmpty {
            let hits = postings[matcher.name]?[matcher.value] ?? []
            candidates = candidates.map { Self.intersection($0, hits) } ?? hits
            if candidates?.isEmpty == true { return [] }
        }
        guard let candidates else {
            return zip(keys, ids).compactMap { key, id in selector.matches(key) ? id : nil }.sorted()
        }
        return candidates.compactMap { selector.matches(keys[Int($0)]) ? ids[Int($0)] : nil }.sorted()
    }

    /// The slots in both ascending lists.
    static func intersection(_ a: [Int32], _ b: [Int32]) -> [Int32] {
        var both: [Int32] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] { i += 1 } else if a[i] > b[j] { j += 1 } else {
                both.append(a[i])
                i += 1
                j += 1
            }
        }
        return both
    }

    /// Label names in use, sorted.
    var labelNames: [String] { postings.filter { !$0.value.values.allSatisfy(\.isEmpty) }.keys.sorted() }

    /// Values of a label among the series `ids` (all series when nil), sorted.
    func labelValues(_ name: String, among ids: Set<Int64>? = nil) -> [String] {
        guard let values = postings[name] else { return [] }
        return values.compactMap { value, holders in
            let present = ids.map { among in holders.contains { among.contains(self.ids[Int($0)]) } } ?? !holders.isEmpty
            return present ? value : nil
        }.sorted()
    }
}

extension Array {
    /// Appends, growing by an eighth once large instead of doubling: arrays with an element per
    /// series would otherwise hold up to twice the fleet (10 000 series in room for 16 384).
    mutating func appendGrowingGently(_ element: Element) {
        if count == capacity && count >= 1024 { reserveCapacity(count + count / 8) }
        append(element)
    }
}
