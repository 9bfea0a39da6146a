#!/usr/bin/env bash
# bench/console: the console in headless Chromium against a fleet, as issue 20 measures it.
#
#   bench/console/run.sh                     # 4 500 simulated devices on 10 sites (~10 000 series at 1 Hz)
#   DEVICES=1000 SECONDS_LIVE=20 bench/console/run.sh
#
# mosquitto and `vigil simulate` feed a release gateway; bench/console/measure.py logs in with
# Selenium (Debian chromium + chromium-driver + python3-selenium) and reports: the time from the
# login click to a usable overview (every series counted, cards painted), the time from a keystroke
# to its results being painted (measured in the page), the main thread's busy share over
# SECONDS_LIVE of live updates (Chrome's own TaskDuration, through the DevTools protocol), the JS
# heap, and the DOM's size. Targets (issue 20): ≤ 2 s, ≤ 100 ms, ≤ 25 %, ≤ 100 MB, ≤ 3 000 nodes.
# It also reports the gateway's CPU without and with the console and the readings the console
# received per second (BIN=an older release measures that one, side by side).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICES=${DEVICES:-4500}
SITES=${SITES:-10}
SECONDS_LIVE=${SECONDS_LIVE:-60}
source bench/lib.sh
bench_setup console
scripts/install-deps.sh test
bench_binary
MQTT_PORT=$(free_port); HTTPS_PORT=$(free_port)
bench_mosquitto
PASSWORD=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
HASH=$(printf '%s\n' "$PASSWORD" | "$BIN" passwd --cost 10)
bench_gateway <<YAML
auth:
  users:
    - {name: operator, password_hash: "$HASH", role: operator}
mqtt:
  brokers:
    - url: mqtt://127.0.0.1:$MQTT_PORT
      subscriptions:
        - {topic: "sensors/+/+/+", pattern: "sensors/{site}/{device}/{metric}"}
YAML
"$BIN" simulate --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --devices "$DEVICES" --sites "$SITES" --rate 1 2>"$WORK/simulate.log" & pids+=($!)
series() { curl -sfk "https://127.0.0.1:$HTTPS_PORT/metrics" | awk '$1 == "vigil_store_series" {print $2}'; }
previous=-1
for _ in $(seq 60); do  # until the count stops growing: every device has published
  now=$(series); now=${now%.*}
  [[ ${now:-0} -gt 0 && $now -eq $previous ]] && break
  previous=${now:-0}; sleep 1
done
echo "==> $(series) series at 1 Hz from $DEVICES devices on $SITES sites; $SECONDS_LIVE s of live updates"
/usr/bin/python3 bench/console/measure.py "https://127.0.0.1:$HTTPS_PORT/" operator "$PASSWORD" "$SITES" "$SECONDS_LIVE" "$vigil"
