#!/usr/bin/env bash
# bench/store: Vigil's metric store side by side with Prometheus TSDB, VictoriaMetrics and
# zstd -19, on the same generated sensor dataset, in one run. Prints a table of ratios.
#
#   bench/store/run.sh                # 1000 series × 24 h × 10 s (8.5 M samples after gaps)
#   SERIES=100 HOURS=6 bench/store/run.sh
#
# Needs root (or sudo) the first time to install Debian's prometheus, victoria-metrics and zstd.
# Everything runs on loopback; the work directory is removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

SERIES=${SERIES:-1000}
HOURS=${HOURS:-24}
WORK=${WORK:-$(mktemp -d /tmp/vigil-bench-store.XXXXXX)}
mkdir -p "$WORK"
[[ ${KEEP:-0} == 1 ]] || trap 'kill ${VM_PID:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

need=()
for package in prometheus victoria-metrics zstd curl; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if ((${#need[@]})); then
  echo "==> installing ${need[*]}"
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the services it installs; the bench runs its own instances.
systemctl stop prometheus victoria-metrics 2>/dev/null || true

echo "==> building (release)"
scripts/install-deps.sh build
swift build -c release --product vigil 2>&1 | tail -1
swift build -c release --product vigil-bench-store 2>&1 | tail -1
BIN=$(swift build -c release --show-bin-path)

echo "==> generating the dataset: $SERIES series × $HOURS h"
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --export-csv "$WORK/data.csv" >/dev/null
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --export-openmetrics "$WORK/data.om" >/dev/null
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --export-vm "$WORK/data.jsonl" >/dev/null
SAMPLES=$(wc -l < "$WORK/data.csv")
echo "    $SAMPLES samples"

bps() { python3 -c "print(f'{$1 / $SAMPLES:.3f}')"; }

echo "==> Vigil: store internals (append, queries, bytes)"
"$BIN/vigil-bench-store" --series "$SERIES" --hours "$HOURS" --dir "$WORK/vigil-bench" | tee "$WORK/vigil.txt" | sed 's/^/    /'
"$BIN/vigil-bench-store" --head-memory --dir "$WORK/vigil-memory" | sed 's/^/    /'
VIGIL_RAW=$(sed -n 's/.*(\([0-9]*\) bytes), .*with.*/\1/p' "$WORK/vigil.txt")

echo "==> Vigil: vigil import of the CSV"
start=$(date +%s.%N)
"$BIN/vigil" import --data-dir "$WORK/vigil" --max-age 36500d --format csv "$WORK/data.csv" 2>&1 | tail -1 | sed 's/^/    /'
IMPORT_SECONDS=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
VIGIL_ALL=$("$BIN/vigil" store stats --data-dir "$WORK/vigil" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_on_disk"])')

echo "==> Prometheus $(dpkg-query -W -f='${Version}' prometheus): promtool tsdb create-blocks-from openmetrics"
promtool tsdb create-blocks-from openmetrics "$WORK/data.om" "$WORK/prometheus" >/dev/null
PROM=$(du -sb "$WORK/prometheus" | cut -f1)

echo "==> VictoriaMetrics $(dpkg-query -W -f='${Version}' victoria-metrics): JSON line import, force flush and merge"
VM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
victoria-metrics -storageDataPath "$WORK/vm" -httpListenAddr "127.0.0.1:$VM_PORT" -retentionPeriod 100y \
  -loggerLevel ERROR >"$WORK/vm.log" 2>&1 &
VM_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$VM_PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf --data-binary "@$WORK/data.jsonl" "http://127.0.0.1:$VM_PORT/api/v1/import"
curl -sf "http://127.0.0.1:$VM_PORT/internal/force_flush" >/dev/null
for month in $(cut -d, -f2 "$WORK/data.csv" | awk 'NR % 100000 == 1 {print int($1/1000)}' | sort -u \
               | xargs -I{} date -u -d @{} +%Y_%m | sort -u); do
  curl -sf "http://127.0.0.1:$VM_PORT/internal/force_merge?partition_prefix=$month" >/dev/null
done
sleep 5
curl -sf "http://127.0.0.1:$VM_PORT/internal/force_flush" >/dev/null
VM_ROWS=$(curl -sf "http://127.0.0.1:$VM_PORT/metrics" | awk '/^vm_rows\{type="storage\/(big|small)"\}/ {n += $2} END {print n}')
kill $VM_PID; wait $VM_PID 2>/dev/null || true
# Its storage is data/ and indexdb/; cache/ holds query caches that may be deleted at any time.
VM=$(du -sbc "$WORK/vm/data" "$WORK/vm/indexdb" | tail -1 | cut -f1)
VM_ALL=$(du -sb "$WORK/vm" | cut -f1)
echo "    VictoriaMetrics holds $VM_ROWS rows"

echo "==> zstd -19 of the CSV"
ZSTD=$(zstd -19 -T1 -c -q "$WORK/data.csv" | wc -c)

echo
echo "Bytes per sample on disk, $SAMPLES samples ($SERIES series × $HOURS h), lower is better:"
printf '  %-50s %8s %10s\n' "system" "B/sample" "vs Vigil"
row() { printf '  %-50s %8s %9sx\n' "$1" "$(bps "$2")" "$(python3 -c "print(f'{$2 / $VIGIL_RAW:.2f}')")"; }
row "Vigil store (raw chunks)" "$VIGIL_RAW"
row "Vigil store after import (raw + 1m/1h rollups)" "$VIGIL_ALL"
row "VictoriaMetrics (forced merge; data + indexdb)" "$VM"
row "VictoriaMetrics (whole storageDataPath)" "$VM_ALL"
row "Prometheus TSDB (promtool blocks)" "$PROM"
row "zstd -19 of the CSV" "$ZSTD"
echo
echo "vigil import of $SAMPLES samples: $IMPORT_SECONDS s"
