# Shared by the bench scripts (sourced after `cd` to the repository root):
#   bench_setup NAME      a work directory in $WORK (removed at exit) and $pids, whose processes
#                         are stopped at exit (add with `pids+=($!)`)
#   bench_binary          $BIN: the release `vigil` of this tree, unless BIN is set (an older
#                         release, to measure side by side)
#   free_port, now_ns     a free loopback TCP port; the time in nanoseconds
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
