#!/usr/bin/env bash
# bench/wear: flash wear under live ingest. Vigil, VictoriaMetrics and Prometheus (remote-write
# receiver) are fed the same stream in the same run (bench/wear/feed.py); the figure is what
# each process sent towards the block device (/proc/PID/io write_bytes, which counts page-cache
# pages as they are dirtied) per sample, over the measured window after a warm-up.
#
#   bench/wear/run.sh                          # 2500 devices × 4 metrics at 1 Hz = 10 000 samples/s, 10 min
#   DEVICES=25 RATE=100 bench/wear/run.sh      # 100 series at 100 Hz
#   SECONDS_MEASURED=180 bench/wear/run.sh     # a shorter window
#   AGE_HOURS=24 bench/wear/run.sh             # Vigil's store first given 24 h of synthetic history
#   SECONDS_MEASURED=3600 bench/wear/run.sh    # an hour: live data directory against compacted
#
# AGE_HOURS fills Vigil's chunk table with that much history for every series (600-sample chunks
# of random bytes, never read) before the run, so the figure includes what index pages cost on a
# store that is not new; VictoriaMetrics and Prometheus start empty (in their favour).
#
# Needs root (or sudo) the first time to install Debian's prometheus, victoria-metrics, mosquitto.
set -euo pipefail
cd "$(dirname "$0")/../.."

