import VigilCore
import VigilSQLite

/// Reading the write-ahead log back into the heads when the store is opened.
extension MetricStore {
    struct LogReplay {
        var nextSequence: UInt64 = 1
        /// Every record up to here is in chunks.
        var checkpoint: UInt64 = 0
        var retainedBytes = 0
        /// Samples read back into the heads.
        var samples = 0
    }

    /// Every record after the last checkpoint goes back into its series' head, except the
    /// samples of series cut on their own since (`head_cuts`). Series created in the log and not
    /// yet in the `series` table come back with their ids. A read-only open does the same in its
    /// own memory, so `vigil query` next to a running gateway sees what the gateway has flushed.
    static func replayLog(directory: String, database: StoreDatabase, into memory: inout Memory,
                          groups: Int) throws(StoreError) -> LogReplay {
        var replay = LogReplay()
        // A version-1 file opened read-only has neither table: no checkpoint, no cuts.
        let checkpoint = UInt64(bitPattern: (try? Self.integer(database, "SELECT value FROM store_state WHERE name = 'log_checkpoint'")) ?? 0)
        replay.checkpoint = checkpoint
        var cuts: [Int64: UInt64] = [:]
        if let statement = try? database.prepare("SELECT series_id, sequence FROM head_cuts") {
            try statement.bind([])
            while try statement.step() { cuts[statement.int64(0)] = UInt64(bitPattern: statement.int64(1)) }
        }
        // Sequence numbers never go back, even with no segment left: a record numbered at or
        // below the checkpoint would be taken as already cut and skipped when read back.
        var lastSequence = max(checkpoint, cuts.values.max() ?? 0)
        let segments = WriteAheadLog.segments(in: directory)
        for segment in segments {
            replay.retainedBytes += Int(Self.fileSize(segment.path))
            let outcome = WriteAheadLog.read(segment) { record in
                lastSequence = max(lastSequence, record.sequence)
                guard record.sequence > checkpoint else { return }
                for series in record.newSeries where memory.catalog.slot(id: series.id) == nil {
                    memory.insert(series.key, id: series.id)
                    memory.unsavedSeries.append(series.id)
                }
                let columns = record.samples
                for group in 0..<columns.groupCount where record.sequence > cuts[columns.ids[group]] ?? 0 {
                    guard let slot = memory.catalog.slot(id: columns.ids[group]) else { continue }
                    let range = columns.range(group)
                    if memory.series[slot].cutGroup == Self.noCutGroup, !range.isEmpty {
                        memory.series[slot].cutGroup = Self.cutGroup(timestamp: columns.timestamps[range.lowerBound],
                                                                     appendCall: record.sequence, groups: groups)
                    }
                    memory.series[slot].head.append(timestamps: columns.timestamps[range], values: columns.values[range])
                    memory.headSamples += range.count
                    replay.samples += range.count
                    for (t, v) in zip(columns.timestamps[range], columns.values[range]) {
                        if t >= memory.series[slot].newest?.timestamp ?? .min { memory.series[slot].newest = Newest(timestamp: t, value: v) }
                        if t < memory.series[slot].oldest ?? .max { memory.series[slot].oldest = t }
                    }
                }
            }
            if outcome.damaged { memory.counters.logRecordsDamaged += 1 }
        }
        replay.nextSequence = lastSequence + 1
        return replay
    }

    static func integer(_ database: StoreDatabase, _ sql: String) throws(StoreError) -> Int64? {
        let statement = try database.prepare(sql)
        try statement.bind([])
        return try statement.step() ? statement.int64(0) : nil
    }
}
