#!/usr/bin/env bash
# bench/mqtt sustained: a Sparkplug B fleet at a steady rate for minutes, Vigil and mosquitto_sub
# subscribed to the same messages in the same run.
#
#   bench/mqtt/sustained.sh                       # 2 500 devices × 4 metrics at 1 Hz, 3 minutes
#   DEVICES=1000 METRICS=1 MINUTES=10 bench/mqtt/sustained.sh
#
# The fleet (bench/mqtt/sparkplug_fleet.py: births, seq, aliases, Float values with two decimals)
# gives DEVICES × METRICS readings/s. Every 10 s: Vigil's RSS and CPU %, mosquitto_sub's CPU %,
# readings stored so far. At the end: averages, the RSS trend over the second half, and whether
# every reading was stored.
set -euo pipefail
cd "$(dirname "$0")/../.."

DEVICES=${DEVICES:-2500}
METRICS=${METRICS:-4}
MINUTES=${MINUTES:-3}
source bench/lib.sh
bench_setup sustained
scripts/install-deps.sh test
bench_binary
MQTT_PORT=$(free_port)
HTTPS_PORT=$(free_port)
bench_mosquitto
bench_gateway <<YAML
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT_PORT
      clean_session: true
      subscriptions:
        - {topic: "spBv1.0/#", format: sparkplug, qos: 0}
YAML
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t 'spBv1.0/#' -q 0 > /dev/null & sub=$!; pids+=($sub)
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
stored() { curl -sfk "https://127.0.0.1:$HTTPS_PORT/metrics" | awk '$1 == "vigil_store_samples_appended_total" {print int($2)}'; }
hz=$(getconf CLK_TCK)

echo "==> $DEVICES devices × $METRICS metrics at 1 Hz = $((DEVICES * METRICS)) readings/s, $MINUTES minutes"
.build/test-venv/bin/python bench/mqtt/sparkplug_fleet.py "$MQTT_PORT" "$DEVICES" "$METRICS" $((MINUTES * 60)) > "$WORK/fleet.log" 2>&1 & fleet=$!; pids+=($fleet)
printf '%6s %9s %9s %12s %10s\n' "s" "vigil %" "sub %" "vigil RSS MiB" "stored"
elapsed=0
v0=$(ticks "$vigil"); s0=$(ticks "$sub")
: > "$WORK/samples.tsv"
while kill -0 "$fleet" 2>/dev/null; do
  sleep 10; elapsed=$((elapsed + 10))
  v1=$(ticks "$vigil"); s1=$(ticks "$sub")
  vcpu=$(( (v1 - v0) * 100 / (10 * hz) )); scpu=$(( (s1 - s0) * 100 / (10 * hz) ))
  v0=$v1; s0=$s1
  rss=$(rss_kib "$vigil")
  printf '%6d %9d %9d %12s %10s\n' "$elapsed" "$vcpu" "$scpu" "$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')" "$(stored)"
  echo -e "$elapsed\t$vcpu\t$scpu\t$rss" >> "$WORK/samples.tsv"
done
sleep 3
cat "$WORK/fleet.log"
python3 - "$WORK/samples.tsv" "$(stored)" "$DEVICES" "$METRICS" "$(grep -o 'sent [0-9]*' "$WORK/fleet.log" | awk '{print $2}')" <<'PY'
import sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
stored, devices, metrics, sent = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5] or 0)
steady = rows[1:] or rows
v = sum(r[1] for r in steady) / len(steady); s = sum(r[2] for r in steady) / len(steady)
half = rows[len(rows) // 2:]
n = len(half)
if n > 1:
    xs = [r[0] for r in half]; ys = [r[3] / 1024 for r in half]
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs) * 60
else:
    slope = 0
expected = devices * metrics + sent * metrics  # the births' values and every DDATA's
print()
print(f"  readings/s {devices * metrics}: Vigil {v:.1f} % of a core, mosquitto_sub {s:.1f} % (ratio {v / max(s, 0.1):.1f})")
print(f"  Vigil RSS {rows[0][3] / 1024:.1f} → {rows[-1][3] / 1024:.1f} MiB, trend over the second half {slope:+.2f} MiB/min")
print(f"  stored {stored} of {expected} readings sent ({'all' if stored >= expected else 'MISSING ' + str(expected - stored)})")
PY
