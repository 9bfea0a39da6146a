#!/usr/bin/env bash
# bench/live: the live WebSocket stream side by side with node-ws (Debian), using the shared
# harness in ../shared/bench/ws (fanout-sweep and its C client).
#
#   bench/live/run.sh idle [N]          # resident memory per idle connection, wss and ws (default N=10000)
#   bench/live/run.sh fanout [N] [RATE] [ws|wss]      # N clients (1000), RATE readings/s (100); Vigil and node-ws
#   bench/live/run.sh sweep N "R1 R2 ..." [ws|wss]    # the same for several rates (the sustained maximum)
#
# Vigil runs from a release build with a throw-away config: an API token for the clients, Origin
# https://127.0.0.1 allowed, TLS self-signed. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
HARNESS=${HARNESS:-../shared/bench/ws}
MODE=${1:-idle}
N=${2:-10000}
WORK=$(mktemp -d /tmp/vigil-bench-live.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for package in nodejs node-ws gcc libssl-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ -n "${missing[*]:-}" ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
scripts/install-deps.sh build
# BIN=/path/to/vigil measures another build (an older release, side by side); default: this tree's.
if [[ -z "${BIN:-}" ]]; then
  swift build -c release --product vigil 2>&1 | tail -1
  BIN=$(swift build -c release --show-bin-path)/vigil
fi

TOKEN="vgl_bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SHA=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > "$WORK/vigil.yaml" <<YAML
data_dir: $WORK/data
http:
  listen: \${VIGIL_LISTEN}
  allowed_origins: [https://127.0.0.1]
  ws: {max_connections: 20000}
auth:
  tokens: [{name: bench, sha256: $SHA, role: viewer}]
logging: {ingest_summary: 0, level: warning}
YAML
ulimit -n 65536 || true

case "$MODE" in
  idle)
    "$HARNESS/tls/gen-cert.sh" "$WORK/tls" >/dev/null 2>&1 || true
    sed 's|  allowed_origins|  tls: off\n  allowed_origins|' "$WORK/vigil.yaml" > "$WORK/vigil-ws.yaml"
    for scheme in wss ws; do
      config=$WORK/vigil.yaml
      [[ $scheme == ws ]] && config=$WORK/vigil-ws.yaml
      echo "==> Vigil: $N idle connections over $scheme"
      "$HARNESS/fanout-sweep" --idle -n "$N" \
        --server-cmd "env VIGIL_LISTEN=127.0.0.1:{port} $BIN run --config $config" \
        --url "$scheme://127.0.0.1:{port}/api/v1/live" --label vigil \
        --fanout-arg=--insecure --fanout-arg=--origin=https://127.0.0.1 --fanout-arg=--protocol=vigil.v1.json \
        --fanout-arg="--header='Authorization: Bearer $TOKEN'" 2>&1 | tail -1
      echo "==> node-ws: $N idle connections over $scheme"
      tls=""
      [[ $scheme == wss ]] && tls="--tls-cert $WORK/tls/cert.pem --tls-key $WORK/tls/key.pem"
      "$HARNESS/fanout-sweep" --idle -n "$N" --label node-ws \
        --server-cmd "node $HARNESS/peers/node-ws/broadcast.js --port {port} --rate 0 --max-seconds 600 $tls" \
        --url "$scheme://127.0.0.1:{port}/" --fanout-arg=--insecure 2>&1 | tail -1
    done
    ;;
  fanout|sweep)
    # fanout N RATE [ws|wss]: one rate; sweep N "R1 R2 …" [ws|wss]: several rates, both servers.
    N=${2:-1000}
    RATES=${3:-100}
    SCHEME=${4:-ws}
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    "$HARNESS/tls/gen-cert.sh" "$WORK/tls" >/dev/null 2>&1
    if [[ "$SCHEME" == ws ]]; then
      sed -i 's|  allowed_origins|  tls: off\n  allowed_origins|' "$WORK/vigil.yaml"
      NODE_TLS=()
    else
      sed -i "s|  allowed_origins|  tls: {cert: $WORK/tls/cert.pem, key: $WORK/tls/key.pem}\n  allowed_origins|" "$WORK/vigil.yaml"
      NODE_TLS=(--tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem")
    fi
    # The heartbeat is RFC 6455 Ping/Pong (default 15 s): the harness's clients answer it by themselves.
    MQTT=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' "$MQTT" > "$WORK/mosquitto.conf"
    mosquitto -c "$WORK/mosquitto.conf" 2>/dev/null & MPID=$!
    cat >> "$WORK/vigil.yaml" <<YAML
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT
      subscriptions:
        - {topic: bench/+, format: json, qos: 0, json: {timestamp: {path: t, unit: ms}, fields: [{path: v, metric: bench}]}}
YAML
    for RATE in $RATES; do
      PORT=$(free_port)
      VIGIL_LISTEN=127.0.0.1:$PORT taskset -c 0 "$BIN" run --config "$WORK/vigil.yaml" 2>"$WORK/vigil.log" & VPID=$!
      sleep 2
      (bench/live/publish.py "$RATE" 40 | mosquitto_pub -h 127.0.0.1 -p "$MQTT" -l -t bench/line -q 0) & PUB=$!
      echo "==> Vigil: $N clients over $SCHEME, $RATE readings/s (t = server send time)"
      "$HARNESS/fanout" "$SCHEME://127.0.0.1:$PORT/api/v1/live" -n "$N" --insecure --origin https://127.0.0.1 --protocol vigil.v1.json \
        --header "Authorization: Bearer $TOKEN" --send '{"op":"subscribe","id":1,"selector":"bench"}' \
        --ts-field t --seq-field seq --expect-rate "$RATE" --duration 15 --warmup 5 --server-pid "$VPID" --client-cpus 1 2>&1 | tail -9
      kill "$PUB" "$VPID" 2>/dev/null || true
      wait "$VPID" 2>/dev/null || true
      pkill -f "publish.py $RATE 40" 2>/dev/null || true
      echo "==> node-ws: $N clients over $SCHEME, $RATE messages/s"
      NPORT=$(free_port)
      taskset -c 0 node "$HARNESS/peers/node-ws/broadcast.js" --port "$NPORT" --rate "$RATE" --max-seconds 60 "${NODE_TLS[@]}" >/dev/null 2>&1 & NPID=$!
      sleep 1
      "$HARNESS/fanout" "$SCHEME://127.0.0.1:$NPORT/" -n "$N" --insecure --ts-field t --seq-field s --expect-rate "$RATE" --duration 15 --warmup 5 \
        --server-pid "$NPID" --client-cpus 1 2>&1 | tail -9
      kill "$NPID" 2>/dev/null || true
      wait "$NPID" 2>/dev/null || true
    done
    kill "$MPID" 2>/dev/null || true
    ;;
  *) echo "usage: $0 idle [N] | fanout [N] [RATE] [ws|wss] | sweep N 'RATES' [ws|wss]" >&2; exit 2 ;;
esac