DEVICES=${DEVICES:-2500}
RATE=${RATE:-1}
AGE_HOURS=${AGE_HOURS:-0}
WARMUP=${WARMUP:-30}
MEASURED=${SECONDS_MEASURED:-600}
WORK=${WORK:-$(mktemp -d /tmp/vigil-bench-wear.XXXXXX)}
mkdir -p "$WORK"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true
            [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"; }
trap cleanup EXIT

need=()
for package in prometheus victoria-metrics mosquitto curl; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if ((${#need[@]})); then
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
systemctl stop prometheus victoria-metrics mosquitto 2>/dev/null || true

if [[ -z ${BIN:-} ]]; then   # BIN=path/to/vigil measures a binary built elsewhere
  scripts/install-deps.sh build
  swift build -c release --product vigil 2>&1 | tail -1
  BIN=$(swift build -c release --show-bin-path)/vigil
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

MQTT_PORT=$(free_port); VM_PORT=$(free_port); PROM_PORT=$(free_port); HTTPS_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nuser root\n' "$MQTT_PORT" > "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" & pids+=($!)

cat > "$WORK/vigil.yaml" <<YAML
data_dir: $WORK/vigil
http: {listen: "127.0.0.1:$HTTPS_PORT", tls: self-signed}
logging: {ingest_summary: 0, level: warning}
normalize: {max_age: 1h}
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT_PORT
      subscriptions:
        - topic: wear/+
          pattern: wear/{device}
          format: json
          json:
            timestamp: {path: t, unit: ms}
            fields: [{path: temperature}, {path: humidity}, {path: power}, {path: energy}]
YAML
if ((AGE_HOURS > 0)); then
  echo "==> giving Vigil's store $AGE_HOURS h of history for $((DEVICES * 4)) series"
  echo "series,timestamp_ms,value" | "$BIN" import --data-dir "$WORK/vigil" --format csv - >/dev/null 2>&1 || true
  python3 - "$WORK/vigil/metrics.db" $((DEVICES * 4)) "$AGE_HOURS" <<'PY'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); series = int(sys.argv[2]); hours = int(sys.argv[3])
now = int(time.time() * 1000) // 3_600_000 * 3_600_000
blob = os.urandom(700)
rows = ((s, t, t + 599_000, 600, 1, blob, t // 3_600_000)
        for h in range(hours, 0, -1) for k in range(6) for s in range(1, series + 1)
        for t in [now - h * 3_600_000 + k * 600_000])
db.executemany("INSERT INTO chunks(series_id, min_ts, max_ts, count, level, data, hour) VALUES(?, ?, ?, ?, ?, ?, ?)", rows)
db.executemany("INSERT OR REPLACE INTO series_span VALUES(?, ?, ?, 0)",
               ((s, now - hours * 3_600_000, now - 3_600_000 + 599_000) for s in range(1, series + 1)))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
fi
"$BIN" run --config "$WORK/vigil.yaml" 2>"$WORK/vigil.log" & VIGIL=$!; pids+=($VIGIL)
victoria-metrics -storageDataPath "$WORK/vm" -httpListenAddr "127.0.0.1:$VM_PORT" -retentionPeriod 1y \
  -loggerLevel ERROR >"$WORK/vm.log" 2>&1 & VM=$!; pids+=($VM)
prometheus --config.file=/dev/null --storage.tsdb.path="$WORK/prometheus" --web.listen-address="127.0.0.1:$PROM_PORT" \
  --web.enable-remote-write-receiver --log.level=error >"$WORK/prometheus.log" 2>&1 & PROM=$!; pids+=($PROM)
for _ in $(seq 100); do
  curl -sfk "https://127.0.0.1:$HTTPS_PORT/readyz" >/dev/null && curl -sf "http://127.0.0.1:$VM_PORT/health" >/dev/null \
    && curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && break
  sleep 0.2
done

written() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
total=$((WARMUP + MEASURED))
echo "==> $((DEVICES * 4)) series at $RATE Hz = $((DEVICES * 4 * RATE)) samples/s for ${WARMUP}s warm-up + ${MEASURED}s measured"
python3 bench/wear/feed.py "$MQTT_PORT" "$VM_PORT" "$PROM_PORT" "$DEVICES" "$RATE" "$total" > "$WORK/feed.out" 2>"$WORK/feed.err" &
FEED=$!; pids+=($FEED)
sleep "$WARMUP"
s0=$(tail -1 "$WORK/feed.out"); v0=$(written $VIGIL); m0=$(written $VM); p0=$(written $PROM)
wait $FEED
s1=$(tail -1 "$WORK/feed.out"); v1=$(written $VIGIL); m1=$(written $VM); p1=$(written $PROM)
sleep 2
metric() { curl -sfk "https://127.0.0.1:$HTTPS_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
stored=$(metric vigil_store_samples_appended_total)
echo "  Vigil: log $(metric vigil_store_log_written_bytes_total) B, cut chunks $(metric vigil_store_cut_written_bytes_total) B, full cuts $(metric 'vigil_store_cuts_total{kind="full"}'), last flush $(metric vigil_store_last_flush_duration_seconds) s"
cat "$WORK/feed.err" >&2 || true

rss_vigil=$(rss $VIGIL) rss_vm=$(rss $VM) rss_prom=$(rss $PROM)
live_vigil=$(du -sb "$WORK/vigil" | cut -f1) live_vm=$(du -sb "$WORK/vm" | cut -f1) live_prom=$(du -sb "$WORK/prometheus" | cut -f1)
# Live steady state against compacted: the same samples after a clean stop and `vigil store
# maintain` (every head cut, segments compacted, free pages given back), on a copy.
kill -TERM $VIGIL; wait $VIGIL 2>/dev/null || true
cp -a "$WORK/vigil" "$WORK/vigil-compacted"
"$BIN" store maintain --data-dir "$WORK/vigil-compacted" 2>&1 | tail -1 | sed 's/^/  maintain: /'
compacted_vigil=$(du -sb "$WORK/vigil-compacted" | cut -f1)

python3 - "$s0" "$s1" "$v0" "$v1" "$m0" "$m1" "$p0" "$p1" "$rss_vigil" "$rss_vm" "$rss_prom" \
  "$live_vigil" "$live_vm" "$live_prom" "${stored:-0}" "$s1" "$compacted_vigil" <<'PY'
import sys
s0, s1, v0, v1, m0, m1, p0, p1, rv, rm, rp, dv, dm, dp, stored, sent, cv = map(float, sys.argv[1:])
n = s1 - s0
per = {"Vigil": (v1 - v0) / n, "VictoriaMetrics": (m1 - m0) / n, "Prometheus": (p1 - p0) / n}
best = min(per["VictoriaMetrics"], per["Prometheus"])
print(f"\n  {'':18}{'written B/sample':>18}{'RSS MiB':>10}{'dir MiB':>10}")
for name, rss, du in (("Vigil", rv, dv), ("VictoriaMetrics", rm, dm), ("Prometheus", rp, dp)):
    print(f"  {name:18}{per[name]:18.2f}{rss / 2**20:10.1f}{du / 2**20:10.1f}")
print(f"\n  Vigil / better of the two: {per['Vigil'] / best:.2f} (target <= 0.5); {n:.0f} samples measured")
print(f"  Vigil stored {stored:.0f} of {sent:.0f} samples sent")
print(f"  Vigil's data directory live {dv / 2**20:.1f} MiB, compacted {cv / 2**20:.1f} MiB: {dv / cv:.2f} (target <= 2);"
      f" {dv / stored:.2f} B per stored sample live, {cv / stored:.2f} compacted")
PY
