import Synchronization
import VigilCore
import VigilSQLite

/// The flush lock's state: the log writer, where its sequence numbers are, and the rolling cut's
/// turns.
struct FlushState: ~Copyable {
    var log: WriteAheadLog
    var nextSequence: UInt64
    /// Every log record up to here is in chunks (`log_checkpoint`).
    var checkpoint: UInt64
    /// Per group of the rolling cut, the log record up to which its series are in chunks.
    var groupsCutThrough: [UInt64]
    /// The group whose turn is next.
    var nextGroup = 0
    /// When the last turn of the rolling cut (or a full cut) was (monotonic).
    var lastTurn = ContinuousClock.now
    /// When full heads were last looked for.
    var lastSeriesCut = ContinuousClock.now

    init(log: consuming WriteAheadLog, nextSequence: UInt64, checkpoint: UInt64, groups: Int) {
        self.log = log
        self.nextSequence = nextSequence
        self.checkpoint = checkpoint
        groupsCutThrough = Array(repeating: checkpoint, count: groups)
    }
}

extension MetricStore {
    /// Cut chunks at least this long are final (see `cut`).
    static let sealedMinimum = 128

    // MARK: Flush

    /// Makes everything appended so far durable: one record in the write-ahead log, then the
    /// samples move to their series' heads. Cuts the heads that are due. On failure nothing is
    /// lost from memory: what was not logged stays pending for the next attempt.
    public func flush() throws(StoreError) {
        try flushing.withLock { state throws(StoreError) in
            try logPending(&state)
            try cutDueHeads(&state)
        }
    }

    /// Flushes, then cuts every head into chunks and deletes the log: the store is then all in
    /// SQLite, as a clean stop, an import and `vigil store maintain` leave it.
    public func checkpoint() throws(StoreError) {
        try flushing.withLock { state throws(StoreError) in
            try logPending(&state)
            try cutAllHeads(&state)
        }
    }

    private func logPending(_ state: inout FlushState) throws(StoreError) {
        // A snapshot: appends go on meanwhile, and only what was logged leaves `pending`.
        let (record, taken, newSeriesTaken) = memory.withLock { memory in
            let taken = memory.pending.count
            let samples = memory.pending.columns(first: taken, ids: memory.catalog.ids)
            let newSeries = memory.newSeries.compactMap { id in memory.catalog.key(id: id).map { LogRecord.NewSeries(id: id, key: $0) } }
            return (LogRecord(sequence: state.nextSequence, newSeries: newSeries, samples: samples), taken, memory.newSeries.count)
        }
        guard taken > 0 || !record.newSeries.isEmpty else { return }
        do {
            try state.log.append(record)
        } catch {
            memory.withLock { $0.counters.flushFailures += 1 }
            throw error
        }
        state.nextSequence += 1
        let logBytes = state.log.bytesWritten
        memory.withLock { memory in
            let columns = record.samples
            for group in 0..<columns.groupCount {
                guard let slot = memory.catalog.slot(id: columns.ids[group]) else { continue }
                let range = columns.range(group)
                memory.series[slot].head.append(timestamps: columns.timestamps[range], values: columns.values[range])
            }
            memory.pending.removeFirst(taken)  // what was taken; later appends stay pending
            memory.unsavedSeries += memory.newSeries.prefix(newSeriesTaken)
            memory.newSeries.removeFirst(newSeriesTaken)
            let count = record.sampleCount
            memory.headSamples += count
            memory.counters.flushed += UInt64(count)
            memory.counters.flushes += 1
            memory.counters.logBytes = logBytes
        }
    }

    // MARK: Cut

    /// What a cut writes besides the chunks.
    enum CutKind {
        /// Every head: the log checkpoint moves to the cut's record, and `head_cuts` empties.
        case full
        /// Series on their own: a `head_cuts` row each, and the checkpoint moves to `checkpoint`
        /// when given (every series has been cut up to there).
        case series(checkpoint: UInt64?)
    }

