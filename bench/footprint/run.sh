#!/usr/bin/env bash
# bench/footprint: what `vigil run` costs on the box, as a plant would run it (issue 18).
#
#   bench/footprint/run.sh                 # the whole sequence, consoles for 10 minutes
#   bench/footprint/run.sh soak            # the same with 30 minutes of consoles, and a plot
#   CONSOLE_MINUTES=2 bench/footprint/run.sh   # shorter, while working on it
#   FOLLOW=30 bench/footprint/run.sh           # consoles that follow a screen of 30 series, scrolling
#
# Phases, one gateway per phase group, release build, loopback only:
#   empty    no sources: RSS after 20 s and CPU over 30 s
#   ingest   mosquitto + `vigil simulate` giving SERIES series at 1 Hz (format value), with
#            `mosquitto_sub` subscribed to the same topics beside it as the reference: RSS, CPU
#   consoles CONSOLES consoles over WSS subscribed to every series: PyPI `websockets` clients
#            with permessage-deflate in CONSOLE_PROCESSES processes (--light: seq checked, readings
#            counted, no JSON parse), and optionally C_CONSOLES of the shared C fan-out client
#            (no compression); RSS and CPU every 10 s
#   left     60 s after the consoles left: RSS against the ingest figure, also without what the
#            store's heads grew meanwhile (vigil_store_head_bytes: time, not consoles)
#   idle     the simulator stopped, the broker still connected: CPU over 30 s
# Every 10 s the sampler writes elapsed, phase, RSS, CPU % and the allocator's view from /metrics
# (vigil_memory_heap_in_use_bytes, vigil_memory_heap_free_bytes) to samples.tsv; soak mode draws it
# with gnuplot (Debian gnuplot-nox) into bench/footprint/soak.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-run}
SERIES=${SERIES:-10000}
CONSOLES=${CONSOLES:-100}
CONSOLE_PROCESSES=${CONSOLE_PROCESSES:-4}
# The shared C fan-out client stalls on a 1.6 MB snapshot (every series) and stops reading: it
# shows how the gateway treats consoles that stop reading (closed after http.ws.stall_timeout).
C_CONSOLES=${C_CONSOLES:-0}
CONSOLE_MINUTES=${CONSOLE_MINUTES:-10}
[[ "$MODE" == soak ]] && CONSOLE_MINUTES=${SOAK_MINUTES:-30}
HARNESS=${HARNESS:-../shared/bench/ws}
WORK=$(mktemp -d /tmp/vigil-bench-footprint.XXXXXX)
OUT=${OUT:-bench/footprint/last-run}
mkdir -p "$OUT"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

packages=(gcc libssl-dev mosquitto mosquitto-clients python3-venv curl)
[[ "$MODE" == soak ]] && packages+=(gnuplot-nox)
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ -n "${missing[*]:-}" ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/install-deps.sh build
VENV=.build/bench-venv
"$VENV/bin/python" -c 'import websockets' 2>/dev/null || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q websockets==15.0.1; }
# BIN=/path/to/vigil measures another build (an older release, side by side); default: this tree's
# release binary as it ships (`make static`: the Swift runtime linked in, the code in the order it
# runs, docs/operations.md "Memory"). The dynamically linked `swift build -c release` binary maps
# ~13 MiB more of code (libswiftCore, libFoundationEssentials, its own code unordered).
if [[ -z "${BIN:-}" ]]; then
  deploy/build-release.sh | grep '^built'
  BIN=$(ls dist/vigil-*-linux-"$(uname -m)" | grep -v sha256 | head -1)
