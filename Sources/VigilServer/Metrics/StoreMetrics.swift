import VigilCore
import VigilStore

/// The store's counters and sizes, read at scrape time.
struct StoreMetricsSource: Sendable {
    let store: MetricStore
    let health: StoreHealth

    func render(into out: inout String) {
        let c = store.counters
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        family("vigil_store_samples_appended_total", "counter", "Samples accepted into the store.", [("", "\(c.appended)")])
        family("vigil_store_samples_flushed_total", "counter", "Samples made durable in the write-ahead log.", [("", "\(c.flushed)")])
        family("vigil_store_log_written_bytes_total", "counter", "Bytes appended to the write-ahead log.", [("", "\(c.logBytes)")])
        family("vigil_store_cut_written_bytes_total", "counter", "Bytes of chunks written when heads are cut.", [("", "\(c.cutBytes)")])
        family("vigil_store_cuts_total", "counter",
               "Heads cut into chunks: every head at once (full), turns of the rolling cut (rolling), series cut on their own (series).", [
            ("{kind=\"full\"}", "\(c.fullCuts)"), ("{kind=\"rolling\"}", "\(c.rollingCuts)"), ("{kind=\"series\"}", "\(c.seriesCut)"),
        ])
        family("vigil_store_last_cut_duration_seconds", "gauge", "How long the last cut of heads into chunks took.",
               [("", "\(c.lastCutSeconds)")])
        family("vigil_store_log_damaged_segments_total", "counter",
               "Log segments with a record that did not read back at open (torn by a crash or damaged).", [("", "\(c.logRecordsDamaged)")])
        family("vigil_store_rejected_samples_total", "counter", "Samples the store refused, by reason.", [
            ("{reason=\"too_old\"}", "\(c.rejectedTooOld)"), ("{reason=\"invalid_value\"}", "\(c.rejectedInvalid)"),
        ])
        family("vigil_store_duplicate_samples_total", "counter",
               "Samples replaced by a later write of the same series and timestamp (last write wins).", [("", "\(c.duplicates)")])
        family("vigil_store_flushes_total", "counter", "Flush transactions, by result.", [
            ("{result=\"ok\"}", "\(c.flushes)"), ("{result=\"error\"}", "\(c.flushFailures)"),
        ])
        family("vigil_store_last_flush_duration_seconds", "gauge", "How long the last successful flush took.",
               [("", "\(health.lastFlushSeconds)")])
        family("vigil_store_corrupt_chunks_total", "counter", "Chunks that failed their checksum and were skipped.",
               [("", "\(c.corruptChunks)")])
        family("vigil_store_compactions_total", "counter", "Series compactions of flush segments into chunks.",
               [("", "\(c.compactions)")])
        family("vigil_store_rollup_days_total", "counter", "Series-days rolled up into 1m and 1h buckets.",
               [("", "\(c.rollupBlocks)")])
        family("vigil_store_retention_deleted_total", "counter", "Blobs deleted by retention or max_bytes, by kind.", [
            ("{kind=\"chunk\"}", "\(c.retentionChunksDeleted)"), ("{kind=\"rollup\"}", "\(c.retentionRollupsDeleted)"),
        ])
        family("vigil_store_reclaimed_bytes_total", "counter", "Free pages given back to the file system after compaction, retention and imports.",
               [("", "\(c.reclaimedBytes)")])
        family("vigil_store_series", "gauge", "Series in the store's catalogue.", [("", "\(store.seriesCount)")])
        family("vigil_store_pending_samples", "gauge", "Samples not yet in chunks (appended, or flushed to the log and in a head).",
               [("", "\(store.pendingSampleCount)")])
        family("vigil_store_head_samples", "gauge", "Samples in the heads: in the write-ahead log, not yet cut into chunks.",
               [("", "\(store.headSampleCount)")])
        family("vigil_store_head_bytes", "gauge", "Memory the heads' samples take (2–2.5 bytes a sample at 1 Hz stamped on arrival).",
               [("", "\(store.headBytes)")])
        family("vigil_store_bytes", "gauge", "Size of the database file, its WAL and the write-ahead log.", [("", "\(store.bytesOnDisk)")])
        family("vigil_store_log_bytes", "gauge", "Size of the write-ahead log's segment files.", [("", "\(store.logBytesOnDisk)")])
    }
}
