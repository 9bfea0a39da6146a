#!/usr/bin/env bash
# bench/mqtt: end-to-end MQTT ingest, side by side with mosquitto_sub in the same run.
#
#   bench/mqtt/run.sh              # 500 000 JSON messages, QoS 0
#   MESSAGES=200000 QOS=1 bench/mqtt/run.sh
#   FORMAT=sparkplug bench/mqtt/run.sh   # Sparkplug B DDATA (protobuf, METRICS=4 metrics by alias; DEVICES=4)
#
# Reference: mosquitto_sub (C) receiving every message to /dev/null. Vigil: the same messages,
# each parsed (JSON with a device timestamp), normalized, published on the bus and appended to the
# store; the clock stops when the store has accepted all of them. Both read from one mosquitto on
# loopback, fed by mosquitto_pub -l (C). Prints the two rates, their ratio and Vigil's CPU use.
set -euo pipefail
cd "$(dirname "$0")/../.."

MESSAGES=${MESSAGES:-500000}
QOS=${QOS:-0}
FORMAT=${FORMAT:-json}
source bench/lib.sh
bench_setup mqtt
scripts/install-deps.sh test
# BIN=/path/to/vigil measures another build (an older release, side by side); default: this tree's.
bench_binary

MQTT_PORT=$(free_port)
bench_mosquitto "max_queued_messages 0"

echo "==> $MESSAGES $FORMAT messages, QoS $QOS"
base=$(( $(date +%s) * 1000 - 3600000 ))
if [[ "$FORMAT" == sparkplug ]]; then
  # mosquitto_pub -l sends a line per message and measures it with strlen: the payloads are made
  # without 0x0A and 0x00 bytes (no seq, no datatype in data, aliases and values chosen to avoid
  # them), each DDATA on the topic of its device. The births go first, one mosquitto_pub each.
  .build/test-venv/bin/python bench/mqtt/sparkplug_messages.py "$MESSAGES" "$base" "$WORK"
  READINGS_PER_MESSAGE=${METRICS:-4}
else
python3 - "$MESSAGES" "$base" > "$WORK/messages.txt" <<'PY'
import sys
n, base = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
for i in range(n):
    out.write('{"t": %d, "temp": %d.%d, "state": %d}\n' % (base + i, 20 + i % 7, i % 10, i % 2))
PY
  READINGS_PER_MESSAGE=2
fi
# One mosquitto_pub -l per topic (Sparkplug: per device, one after another).
publish_all() {
  if [[ "$FORMAT" == sparkplug ]]; then
    for births in "$WORK"/births/*.bin; do
      mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "$(cat "${births%.bin}.topic")" -q 1 -f "$births"
    done
    for data in "$WORK"/data/*.txt; do
      mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "spBv1.0/bench/DDATA/edge-1/$(basename "$data" .txt)" -q "$QOS" -l < "$data"
    done
  else
    mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t bench/line-1 -q "$QOS" -l < "$WORK/messages.txt"
  fi
}

echo "==> reference: mosquitto_sub to /dev/null"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t 'bench/#' -t 'spBv1.0/bench/DDATA/#' -q "$QOS" -C "$MESSAGES" > /dev/null & sub=$!
sleep 0.5
start=$(now_ns)
publish_all
wait $sub
ref_ns=$(( $(now_ns) - start ))

echo "==> Vigil: into the store"
HTTPS_PORT=$(free_port)
bench_gateway <<YAML
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT_PORT
      clean_session: true
      subscriptions:
        - topic: spBv1.0/#
          format: sparkplug
          qos: $QOS
        - topic: bench/+
          pattern: bench/{device}
          qos: $QOS
          format: json
          json:
            timestamp: {path: t, unit: ms}
            fields: [{path: temp, metric: temperature}, {path: state, metric: state}]
YAML
metric() { curl -sfk "https://127.0.0.1:$HTTPS_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$vigil/stat"; }
want=$(( MESSAGES * READINGS_PER_MESSAGE ))
cpu_before=$(cpu_ticks)
start=$(now_ns)
publish_all
while :; do
  got=$(metric vigil_store_samples_appended_total); got=${got%.*}
  [[ ${got:-0} -ge $want ]] && break
  if (( $(now_ns) - start > 120000000000 )); then echo "timeout: $got of $want readings stored" >&2; break; fi
  sleep 0.02
done
vigil_ns=$(( $(now_ns) - start ))
cpu_after=$(cpu_ticks)
received=$(metric 'vigil_mqtt_messages_total{broker="default"}')
dropped=$(curl -sfk "https://127.0.0.1:$HTTPS_PORT/metrics" | awk '/^vigil_bus_dropped_readings_total\{subscriber="store"\}/ {print $2}')

python3 - "$MESSAGES" "$ref_ns" "$vigil_ns" "$cpu_before" "$cpu_after" "$(getconf CLK_TCK)" "${received:-0}" "${dropped:-0}" "$READINGS_PER_MESSAGE" <<'PY'
import sys
n, ref_ns, vigil_ns, c0, c1, hz, received, dropped, per = sys.argv[1:]
n = int(n); ref = n / (int(ref_ns) / 1e9); vig = n / (int(vigil_ns) / 1e9)
cpu = (int(c1) - int(c0)) / int(hz)
print()
print(f"  mosquitto_sub → /dev/null      {ref:10.0f} msgs/s")
print(f"  Vigil → store ({per} readings/msg) {vig:10.0f} msgs/s   ratio {vig / ref:.2f} (target >= 0.8)")
print(f"  Vigil CPU: {cpu:.2f} s for {n} messages = {cpu / n * 1e4 * 100:.1f} % of one core per 10 k msgs/s")
print(f"  messages received {received}, readings dropped by the bus {dropped}")
PY
