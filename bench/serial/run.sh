#!/usr/bin/env bash
# bench/serial: Modbus RTU polling throughput on an emulated 115200-baud line (bench/serial/line.py
# paces a pty pair at the baud rate), against the pymodbus slave (scripts/modbus_slave.py), side by
# side with pymodbus's own client as the reference master, both as a share of what the line allows.
#
#   bench/serial/run.sh [DURATION=20] [BAUD=115200]
#
# The line allows one 10-register read per (8 + 25 bytes) × 10 bits / baud + 2 × 1.75 ms of
# required silence (Modbus over serial line 2.5.1.1, above 19200 baud): 157 requests/s at 115200.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-20}
BAUD=${2:-115200}
source bench/lib.sh
bench_setup serial

scripts/install-deps.sh test >/dev/null
swift build -c release --product vigil 2>&1 | tail -1
BIN=$(swift build -c release --show-bin-path)/vigil
PY=.build/test-venv/bin/python

start_line() {
  python3 bench/serial/line.py "$WORK/master" "$WORK/slave" --baud "$BAUD" > "$WORK/line.log" 2>&1 &
  line_pid=$!; pids+=($line_pid)
  until grep -q ready "$WORK/line.log" 2>/dev/null; do sleep 0.05; done
  $PY scripts/modbus_slave.py --rtu "$WORK/slave" --baud "$BAUD" > "$WORK/slave.log" 2>&1 &
  slave_pid=$!; pids+=($slave_pid)
  until grep -q ready "$WORK/slave.log" 2>/dev/null; do sleep 0.05; done
  sleep 0.5
}
stop_line() { kill "$slave_pid" "$line_pid" 2>/dev/null || true; wait "$slave_pid" "$line_pid" 2>/dev/null || true; }

allowed=$(python3 -c "print(round(1 / ((8 + 25) * 10 / $BAUD + 2 * 0.00175), 1))")

# Vigil: one device, 10 input registers, polled as often as the line lets it (poll_interval 1ms).
start_line
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/vigil.yaml" <<YAML
data_dir: $WORK/data
http: {listen: 127.0.0.1:$PORT, tls: off}
logging: {ingest_summary: 0, level: warning}
alerts: {self_alerts: false}
modbus:
  buses:
    - name: line
      device: $WORK/master
      baud: $BAUD
      timeout: 200ms
      retries: 0
      devices:
        - name: meter
          slave: 1
          poll_interval: 1ms
          registers:   # ten adjacent input registers: one 10-register read per poll
$(for i in $(seq 0 9); do echo "            - {name: r$i, table: input, address: $i}"; done)
YAML
"$BIN" run --config "$WORK/vigil.yaml" > "$WORK/vigil.log" 2>&1 &
vigil_pid=$!; pids+=($vigil_pid)
ok() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^vigil_modbus_requests_total\{.*result="ok"/ {print $2}'; }
until [[ -n "$(ok)" ]]; do sleep 0.1; done
sleep 2
first=$(ok); t0=$(date +%s.%N)
sleep "$DURATION"
last=$(ok); t1=$(date +%s.%N)
timeouts=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^vigil_modbus_requests_total\{.*result="timeout"/ {print $2}')
kill "$vigil_pid"; wait "$vigil_pid" 2>/dev/null || true
vigil_rate=$(python3 -c "print(round(($last - $first) / ($t1 - $t0), 1))")
stop_line

# The reference: pymodbus's client, same line, same slave.
start_line
read -r ref_rate ref_ok ref_failed < <($PY bench/serial/reference_master.py "$WORK/master" "$DURATION" --baud "$BAUD")
stop_line

python3 - "$BAUD" "$allowed" "$vigil_rate" "${timeouts:-0}" "$ref_rate" "$ref_failed" <<'PY'
import sys
baud, allowed, vigil, timeouts, ref, ref_failed = sys.argv[1:]
allowed, vigil, ref = float(allowed), float(vigil), float(ref)
print(f"10-register reads on an emulated {baud}-baud line (line allows {allowed} requests/s)")
print(f"  Vigil (libmodbus master): {vigil:7.1f} requests/s  {vigil / allowed:5.0%} of the line   timeouts {timeouts}")
print(f"  pymodbus client (ref.):   {ref:7.1f} requests/s  {ref / allowed:5.0%} of the line   errors {ref_failed}")
print(f"  Vigil / reference: {vigil / ref:.2f}")
PY
