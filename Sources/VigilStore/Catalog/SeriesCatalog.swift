import VigilCore

/// Series key ⇄ series id, and an inverted index from label name and value to series ids, so a
/// selector with equality matchers touches only the series it names. In memory; persisted by the
/// store in the `series` table.
struct SeriesCatalog {
    private(set) var ids: [SeriesKey: Int64] = [:]
    private(set) var keys: [Int64: SeriesKey] = [:]
    /// label name → label value → ids; the metric name is indexed as `__name__`.
    private var postings: [String: [String: Set<Int64>]] = [:]
    private(set) var nextID: Int64 = 1

    var count: Int { ids.count }

    func id(of key: SeriesKey) -> Int64? { ids[key] }

    /// The id for `key`, creating one if the key is new (`created` tells which).
    mutating func id(for key: SeriesKey) -> (id: Int64, created: Bool) {
        if let id = ids[key] { return (id, false) }
        let id = nextID
        insert(key, id: id)
        return (id, true)
    }

    mutating func insert(_ key: SeriesKey, id: Int64) {
        ids[key] = id
        keys[id] = key
        nextID = max(nextID, id + 1)
        postings["__name__", default: [:]][key.metric, default: []].insert(id)
        for label in key.labels { postings[label.name, default: [:]][label.value, default: []].insert(id) }
    }

    mutating func remove(id: Int64) {
        guard let key = keys.removeValue(forKey: id) else { return }
        ids[key] = nil
        postings["__name__"]?[key.metric]?.remove(id)
        for label in key.labels { postings[label.name]?[label.value]?.remove(id) }
    }

    /// Ids of the series the selector matches, ascending.
    func select(_ selector: SeriesSelector) -> [Int64] {
        var candidates: Set<Int64>?
        // Narrow with equality matchers first: each is one index lookup.
        for matcher in selector.matchers where matcher.op == .equal && !matcher.value.isEmpty {
            let hits = postings[matcher.name]?[matcher.value] ?? []
            candidates = candidates.map { $0.intersection(hits) } ?? hits
            if candidates?.isEmpty == true { return [] }
        }
        let pool = candidates.map(Array.init) ?? Array(keys.keys)
        return pool.filter { keys[$0].map(selector.matches) ?? false }.sorted()
    }

    /// Label names in use, sorted.
    var labelNames: [String] { postings.filter { !$0.value.values.allSatisfy(\.isEmpty) }.keys.sorted() }

    /// Values of a label among the series `ids` (all series when nil), sorted.
    func labelValues(_ name: String, among ids: Set<Int64>? = nil) -> [String] {
        guard let values = postings[name] else { return [] }
        return values.compactMap { value, holders in
            let present = ids.map { !holders.isDisjoint(with: $0) } ?? !holders.isEmpty
            return present ? value : nil
        }.sorted()
    }
}
