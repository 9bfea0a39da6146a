#!/usr/bin/env bash
# `make demo`: builds Vigil, starts a local mosquitto, the device simulator and the gateway on
# loopback, and prints the URL and a freshly generated admin login. Ctrl-C stops all of it.
# Override: VIGIL_DEMO_DEVICES (20), VIGIL_DEMO_RATE (1 update/s per device),
#           VIGIL_DEMO_HTTPS_PORT (first free from 8443), VIGIL_DEMO_MQTT_PORT (first free from 1883).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.demo"
mkdir -p "$state"

scripts/install-deps.sh demo

echo "==> building vigil (release; the first build takes several minutes)"
swift build -c release --product vigil 2>&1 | grep -E "error:|complete!" || true
bin="$root/.build/release/vigil"
[[ -x "$bin" ]] || { echo "build failed: run 'swift build -c release' to see why" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
first_free() { local p=$1; while ! port_free "$p"; do p=$((p + 1)); done; echo "$p"; }
mqtt_port=${VIGIL_DEMO_MQTT_PORT:-$(first_free 1883)}
https_port=${VIGIL_DEMO_HTTPS_PORT:-$(first_free 8443)}

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping the demo"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

# A new password every run, never a default one; only its bcrypt hash reaches the config.
password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
umask 077
printf '%s\n' "$password" > "$state/admin-password"
umask 022
export VIGIL_ADMIN_HASH
VIGIL_ADMIN_HASH=$(printf '%s\n' "$password" | "$bin" passwd --cost 10)

sed "s/^listener 1883 /listener $mqtt_port /" samples/mosquitto-demo.conf > "$state/mosquitto.conf"
mosquitto -c "$state/mosquitto.conf" > "$state/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do port_free "$mqtt_port" || break; sleep 0.1; done
port_free "$mqtt_port" && { echo "mosquitto did not start; see $state/mosquitto.log" >&2; exit 1; }

# The alert webhook receiver (samples/alerts.yaml): prints what arrives, checks the signature.
webhook_port=${VIGIL_DEMO_WEBHOOK_PORT:-$(first_free 9095)}
webhook_secret=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
python3 scripts/webhook_sink.py --port "$webhook_port" --secret "$webhook_secret" --out "$state/webhook.jsonl" \
  > "$state/webhook.log" 2>&1 &
pids+=($!)
export VIGIL_WEBHOOK_URL="http://127.0.0.1:$webhook_port/vigil" VIGIL_WEBHOOK_SECRET="$webhook_secret"

# Two serial devices on pseudo-terminals (samples/serial.yaml): a weather station and a GPS.
for device in weather gps; do
  socat "pty,raw,echo=0,link=$state/tty-$device" "pty,raw,echo=0,link=$state/tty-$device-sim" 2>"$state/socat-$device.log" &
  pids+=($!)
done
for _ in $(seq 50); do [[ -e "$state/tty-weather-sim" && -e "$state/tty-gps-sim" ]] && break; sleep 0.1; done
python3 scripts/serial_device.py "$state/tty-weather-sim" weather > "$state/serial-weather.log" 2>&1 &
pids+=($!)
python3 scripts/serial_device.py "$state/tty-gps-sim" gps --interval 2 > "$state/serial-gps.log" 2>&1 &
pids+=($!)
export VIGIL_WEATHER_TTY="$state/tty-weather" VIGIL_GPS_TTY="$state/tty-gps"
# The demo's config: samples/demo.yaml (MQTT, alerts) plus samples/serial.yaml.
printf 'include: [%s/samples/demo.yaml, %s/samples/serial.yaml]\n' "$root" "$root" > "$state/vigil.yaml"

export VIGIL_LISTEN="127.0.0.1:$https_port" VIGIL_DATA_DIR="$state/data" VIGIL_MQTT_URL="mqtt://127.0.0.1:$mqtt_port"
"$bin" run --config "$state/vigil.yaml" &
vigil_pid=$!
pids+=($vigil_pid)
for _ in $(seq 100); do
  curl -fsk "https://127.0.0.1:$https_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

"$bin" simulate --mqtt "mqtt://127.0.0.1:$mqtt_port" --devices "${VIGIL_DEMO_DEVICES:-20}" \
  --rate "${VIGIL_DEMO_RATE:-1}" > "$state/simulator.log" 2>&1 &
pids+=($!)

fingerprint=$(openssl x509 -in "$state/data/tls/self-signed.crt" -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2)
cat <<BANNER

  Vigil demo is running.
    Console:  https://127.0.0.1:$https_port/
    Login:    admin / $password        (also in .demo/admin-password)
    Cert:     self-signed, SHA-256 $fingerprint
    Metrics:  curl -k https://127.0.0.1:$https_port/metrics | grep vigil_
    Query:    curl -k -u admin:'$password' 'https://127.0.0.1:$https_port/api/v1/last?match[]=temperature'
              $bin query --data-dir $state/data temperature --last
    MQTT:     mosquitto_sub -p $mqtt_port -t 'sensors/#' -v
    Serial:   a weather station and a GPS on pseudo-terminals ($state/tty-*), see samples/serial.yaml
    Alerts:   rules in samples/alerts.yaml (a fridge door left open 15 s fires within minutes)
              webhook receiver: tail -f .demo/webhook.log    MQTT: mosquitto_sub -p $mqtt_port -t 'vigil/alerts/#' -v
              curl -k -u admin:'$password' https://127.0.0.1:$https_port/api/v1/alerts
    Live:     scripts/ws_probe.py watch wss://127.0.0.1:$https_port/api/v1/live admin '$password' temperature
  Readings arriving show up below as "ingest summary" lines every 10 s. Ctrl-C stops everything.

BANNER
wait "$vigil_pid"