    /// The rolling cut: every `headSpan / cutGroups` the heads of one group of series, so each
    /// series is cut once a span and the heads together hold about half a span. Cutting every
    /// head at once made memory a saw-tooth (at 10 000 series at 1 Hz, 34 MiB after a cut and 52
    /// just before the next) and wrote a span's chunks in one burst. When every group has been
    /// cut past a log record, the checkpoint moves there and the segments behind it go.
    ///
    /// Otherwise, once a minute, the heads that hold a full chunk; and every head when the log
    /// is over `maxLogBytes`.
    private func cutDueHeads(_ state: inout FlushState) throws(StoreError) {
        let groups = state.groupsCutThrough.count
        if state.log.retainedBytes >= options.maxLogBytes
            || (groups == 1 && ContinuousClock.now - state.lastTurn >= options.headSpan) {
            try cutAllHeads(&state)
            return
        }
        if groups > 1 && ContinuousClock.now - state.lastTurn >= options.headSpan / groups {
            try cutNextGroup(&state)
            return
        }
        guard ContinuousClock.now - state.lastSeriesCut >= options.seriesCutInterval else { return }
        state.lastSeriesCut = .now
        let full = memory.withLock { memory in
            memory.series.indices.compactMap { slot in
                Int(memory.series[slot].head.count) >= options.samplesPerChunk ? memory.catalog.ids[slot] : nil
            }
        }
        guard !full.isEmpty else { return }
        try cut(full, through: state.nextSequence &- 1, kind: .series(checkpoint: nil))
    }

    private func cutNextGroup(_ state: inout FlushState) throws(StoreError) {
        let group = state.nextGroup
        let through = state.nextSequence &- 1
        // The group's heads, and any other head that holds a full chunk (the turn stands in for
        // the once-a-minute look for them).
        let ids = memory.withLock { memory in
            memory.series.indices.compactMap { slot in
                let count = Int(memory.series[slot].head.count)
                return count > 0 && (memory.series[slot].cutGroup == group || count >= options.samplesPerChunk)
                    ? memory.catalog.ids[slot] : nil
            }
        }
        var cutThrough = state.groupsCutThrough
        cutThrough[group] = through
        let checkpoint = cutThrough.min()!
        let moves = checkpoint > state.checkpoint
        try cut(ids, through: through, kind: .series(checkpoint: moves ? checkpoint : nil))
        state.groupsCutThrough = cutThrough
        state.nextGroup = (group + 1) % cutThrough.count
        state.lastTurn = .now
        state.lastSeriesCut = .now
        // Segments end at turns, so that whole segments fall behind the checkpoint.
        state.log.closeSegment()
        if moves {
            state.checkpoint = checkpoint
            try state.log.removeSegments(through: checkpoint)
        }
        memory.withLock { $0.counters.rollingCuts += 1 }
    }

    private func cutAllHeads(_ state: inout FlushState) throws(StoreError) {
        let ids = memory.withLock { $0.idsWithHeads }
        let through = state.nextSequence &- 1
        try cut(ids, through: through, kind: .full)
        // Every record so far is in chunks now: the log starts afresh.
        try state.log.removeClosedSegments()
        state.checkpoint = through
        state.groupsCutThrough = state.groupsCutThrough.map { _ in through }
        state.lastTurn = .now
    }

    /// Heads grouped by a hash of their (sorted, de-duplicated) timestamps, in first-seen order;
    /// `insertPieces` compares the timestamps themselves.
    static func groupedByTimestamps(_ heads: [(Int64, SeriesHead)]) -> [[(Int64, SeriesHead)]] {
        var groups: [Int: Int] = [:]
        var out: [[(Int64, SeriesHead)]] = []
        for (id, head) in heads {
            let raw = head.samples
            var hasher = Hasher()
            hasher.combine(SampleMerge.sortedLastWins(timestamps: raw.timestamps, values: raw.values).timestamps)
            let key = hasher.finalize()
            if let index = groups[key] {
                out[index].append((id, head))
            } else {
                groups[key] = out.count
                out.append([(id, head)])
            }
        }
        return out
    }

