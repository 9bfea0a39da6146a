#!/usr/bin/env bash
# Records which functions a running gateway executes and writes them, hottest first, to
# deploy/vigil.order (and deploy/vigil.order.ld, for the few without a symbol): the order
# deploy/build-release.sh links the release binary's code in.
#
#   deploy/profile-order.sh            # about 6 minutes: a build, then 3 minutes under callgrind
#
# Why: the kernel maps a program's code in blocks of 64 KiB or more around each page it executes
# (fault-around, and whole large folios of the page cache on newer kernels). Linked in the order of
# the sources, the few thousand functions a gateway runs are spread over all 18 MB of code, and
# nearly all of it ends up mapped: 18 MiB of RSS for code. Side by side at the start of the code,
# they take a few MiB (docs/operations.md, "Memory of the code").
#
# The workload covers what a gateway does in its first minutes on a plant: start-up with a config
# using every MQTT payload format, normalize rules and alert rules; 200 simulated devices at 1 Hz;
# the API (queries, series, latest, metrics); consoles logging in and streaming over WSS; alerts
# firing to a webhook; then shutdown. Functions it never runs keep their place after the ordered
# ones; a function missing from the order costs memory, never correctness, so an order file a few
# releases old is still fine. Run this again when start-up or the ingest path change much.
#
# Callgrind records every executed instruction (not samples), so rarely run code is in the order
# too. Under it the gateway runs ~50 times slower, which is why the load is small.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_UNDER_LOAD=${SECONDS_UNDER_LOAD:-150}

for package in valgrind mosquitto mosquitto-clients curl python3; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ -n "${missing[*]:-}" ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/install-deps.sh build

# The loopback workload helpers the benches use: $WORK and $pids cleaned up at exit, free_port,
# bench_mosquitto.
source bench/lib.sh
bench_setup profile-order
echo "==> building the release binary without an order"
NO_ORDER=1 LINK_MAP="$WORK/vigil.map" deploy/build-release.sh >/dev/null
# valgrind cannot read the DWARF 5 of this toolchain; the symbol table is all the profile needs.
BIN=$WORK/vigil
strip --strip-debug -o "$BIN" .build-release/release/vigil

MQTT_PORT=$(free_port)
PORT=$(free_port)
bench_mosquitto
python3 scripts/webhook_sink.py --port 0 --port-file "$WORK/webhook.port" --out "$WORK/webhook.jsonl" > /dev/null & pids+=($!)
for _ in $(seq 50); do [[ -s "$WORK/webhook.port" ]] && break; sleep 0.1; done

PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
HASH=$(printf '%s\n' "$PASSWORD" | "$BIN" passwd --cost 10)
TOKEN="vgl_profile_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SHA=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > "$WORK/vigil.yaml" <<YAML
gateway: {name: profile}
data_dir: $WORK/data
http:
  listen: 127.0.0.1:$PORT
  tls: self-signed
auth:
  users: [{name: admin, password_hash: "$HASH", role: admin}]
  tokens: [{name: profile, sha256: $SHA, role: viewer}]
logging: {level: info, ingest_summary: 10s}
normalize:
  convert_units: true
  rules:
    - {metric: temperature, unit: "°C", min: -60, max: 200}
    - {metric: power, unit: W}
