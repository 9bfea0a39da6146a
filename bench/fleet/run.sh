#!/usr/bin/env bash
# bench/fleet: catching up after a 24 h outage. The gateway's store holds 1000 series × 24 h at 10 s
# (the bench/store dataset, 8.5 M samples, imported with `vigil import`); a fresh VictoriaMetrics
# (Debian) is the endpoint and Vigil forwards all of it from the oldest sample (start: oldest),
# unthrottled. Reported: samples/s and Vigil's CPU, beside VictoriaMetrics' own import of the same
# samples (JSON lines to /api/v1/import) in the same run; and live MQTT ingest measured while the
# catch-up runs against the same ingest once it is done (target: not slower by more than 20 %).
#
#   bench/fleet/run.sh                      # SERIES=1000 HOURS=24 MESSAGES=200000
#   SERIES=200 HOURS=6 bench/fleet/run.sh   # smaller
set -euo pipefail
cd "$(dirname "$0")/../.."
SERIES=${SERIES:-1000}
HOURS=${HOURS:-24}
MESSAGES=${MESSAGES:-200000}
source bench/lib.sh
bench_setup fleet

scripts/install-deps.sh test >/dev/null
swift build -c release --product vigil 2>&1 | tail -1
swift build -c release --product vigil-bench-store 2>&1 | tail -1
BIN=$(swift build -c release --show-bin-path)
ticks_per_second=$(getconf CLK_TCK)

echo "==> dataset: $SERIES series × $HOURS h at 10 s"
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --export-csv "$WORK/data.csv" >/dev/null
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --export-vm "$WORK/data.jsonl" >/dev/null
SAMPLES=$(grep -vc "^series," "$WORK/data.csv")
"$BIN/vigil" import --data-dir "$WORK/data" --max-age 36500d --format csv "$WORK/data.csv" 2>&1 | tail -1 | sed 's/^/    /'

start_vm() {  # $1: name
  local port; port=$(free_port)
  victoria-metrics -storageDataPath="$WORK/$1" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y \
    -search.disableCache > "$WORK/$1.log" 2>&1 &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.1; done
  echo "$port"
}
vm_count() {  # samples VictoriaMetrics holds
  curl -sf "http://127.0.0.1:$1/internal/force_flush" >/dev/null
  curl -sf "http://127.0.0.1:$1/api/v1/query" --data-urlencode 'query=sum(count_over_time({__name__!=""}[10y]))' \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
}

echo "==> reference: VictoriaMetrics imports the same samples itself (JSON lines)"
REF_PORT=$(start_vm reference)
start=$(now_ns)
curl -sf --data-binary "@$WORK/data.jsonl" "http://127.0.0.1:$REF_PORT/api/v1/import"
curl -sf "http://127.0.0.1:$REF_PORT/internal/force_flush" >/dev/null
ref_ns=$(( $(now_ns) - start ))

echo "==> Vigil forwards its store to a fresh VictoriaMetrics, while MQTT ingest goes on"
VM_PORT=$(start_vm central)
MQTT_PORT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nuser root\n' "$MQTT_PORT" > "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" & pids+=($!)
sleep 0.5
HTTP_PORT=$(free_port)
cat > "$WORK/vigil.yaml" <<YAML
data_dir: $WORK/data
http: {listen: "127.0.0.1:$HTTP_PORT", tls: off}
logging: {ingest_summary: 0, level: warning}
store: {retention: 3650d}          # the dataset starts on 2026-01-01
alerts: {self_alerts: false}
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT_PORT
      subscriptions: [{topic: live/+, pattern: "live/{device}", metric: live_value, qos: 0}]
forward:
  remote_write:
    - {name: central, url: "http://127.0.0.1:$VM_PORT/api/v1/write", start: oldest, batch_size: 20000,
       max_samples_per_second: 100000000, delay: 1s, interval: 1s, match: ['{__name__=~".+",__name__!="live_value"}']}
YAML
python3 -c "
import sys
for i in range($MESSAGES): sys.stdout.write('%d.%d\n' % (20 + i % 7, i % 10))" > "$WORK/messages.txt"
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
ingest_rate() {  # publishes MESSAGES values and returns readings/s until all are stored
  local before want start got
  before=$(metric vigil_store_samples_appended_total); before=${before%.*}
  want=$(( before + MESSAGES ))
  start=$(now_ns)
  mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t live/d1 -q 0 -l < "$WORK/messages.txt"
  while :; do
    got=$(metric vigil_store_samples_appended_total); got=${got%.*}
    [[ ${got:-0} -ge $want ]] && break
    sleep 0.02
  done
  python3 -c "print(round($MESSAGES / (($(now_ns) - $start) / 1e9)))"
}

"$BIN/vigil" run --config "$WORK/vigil.yaml" 2>"$WORK/vigil.log" & vigil=$!; pids+=($vigil)
cpu() { awk '{print $14 + $15}' "/proc/$vigil/stat"; }
until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1; do
  kill -0 "$vigil" 2>/dev/null || { echo "vigil did not start:" >&2; cat "$WORK/vigil.log" >&2; exit 1; }
  sleep 0.05
done
cpu_before=$(cpu)
start=$(now_ns)
sleep 2
during=$(ingest_rate)
while :; do
  sent=$(metric 'vigil_forward_samples_sent_total{endpoint="central"}'); sent=${sent%.*}
  [[ ${sent:-0} -ge $SAMPLES ]] && break
  if (( $(now_ns) - start > 1800000000000 )); then echo "timeout: $sent of $SAMPLES forwarded" >&2; break; fi
  sleep 0.2
done
vigil_ns=$(( $(now_ns) - start ))
cpu_used=$(( $(cpu) - cpu_before ))
after=$(ingest_rate)
stored=$(vm_count "$VM_PORT")

python3 - "$SAMPLES" "$ref_ns" "$vigil_ns" "$cpu_used" "$ticks_per_second" "$during" "$after" "$stored" <<'PY'
import sys
samples, ref_ns, vigil_ns, cpu, hz, during, after, stored = map(float, sys.argv[1:])
vigil_rate, ref_rate = samples / (vigil_ns / 1e9), samples / (ref_ns / 1e9)
print(f"catch-up of {int(samples):,} samples (VictoriaMetrics holds {int(stored):,} afterwards)")
print(f"  Vigil remote write:            {vigil_rate:12,.0f} samples/s  ({vigil_ns / 1e9:.1f} s, Vigil CPU {cpu / hz:.1f} s = {cpu / hz / (vigil_ns / 1e9):.0%} of a core)")
print(f"  VictoriaMetrics own import:    {ref_rate:12,.0f} samples/s  ({ref_ns / 1e9:.1f} s)")
print(f"  Vigil / reference: {vigil_rate / ref_rate:.2f}")
print(f"live MQTT ingest: {during:,.0f} readings/s during catch-up, {after:,.0f} after: {during / after:.0%} (target ≥ 80 %)")
PY