    /// Writes the heads of `ids` as chunks in one transaction, with the log position they cover
    /// (see `CutKind`). The heads are dropped only after the commit, so a reader always finds the
    /// samples in one place or the other.
    private func cut(_ ids: [Int64], through sequence: UInt64, kind: CutKind) throws(StoreError) {
        let started = ContinuousClock.now
        // `unsavedSeries` grows only under the flush lock, which the caller holds.
        let (heads, unsaved, unsavedCount, persisted) = memory.withLock { memory in
            var heads: [(Int64, SeriesHead)] = [], persisted: [Int64: Int64] = [:]
            heads.reserveCapacity(ids.count)
            persisted.reserveCapacity(ids.count)
            for id in ids {
                guard let state = memory.state(id: id), state.head.count > 0 else { continue }
                heads.append((id, state.head))
                persisted[id] = state.persistedNewest
            }
            return (heads, memory.unsavedSeries.compactMap { id in memory.catalog.key(id: id).map { (id, $0) } },
                    memory.unsavedSeries.count, persisted)
        }
        let samplesPerChunk = options.samplesPerChunk
        let written = try writer.withLock { database throws(StoreError) -> (newest: [Int64: Int64], bytes: Int) in
            try database.transaction { () throws(StoreError) -> (newest: [Int64: Int64], bytes: Int) in
                let insertSeries = try database.cached("INSERT OR REPLACE INTO series(id, metric, labels) VALUES(?, ?, ?)")
                for (id, key) in unsaved {
                    try insertSeries.run([.integer(id), .text(key.metric), .blob(StoreSchema.encodeLabels(key.labels))])
                }
                let markDirty = try database.cached("INSERT OR IGNORE INTO rollup_dirty(series_id, block_start) VALUES(?, ?)")
                let markCut = try database.cached("INSERT OR REPLACE INTO head_cuts(series_id, sequence) VALUES(?, ?)")
                var newest: [Int64: Int64] = [:]
                var bytes = 0
                // Heads with identical timestamps (aligned series) are written together so their
                // chunks can share time columns; one group at a time, so a cut of thousands of
                // heads holds one group's samples decoded, not all of them.
                for group in Self.groupedByTimestamps(heads) {
                    var pieces: [ChunkPiece] = []
                    for (id, head) in group {
                        let raw = head.samples
                        let sorted = SampleMerge.sortedLastWins(timestamps: raw.timestamps, values: raw.values)
                        var start = 0
                        while start < sorted.count {
                            let end = min(start + samplesPerChunk, sorted.count)
                            let piece = Chunk(timestamps: Array(sorted.timestamps[start..<end]),
                                              values: Array(sorted.values[start..<end]))
                            // A chunk of `sealedMinimum` samples or more that starts after
                            // everything on disk is final (level 1, disjoint): compaction would
                            // rewrite it for a few percent of compression, and every rewrite is
                            // flash wear and index pages. Anything shorter or overlapping is a
                            // level-0 segment to merge.
                            let sealed = piece.count >= Self.sealedMinimum && piece.timestamps[0] > (persisted[id] ?? .min)
                            pieces.append(ChunkPiece(series: id, chunk: piece, level: sealed ? 1 : 0))
                            start = end
                        }
                        for block in Self.blocksHolding(sorted.timestamps) { try markDirty.run([.integer(id), .integer(block)]) }
                        newest[id] = max(persisted[id] ?? .min, sorted.timestamps.last!)
                        if case .series = kind { try markCut.run([.integer(id), .integer(Int64(bitPattern: sequence))]) }
                    }
                    bytes += try insertPieces(pieces, in: database)
                }
                switch kind {
                case .full:
                    try database.cached("INSERT OR REPLACE INTO store_state(name, value) VALUES('log_checkpoint', ?)")
                        .run([.integer(Int64(bitPattern: sequence))])
                    try database.cached("DELETE FROM head_cuts").run()
                case .series(let checkpoint?):
                    // Rows at or below the checkpoint say nothing it does not.
                    try database.cached("INSERT OR REPLACE INTO store_state(name, value) VALUES('log_checkpoint', ?)")
                        .run([.integer(Int64(bitPattern: checkpoint))])
                    try database.cached("DELETE FROM head_cuts WHERE sequence <= ?").run([.integer(Int64(bitPattern: checkpoint))])
                case .series(nil):
                    break
                }
                return (newest, bytes)
            }
        }
        memory.withLock { memory in
            for (id, head) in heads {
                memory.headSamples -= Int(head.count)
                memory.update(id: id) { state in
                    state.head = SeriesHead()
                    state.persistedNewest = written.newest[id]
                }
            }
            memory.unsavedSeries.removeFirst(unsavedCount)
            memory.counters.cutBytes += UInt64(written.bytes)
            memory.counters.lastCutSeconds = (ContinuousClock.now - started).inSeconds
            if case .full = kind { memory.counters.fullCuts += 1 } else { memory.counters.seriesCut += UInt64(heads.count) }
        }
    }
}