fi
ulimit -n 65536 || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# PSS: resident memory with each shared page divided among the processes mapping it (libc and
# libcrypto are shared with mosquitto on the same box); anonymous and file parts.
pss_mib() { awk '/^Pss:/ { p = $2 } /^Pss_Anon:/ { a = $2 } /^Pss_File:/ { f = $2 } END { printf "%.1f (anonymous %.1f, file %.1f)", p / 1024, a / 1024, f / 1024 }' "/proc/$1/smaps_rollup"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# cpu_over PID... SECONDS: % of one core each process used over the window, space separated.
cpu_over() {
  local seconds=${!#} pids=("${@:1:$#-1}") before=() after=() i
  for i in "${pids[@]}"; do before+=("$(ticks "$i")"); done
  sleep "$seconds"
  for i in "${pids[@]}"; do after+=("$(ticks "$i")"); done
  for i in "${!pids[@]}"; do
    awk -v a="${before[$i]}" -v b="${after[$i]}" -v hz="$HZ" -v s="$seconds" 'BEGIN { printf "%.1f ", (b - a) * 100 / hz / s }'
  done
}
heap() {  # in use and free MiB from the gateway's /metrics (the allocator's own statistics)
  curl -sk "https://127.0.0.1:$PORT/metrics" 2>/dev/null | awk '
    /^vigil_memory_heap_in_use_bytes / { used = $2 / 1048576 }
    /^vigil_memory_heap_free_bytes / { free = $2 / 1048576 }
    END { printf "%.1f\t%.1f", used, free }'
}
# The store's heads in MiB (vigil_store_head_bytes): they grow with time until the next cut
# (store.head_span), whatever the consoles do, so the "left" figure is also given without them.
head_mib() {
  curl -sk "https://127.0.0.1:$PORT/metrics" 2>/dev/null | awk '/^vigil_store_head_bytes / { printf "%.1f", $2 / 1048576 }'
}

TOKEN="vgl_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SHA=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
MQTT=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nuser root\n' "$MQTT" > "$WORK/mosquitto.conf"
base_config() {
  cat <<YAML
data_dir: $WORK/data-$1
http:
  listen: 127.0.0.1:\${PORT}
  tls: self-signed
  allowed_origins: [https://127.0.0.1]
  ws: {max_connections: 2000${WS:+, $WS}}
auth:
  tokens: [{name: bench, sha256: $SHA, role: viewer}]
logging: {ingest_summary: 0, level: warning}
YAML
}
base_config empty > "$WORK/empty.yaml"
base_config ingest > "$WORK/ingest.yaml"
cat >> "$WORK/ingest.yaml" <<YAML
mqtt:
  brokers:
    - name: local
      url: mqtt://127.0.0.1:$MQTT
      subscriptions:
        - {topic: sensors/+/+/+, pattern: "sensors/{site}/{device}/{metric}", format: value, qos: 0}
YAML

start_gateway() {  # $1: config
  PORT=$(free_port)
  PORT=$PORT "$BIN" run --config "$1" 2>>"$WORK/vigil.log" & VPID=$!
  pids+=("$VPID")
  for _ in $(seq 200); do curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the gateway did not start:" >&2; tail -5 "$WORK/vigil.log" >&2; exit 1
}
stop_gateway() { kill "$VPID" 2>/dev/null || true; wait "$VPID" 2>/dev/null || true; }

report() { echo "$1" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"
report "bench/footprint $(date -u +%FT%TZ) on $(nproc) cores; binary $(stat -c %s "$BIN" | awk '{ printf "%.1f MB", $1 / 1e6 }')"

echo "==> empty config"
start_gateway "$WORK/empty.yaml"
sleep 20
report "empty: RSS $(rss_mib "$VPID") MiB, PSS $(pss_mib "$VPID") MiB, heap in use/free $(heap | tr '\t' /) MiB, CPU $(cpu_over "$VPID" 30)% of a core"
stop_gateway

echo "==> ingest: $SERIES series at 1 Hz"
mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" & BROKER=$!
pids+=("$BROKER")
sleep 0.5
start_gateway "$WORK/ingest.yaml"
mosquitto_sub -h 127.0.0.1 -p "$MQTT" -t 'sensors/#' -q 0 > /dev/null & SUB=$!
pids+=("$SUB")
# The simulator gives about 2.25 series per device (rooms 2, fridges 3, boilers 2, meters 2).
DEVICES=$(( SERIES * 4 / 9 ))
"$BIN" simulate --mqtt "mqtt://127.0.0.1:$MQTT" --devices "$DEVICES" --sites 10 --rate 1 --qos 0 > "$WORK/simulate.log" 2>&1 & SIM=$!
pids+=("$SIM")

START=$(date +%s)
echo ingest > "$WORK/phase"
printf 'seconds\tphase\trss_mib\tcpu_pct\theap_in_use_mib\theap_free_mib\n' > "$OUT/samples.tsv"
(
  last=$(ticks "$VPID")
  last_ns=$(date +%s%N)
  while kill -0 "$VPID" 2>/dev/null; do
    sleep 10
    now=$(ticks "$VPID" 2>/dev/null) || break
    now_ns=$(date +%s%N)
    printf '%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - START ))" "$(cat "$WORK/phase")" "$(rss_mib "$VPID")" \
      "$(awk -v a="$last" -v b="$now" -v hz="$HZ" -v ns=$(( now_ns - last_ns )) 'BEGIN { printf "%.1f", (b - a) * 100 / hz / (ns / 1e9) }')" \
      "$(heap)" >> "$OUT/samples.tsv"
    last=$now
    last_ns=$now_ns
  done
) & SAMPLER=$!
pids+=("$SAMPLER")

sleep 60
series=$(curl -sk "https://127.0.0.1:$PORT/metrics" | awk '/^vigil_store_series / { print $2 }')
read -r vigil_cpu sub_cpu broker_cpu sim_cpu <<< "$(cpu_over "$VPID" "$SUB" "$BROKER" "$SIM" 60)"
INGEST_RSS=$(rss_mib "$VPID")
INGEST_HEAD=$(head_mib)
report "ingest: ${series:-?} series stored, RSS $INGEST_RSS MiB, PSS $(pss_mib "$VPID") MiB, heap in use/free $(heap | tr '\t' /) MiB, of it the store's heads $INGEST_HEAD MiB"
report "ingest CPU (% of a core, 60 s): vigil $vigil_cpu, mosquitto_sub (reference, same messages) $sub_cpu, mosquitto $broker_cpu, simulator $sim_cpu; vigil/mosquitto_sub = $(awk -v a="$vigil_cpu" -v b="$sub_cpu" 'BEGIN { printf "%.1f", a / (b > 0 ? b : 0.1) }')"

# FOLLOW=N: consoles that follow a screen of N series and scroll (as the web console does) instead
# of subscribing to every series.
FOLLOW=${FOLLOW:-}
echo "==> $CONSOLES consoles (python-websockets, $CONSOLE_PROCESSES processes) + $C_CONSOLES (C client) for $CONSOLE_MINUTES min, ${FOLLOW:+following $FOLLOW series each, scrolling}${FOLLOW:-every series}"
echo consoles > "$WORK/phase"
SECONDS_TOTAL=$(( CONSOLE_MINUTES * 60 ))
SELECTOR='{__name__=~".+"}'
console_pids=()
for process in $(seq "$CONSOLE_PROCESSES"); do
  share=$(( CONSOLES / CONSOLE_PROCESSES + (process <= CONSOLES % CONSOLE_PROCESSES ? 1 : 0) ))
  (( share > 0 )) || continue
  "$VENV/bin/python" bench/footprint/console.py "wss://127.0.0.1:$PORT/api/v1/live" "$TOKEN" "$SELECTOR" "$SECONDS_TOTAL" "$share" --light ${FOLLOW:+--follow=$FOLLOW} \
    > "$WORK/python-$process.txt" 2>&1 &
  console_pids+=($!); pids+=($!)
done
if (( C_CONSOLES > 0 )); then
  "$HARNESS/fanout" "wss://127.0.0.1:$PORT/api/v1/live" -n "$C_CONSOLES" --insecure --origin https://127.0.0.1 --protocol vigil.v1.json \
    --header "Authorization: Bearer $TOKEN" --send "{\"op\":\"subscribe\",\"id\":1,\"selector\":\"{__name__=~\\\".+\\\"}\"}" \
    --ts-field t --seq-field seq --duration "$SECONDS_TOTAL" --warmup 10 --client-cpus 1 > "$WORK/fanout.txt" 2>&1 &
  console_pids+=($!); pids+=($!)
fi
sleep 60
report "consoles after 60 s: RSS $(rss_mib "$VPID") MiB"
for pid in "${console_pids[@]}"; do wait "$pid" || true; done
report "consoles: peak RSS $(awk -F'\t' '$2 == "consoles" && $3 > m { m = $3 } END { print m }' "$OUT/samples.tsv") MiB; CPU mean $(awk -F'\t' '$2 == "consoles" { s += $4; n++ } END { printf "%.1f", s / n }' "$OUT/samples.tsv")% of a core"
# Trend over the second half of the console phase: least-squares slope of RSS, MiB per minute.
report "consoles: RSS trend over the second half $(awk -F'\t' -v half=$(( SECONDS_TOTAL / 2 )) '
  $2 == "consoles" { if (!t0) t0 = $1; if ($1 - t0 >= half) { n++; x = $1 / 60; sx += x; sy += $3; sxx += x * x; sxy += x * $3 } }
  END { if (n > 1) printf "%+.2f MiB/min (%d samples)", (n * sxy - sx * sy) / (n * sxx - sx * sx), n; else print "(too short)" }' "$OUT/samples.tsv")"
for file in "$WORK"/python-*.txt; do report "$(tail -1 "$file")"; done
[[ -f "$WORK/fanout.txt" ]] && report "C client (no compression): $(grep -E "deliver|latency|gap|connect" "$WORK/fanout.txt" | tr '\n' ';' | tr -s ' ')"

echo left > "$WORK/phase"
sleep 60
LEFT_RSS=$(rss_mib "$VPID")
LEFT_HEAD=$(head_mib)
report "60 s after the consoles left: RSS $LEFT_RSS MiB (ingest alone: $INGEST_RSS MiB, ratio $(awk -v a="$LEFT_RSS" -v b="$INGEST_RSS" 'BEGIN { printf "%.2f", a / b }')), heap in use/free $(heap | tr '\t' /) MiB; the heads $LEFT_HEAD MiB (were $INGEST_HEAD): without their growth RSS $(awk -v a="$LEFT_RSS" -v h="$LEFT_HEAD" -v g="$INGEST_HEAD" 'BEGIN { printf "%.1f", a - (h - g) }') MiB, ratio $(awk -v a="$LEFT_RSS" -v h="$LEFT_HEAD" -v g="$INGEST_HEAD" -v b="$INGEST_RSS" 'BEGIN { printf "%.2f", (a - (h - g)) / b }')"

echo idle > "$WORK/phase"
kill "$SIM" 2>/dev/null || true
sleep 10
report "idle (broker connected, nothing arriving): CPU $(cpu_over "$VPID" 30)% of a core, RSS $(rss_mib "$VPID") MiB"
stop_gateway
kill "$SAMPLER" 2>/dev/null || true
cp "$WORK/vigil.log" "$OUT/vigil.log" 2>/dev/null || true

if [[ "$MODE" == soak ]] && command -v gnuplot >/dev/null; then
  gnuplot -e "samples='$OUT/samples.tsv'; output='bench/footprint/soak.png'" bench/footprint/plot.gp
  echo "plot: bench/footprint/soak.png"
fi
echo "results: $OUT/summary.txt, $OUT/samples.tsv"
