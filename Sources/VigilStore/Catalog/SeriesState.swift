import VigilCore

extension MetricStore {
    /// What the store keeps in memory for one series, in an array by catalogue slot
    /// (`SeriesCatalog`): one hash lookup per reading finds all of it. Six tables keyed by series
    /// id held the same at 10 000 series in 2.6 MB (each with room for 16 384) and cost three
    /// lookups per reading.
    ///
    /// The optional fields are stored as plain numbers with one byte of flags saying which are
    /// set: four optionals each padded to 16 or 24 bytes made the state 112 bytes a series, this
    /// layout 80 (0.35 MB at 10 000 series). The properties read and write them as optionals.
    struct SeriesState {
        private var newestTimestamp: Int64 = 0
        private var newestValue: Double = 0
        private var oldestStorage: Int64 = 0
        private var persistedNewestStorage: Int64 = 0
        /// Samples in the log and not yet in chunks, in arrival order.
        var head = SeriesHead()
        private var chunkSpanHoursStorage: Int32 = 0
        /// The rolling cut's group (0..<`StoreOptions.cutGroups`), chosen when the series first
        /// gets a sample in this process; `noCutGroup` before.
        var cutGroup = MetricStore.noCutGroup
        private var flags: UInt8 = 0

        private static let hasNewest: UInt8 = 1, hasNewestValue: UInt8 = 2, hasOldest: UInt8 = 4, hasPersistedNewest: UInt8 = 8

        /// Newest timestamp seen (for the out-of-order window) and its value.
        var newest: Newest? {
            get {
                flags & Self.hasNewest == 0 ? nil
                    : Newest(timestamp: newestTimestamp, value: flags & Self.hasNewestValue == 0 ? nil : newestValue)
            }
            set {
                flags &= ~(Self.hasNewest | Self.hasNewestValue)
                guard let newValue else { return }
                flags |= Self.hasNewest
                newestTimestamp = newValue.timestamp
                if let value = newValue.value {
                    flags |= Self.hasNewestValue
                    newestValue = value
                }
            }
        }

        /// A lower bound of the series' oldest data (raw or rolled up): range reads start there,
        /// so a query over millennia walks only the days a series can have. Never raised when
        /// retention deletes (a stale bound only costs a little walking).
        var oldest: Int64? {
            get { flags & Self.hasOldest == 0 ? nil : oldestStorage }
            set {
                oldestStorage = newValue ?? 0
                flags = newValue == nil ? flags & ~Self.hasOldest : flags | Self.hasOldest
            }
        }

        /// Newest timestamp in a chunk on disk: a cut chunk after it is level 1, and reads look no
        /// later for chunks.
        var persistedNewest: Int64? {
            get { flags & Self.hasPersistedNewest == 0 ? nil : persistedNewestStorage }
            set {
                persistedNewestStorage = newValue ?? 0
                flags = newValue == nil ? flags & ~Self.hasPersistedNewest : flags | Self.hasPersistedNewest
            }
        }

        /// The longest span of the series' chunks in hour buckets (`StoreSchema`): how far back
        /// before a range reads look.
        var chunkSpanHours: Int64 {
            get { Int64(chunkSpanHoursStorage) }
            set { chunkSpanHoursStorage = Int32(clamping: newValue) }
        }
    }
}

extension MetricStore {
    static let noCutGroup = UInt8.max

    /// The group of a series whose first sample here has timestamp `t` and came in the
    /// `appendCall`th append. Series of one payload come in one append with the same timestamp,
    /// so they stay in one group and their chunks can share a time column (`groupedByTimestamps`);
    /// payloads of different appends or times spread over the groups.
    static func cutGroup(timestamp t: Int64, appendCall: UInt64, groups: Int) -> UInt8 {
        let mixed = (UInt64(bitPattern: t) &+ appendCall &* 0x9E37_79B9) &* 0x9E37_79B9_7F4A_7C15
        return UInt8((mixed >> 32) % UInt64(groups))
    }
}

extension MetricStore.Memory {
    /// The slot and id of `key`, a new series (and its state) if the key is new.
    mutating func slot(for key: SeriesKey) -> (slot: Int, id: Int64, created: Bool) {
        let found = catalog.slot(for: key)
        if found.created { series.appendGrowingGently(MetricStore.SeriesState()) }
        return found
    }

    /// Adds a series read back from disk or the log; returns its slot.
    @discardableResult
    mutating func insert(_ key: SeriesKey, id: Int64) -> Int {
        let slot = catalog.insert(key, id: id)
        series.appendGrowingGently(MetricStore.SeriesState())
        return slot
    }

    /// The state of the series with this id, if the catalogue knows it.
    func state(id: Int64) -> MetricStore.SeriesState? { catalog.slot(id: id).map { series[$0] } }

    /// Changes the state of the series with this id; nothing when the catalogue does not know it.
    mutating func update(id: Int64, _ change: (inout MetricStore.SeriesState) -> Void) {
        guard let slot = catalog.slot(id: id) else { return }
        change(&series[slot])
    }

    /// Ids of the series whose head holds samples.
    var idsWithHeads: [Int64] { series.indices.compactMap { series[$0].head.count > 0 ? catalog.ids[$0] : nil } }
}
