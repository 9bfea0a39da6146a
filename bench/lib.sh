# Shared by the bench scripts (sourced after `cd` to the repository root):
#   bench_setup NAME      a work directory in $WORK (removed at exit) and $pids, whose processes
#                         are stopped at exit (add with `pids+=($!)`)
#   bench_binary          $BIN: the release `vigil` of this tree, unless BIN is set (an older
#                         release, to measure side by side)
#   free_port, now_ns     a free loopback TCP port; the time in nanoseconds
#   bench_mosquitto, bench_gateway   a broker on $MQTT_PORT; the gateway ($vigil) on $HTTPS_PORT
bench_setup() {
  WORK=$(mktemp -d "/tmp/vigil-bench-$1.XXXXXX")
  pids=()
  trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
}

bench_binary() {
  if [[ -z "${BIN:-}" ]]; then
    swift build -c release --product vigil 2>&1 | tail -1
    BIN=$(swift build -c release --show-bin-path)/vigil
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ns() { date +%s%N; }

# bench_mosquitto [LINE…]   mosquitto on 127.0.0.1:$MQTT_PORT (no persistence), with extra config lines
bench_mosquitto() {
  { printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n' "$MQTT_PORT"; printf '%s\n' "$@"; } > "$WORK/mosquitto.conf"
  mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" & pids+=($!)
  sleep 0.5
}

# bench_gateway < REST_OF_CONFIG   $BIN run as $vigil with $WORK/vigil.yaml: its data in $WORK/data,
# HTTPS on 127.0.0.1:$HTTPS_PORT (self-signed), quiet logs, then the YAML on stdin; waits for /readyz.
bench_gateway() {
  { printf 'data_dir: %s/data\nhttp: {listen: "127.0.0.1:%s", tls: self-signed}\nlogging: {ingest_summary: 0, level: warning}\n' "$WORK" "$HTTPS_PORT"
    cat; } > "$WORK/vigil.yaml"
  "$BIN" run --config "$WORK/vigil.yaml" 2>"$WORK/vigil.log" & vigil=$!; pids+=($vigil)
  for _ in $(seq 100); do curl -sfk "https://127.0.0.1:$HTTPS_PORT/readyz" >/dev/null && break; sleep 0.1; done
}
