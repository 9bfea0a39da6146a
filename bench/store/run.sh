#!/usr/bin/env bash
# bench/store: Vigil's metric store side by side with Prometheus TSDB, VictoriaMetrics and
# zstd -19, on the same generated datasets, in one run. Prints a table of ratios per shape and a
# summary (see bench/README.md for the shapes).
#
#   bench/store/run.sh                        # sensors, fleet (1000 series × 24 h × 10 s each)
#                                             # and vibration (20 series × 1 h × 100 Hz)
#   SHAPES=fleet SERIES=100 HOURS=6 bench/store/run.sh   # one shape, smaller
#
# Needs root (or sudo) the first time to install Debian's prometheus, victoria-metrics and zstd.
# Everything runs on loopback; the work directory is removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHAPES=${SHAPES:-sensors fleet vibration}
WORK=${WORK:-$(mktemp -d /tmp/vigil-bench-store.XXXXXX)}
mkdir -p "$WORK"
cleanup() { kill ${VM_PID:-} ${GATEWAY_PID:-} ${PROM_PID:-} 2>/dev/null || true; }
if [[ ${KEEP:-0} == 1 ]]; then trap cleanup EXIT; else trap 'cleanup; rm -rf "$WORK"' EXIT; fi

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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PromQL rate(...[5m]) over every series for the whole range, at a 5 m step: the gateway over its
# imported store, Prometheus over the promtool blocks, both over HTTP on loopback.
promql_rate() {
  echo "==> PromQL: the gateway and Prometheus $(dpkg-query -W -f='${Version}' prometheus) answer the same range query"
  local token=bench-$RANDOM$RANDOM http_port prom_port first
  http_port=$(free_port); prom_port=$(free_port)
  cat > "$DIR/vigil.yaml" <<YAML
data_dir: $DIR/vigil
http: {listen: "127.0.0.1:$http_port", tls: off}
auth: {tokens: [{name: bench, sha256: $(printf %s "$token" | sha256sum | cut -d' ' -f1), role: viewer}]}
logging: {ingest_summary: 0, level: warning}
store: {retention: 3650d}          # the dataset starts on 2026-01-01
query: {max_samples: 50000000}     # Prometheus' default; the query reads 8.5 M samples (Vigil's default stops at 5 M)
alerts: {self_alerts: false}
YAML
  "$BIN/vigil" run --config "$DIR/vigil.yaml" 2>"$DIR/vigil.log" & GATEWAY_PID=$!
  printf 'global: {scrape_interval: 1h}\nscrape_configs: []\n' > "$DIR/prometheus.yml"
  prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prometheus" --storage.tsdb.retention.time=100y \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=error 2>"$DIR/prometheus.log" & PROM_PID=$!
  until curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1; do
    kill -0 $GATEWAY_PID 2>/dev/null || { cat "$DIR/vigil.log" >&2; exit 1; }
    kill -0 $PROM_PID 2>/dev/null || { cat "$DIR/prometheus.log" >&2; exit 1; }
    sleep 0.1
  done
  # The series field is quoted and holds commas: the timestamp is the last field but one.
  first=$(awk -F, 'NR == 1 || $(NF-1) < m {m = $(NF-1)} END {print m}' "$DIR/data.csv")
  python3 bench/store/promql_rate.py "http://127.0.0.1:$http_port" "$token" "http://127.0.0.1:$prom_port" \
    'rate({__name__=~".+"}[5m])' "$(( first / 1000 + 300 ))" "$(( first / 1000 + HOURS * 3600 ))" 300 | sed 's/^/    /'
  kill $GATEWAY_PID $PROM_PID; wait $GATEWAY_PID $PROM_PID 2>/dev/null || true
}

