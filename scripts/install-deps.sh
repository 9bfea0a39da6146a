#!/usr/bin/env bash
# Installs the Debian packages Vigil needs for a purpose, and only those that are missing.
#   scripts/install-deps.sh build   # to compile (pkg-config, libmosquitto-dev)
#   scripts/install-deps.sh demo    # build + mosquitto and curl for `make demo`
#   scripts/install-deps.sh test    # build + what the tests start: mosquitto, its clients, curl, openssl,
#                                   # headless Chromium with chromedriver and Selenium (console tests),
#                                   # Alertmanager (the alert notifier test starts its own on loopback),
#                                   # lintian (the Debian package test), valgrind (the link order test)
# Runs `apt-get update` at most once, and only when something has to be installed.
set -euo pipefail

purpose="${1:-build}"
build=(pkg-config libmosquitto-dev libzstd-dev libsqlite3-dev zlib1g-dev libmodbus-dev libsnappy-dev libyaml-dev libssl-dev)
case "$purpose" in
  build) wanted=("${build[@]}") ;;
  demo)  wanted=("${build[@]}" mosquitto curl openssl socat python3) ;;
  test)  wanted=("${build[@]}" mosquitto mosquitto-clients curl openssl python3-venv nodejs chromium chromium-driver python3-selenium prometheus-alertmanager socat prometheus victoria-metrics lintian binutils valgrind) ;;
  *) echo "usage: $0 build|demo|test" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "Vigil needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # Packages with a daemon (mosquitto, alertmanager) would start it listening on every address;
  # the tests start their own on loopback, so keep the package scripts from starting services.
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    added_policy=true
  fi
  status=0
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  if $added_policy; then "${sudo[@]}" rm -f "$policy"; fi
  ((status == 0)) || { echo "apt-get install failed ($status)" >&2; exit "$status"; }
fi

# The tests run the Autobahn cases through kosoku, a Modbus slave on pymodbus and a Sparkplug B
# edge node on pysparkplug (PyPI), from a venv kept in .build/.
if [[ "$purpose" == "test" ]]; then
  venv="$(cd "$(dirname "$0")/.." && pwd)/.build/test-venv"
  if ! "$venv/bin/python" -c 'import kosoku, pymodbus, serial, pysparkplug' 2>/dev/null; then
    echo "==> creating $venv with kosoku (Autobahn conformance cases), pymodbus (Modbus slave) and pysparkplug (Sparkplug B edge node)"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q kosoku==0.1.0 pymodbus==3.6.9 pyserial==3.5 pysparkplug==0.6.1
  fi
  # A second Sparkplug edge node, on Eclipse Tahu's Python code: it pins protobuf 3.20, which
  # pysparkplug cannot share, so it has a venv of its own.
  spb="$(dirname "$venv")/spb-venv"
  if ! "$spb/bin/python" -c 'import mqtt_spb_wrapper' 2>/dev/null; then
    echo "==> creating $spb with mqtt-spb-wrapper (Sparkplug B edge node)"
    [[ -x "$spb/bin/python" ]] || python3 -m venv "$spb"
    "$spb/bin/pip" install -q mqtt-spb-wrapper==2.1.2
  fi
fi