mqtt:
  brokers:
    - name: local
      url: mqtt://127.0.0.1:$MQTT_PORT
      subscriptions:
        - {topic: sensors/+/+/+, pattern: "sensors/{site}/{device}/{metric}", format: value, qos: 1}
        - topic: devices/+/telemetry
          pattern: devices/{device}/{_}
          format: json
          json:
            timestamp: {path: ts, unit: auto}
            fields: [{path: power_kw, metric: power, unit: kW}, {path: env.temp_f, metric: temperature, unit: °F}]
        - {topic: influx/#, format: influx}
        - {topic: senml/+, format: senml}
alerts:
  evaluation_interval: 1s
  notifiers:
    - {name: hook, type: webhook, url: "http://127.0.0.1:$(cat "$WORK/webhook.port")/vigil"}
  routes: [{notifiers: [hook]}]
  rules:
    - {name: Warm, selector: 'temperature{device=~"fridge-.*"}', threshold: "> 3", for: 5s, severity: warning}
    - {name: Door, selector: door, threshold: "== 1", for: 2s, severity: warning}
YAML
"$BIN" check-config "$WORK/vigil.yaml" >/dev/null

echo "==> the gateway under callgrind for $SECONDS_UNDER_LOAD s"
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" run --config "$WORK/vigil.yaml" > "$WORK/vigil.log" 2>&1 & VPID=$!
pids+=($VPID)
for _ in $(seq 600); do curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sfk "https://127.0.0.1:$PORT/healthz" >/dev/null || { echo "the gateway did not start:" >&2; tail "$WORK/vigil.log" >&2; exit 1; }
# Phase one ends here: start-up and a few idle seconds (timers, the broker connected, nothing
# arriving). Its functions go first in the order, so that an idle gateway maps only them.
sleep 10
callgrind_control --dump "$VPID" > /dev/null
.build-release/release/vigil simulate --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --devices 200 --sites 4 --qos 1 > /dev/null 2>&1 & pids+=($!)
publish() { mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t "$1" -m "$2"; }
api() { curl -sk -o /dev/null -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT$1" || true; }
START=$(date +%s)
round=0
while (( $(date +%s) - START < SECONDS_UNDER_LOAD )); do
  round=$((round + 1))
  now=$(date +%s)
  publish devices/press-$((round % 5))/telemetry "{\"ts\": $now, \"power_kw\": 1.$round, \"env\": {\"temp_f\": 7$((round % 10))}}"
  publish influx/line "machine,line=a,cell=$((round % 3)) speed=$round.5,temp=4$((round % 9)) ${now}000000000"
  publish senml/dev-$((round % 4)) "[{\"bn\":\"urn:dev:$((round % 4)):\",\"bt\":$now,\"n\":\"temperature\",\"u\":\"Cel\",\"v\":2$((round % 9)).5},{\"n\":\"humidity\",\"u\":\"%RH\",\"v\":40}]"
  publish devices/bad/telemetry "not json"
  api "/api/v1/query?query=temperature"
  api "/api/v1/query_range?query=power&start=-10m&step=15s&agg=max"
  api "/api/v1/series?match[]=temperature"
  api "/api/v1/latest"
  api "/api/v1/sources"
  api "/api/v1/alerts"
  api "/metrics"
  if (( round % 4 == 1 )); then
    # A console: the page and its assets, a login, the live stream with the session cookie.
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/" || true
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/console.js" || true
    timeout 60 python3 scripts/ws_probe.py watch "wss://127.0.0.1:$PORT/api/v1/live" admin "$PASSWORD" '{__name__=~".+"}' 20 \
      > /dev/null 2>&1 || true
  fi
  sleep 2
done
echo "==> stopping the gateway; writing the order"
kill -TERM "$VPID"
wait "$VPID" || true
# KEEP=DIR keeps the profiles and the link map there (to try another ordering without a new run).
[[ -n "${KEEP:-}" ]] && mkdir -p "$KEEP" && cp "$WORK"/callgrind.out* "$WORK/vigil.map" "$KEEP/"
# callgrind.out.1 holds phase one (the dump), callgrind.out the rest of the run.
python3 deploy/order_from_callgrind.py "$WORK/vigil.map" vigil deploy/vigil.order.ld "$WORK"/callgrind.out.1 "$WORK/callgrind.out" \
  > deploy/vigil.order
echo "deploy/vigil.order: $(wc -l < deploy/vigil.order) functions; webhook got $(wc -l < "$WORK/webhook.jsonl" 2>/dev/null || echo 0) posts"
echo "make static links with it"