measure() {  # SHAPE SERIES HOURS
  local SHAPE=$1 SERIES=$2 HOURS=$3
  DIR=$WORK/$SHAPE
  mkdir -p "$DIR"
  echo
  echo "######## shape: $SHAPE"
  echo "==> generating the dataset: $SERIES series × $HOURS h"
  "$BIN/vigil-bench-store" --shape "$SHAPE" --series "$SERIES" --hours "$HOURS" --export-csv "$DIR/data.csv" >/dev/null
  "$BIN/vigil-bench-store" --shape "$SHAPE" --series "$SERIES" --hours "$HOURS" --export-openmetrics "$DIR/data.om" >/dev/null
  "$BIN/vigil-bench-store" --shape "$SHAPE" --series "$SERIES" --hours "$HOURS" --export-vm "$DIR/data.jsonl" >/dev/null
  SAMPLES=$(wc -l < "$DIR/data.csv")
  echo "    $SAMPLES samples"

  bps() { python3 -c "print(f'{$1 / $SAMPLES:.3f}')"; }

  echo "==> Vigil: store internals (append, queries, bytes)"
  "$BIN/vigil-bench-store" --shape "$SHAPE" --series "$SERIES" --hours "$HOURS" --dir "$DIR/vigil-bench" | tee "$DIR/vigil.txt" | sed 's/^/    /'
  [[ $SHAPE != sensors ]] || "$BIN/vigil-bench-store" --head-memory --dir "$DIR/vigil-memory" | sed "s/^/    /"
  VIGIL_RAW=$(sed -n 's/.*(\([0-9]*\) bytes), .*with.*/\1/p' "$DIR/vigil.txt")

  echo "==> Vigil: vigil import of the CSV"
  start=$(date +%s.%N)
  "$BIN/vigil" import --data-dir "$DIR/vigil" --max-age 36500d --format csv "$DIR/data.csv" 2>&1 | tail -1 | sed 's/^/    /'
  IMPORT_SECONDS=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  VIGIL_ALL=$("$BIN/vigil" store stats --data-dir "$DIR/vigil" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_on_disk"])')

  echo "==> Prometheus $(dpkg-query -W -f='${Version}' prometheus): promtool tsdb create-blocks-from openmetrics"
  promtool tsdb create-blocks-from openmetrics "$DIR/data.om" "$DIR/prometheus" >/dev/null
  PROM=$(du -sb "$DIR/prometheus" | cut -f1)

  echo "==> VictoriaMetrics $(dpkg-query -W -f='${Version}' victoria-metrics): JSON line import, force flush and merge"
  VM_PORT=$(free_port)
  victoria-metrics -storageDataPath "$DIR/vm" -httpListenAddr "127.0.0.1:$VM_PORT" -retentionPeriod 100y \
    -loggerLevel ERROR >"$DIR/vm.log" 2>&1 &
  VM_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$VM_PORT/health" >/dev/null && break; sleep 0.1; done
  curl -sf --data-binary "@$DIR/data.jsonl" "http://127.0.0.1:$VM_PORT/api/v1/import"
  curl -sf "http://127.0.0.1:$VM_PORT/internal/force_flush" >/dev/null
  for month in $(awk -F, 'NR % 100000 == 1 {print int($(NF-1)/1000)}' "$DIR/data.csv" | sort -u \
                 | xargs -I{} date -u -d @{} +%Y_%m | sort -u); do
    curl -sf "http://127.0.0.1:$VM_PORT/internal/force_merge?partition_prefix=$month" >/dev/null
  done
  # The merge runs in the background: wait until VictoriaMetrics reports none active.
  sleep 2
  for _ in $(seq 300); do
    active=$(curl -sf "http://127.0.0.1:$VM_PORT/metrics" | awk '/^vm_active_force_merges / {print $2}')
    [[ ${active:-0} == 0 ]] && break
    sleep 1
  done
  curl -sf "http://127.0.0.1:$VM_PORT/internal/force_flush" >/dev/null
  VM_ROWS=$(curl -sf "http://127.0.0.1:$VM_PORT/metrics" | awk '/^vm_rows\{type="storage\/(big|small)"\}/ {n += $2} END {print n}')
  kill $VM_PID; wait $VM_PID 2>/dev/null || true
  # Its storage is data/ and indexdb/; cache/ holds query caches that may be deleted at any time.
  VM=$(du -sbc "$DIR/vm/data" "$DIR/vm/indexdb" | tail -1 | cut -f1)
  VM_ALL=$(du -sb "$DIR/vm" | cut -f1)
  echo "    VictoriaMetrics holds $VM_ROWS rows"

  [[ $SHAPE != sensors ]] || promql_rate

  echo "==> zstd -19 of the CSV"
  ZSTD=$(zstd -19 -T2 -c -q "$DIR/data.csv" | wc -c)

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
  echo "$SHAPE $SAMPLES $VIGIL_RAW $VIGIL_ALL $VM $PROM" >> "$WORK/summary.txt"
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$DIR"  # a shape's exports and stores take a few GB
}

: > "$WORK/summary.txt"
for shape in $SHAPES; do
  case $shape in
    vibration) measure vibration "${SERIES:-20}" "${HOURS:-1}" ;;
    *) measure "$shape" "${SERIES:-1000}" "${HOURS:-24}" ;;
  esac
done

echo
echo "Summary, bytes per sample on disk (Vigil after import: raw + rollups, free pages reclaimed):"
printf '  %-10s %10s %8s %8s %8s %8s %14s\n' shape samples "Vigil" "raw" "VM" "Prom" "Vigil/VM"
while read -r shape samples raw all vm prom; do
  python3 -c "print(f'  {\"$shape\":<10} {$samples:>10} {$all/$samples:8.3f} {$raw/$samples:8.3f} {$vm/$samples:8.3f} {$prom/$samples:8.3f} {$all/$vm:14.2f}')"
done < "$WORK/summary.txt"
