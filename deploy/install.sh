#!/usr/bin/env bash
# Installs Vigil on a Debian box: binary, config, service user and systemd unit.
#   deploy/install.sh [--binary FILE] [--config FILE] [--start]
# Defaults: the newest dist/vigil-* (from `make static`), samples/minimal.yaml as the first config.
# An existing /etc/vigil/vigil.yaml is never overwritten. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(ls -t dist/vigil-*-linux-* 2>/dev/null | grep -v sha256 | head -1 || true)
config=samples/minimal.yaml
start=no
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --start) start=yes; shift ;;
    *) echo "usage: $0 [--binary FILE] [--config FILE] [--start]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
[[ -n "$binary" && -x "$binary" ]] || { echo "no binary: run 'make static' or pass --binary" >&2; exit 1; }

dpkg-query -W -f='${Status}' libmosquitto1 2>/dev/null | grep -q "install ok installed" \
  || { apt-get update -qq && apt-get install -y -qq libmosquitto1; }

id vigil >/dev/null 2>&1 || useradd --system --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil
install -m 0755 "$binary" /usr/local/bin/vigil.new
mv /usr/local/bin/vigil.new /usr/local/bin/vigil    # atomic replace: a running gateway keeps its old inode
install -d -m 0750 -o root -g vigil /etc/vigil
if [[ ! -e /etc/vigil/vigil.yaml ]]; then
  sed -e 's#\${VIGIL_DATA_DIR:-[^}]*}#/var/lib/vigil#' -e 's#\${VIGIL_LISTEN:-\([^}]*\)}#\1#' "$config" > /etc/vigil/vigil.yaml
  chown root:vigil /etc/vigil/vigil.yaml
  chmod 0640 /etc/vigil/vigil.yaml
fi
/usr/local/bin/vigil check-config /etc/vigil/vigil.yaml
install -m 0644 deploy/vigil.service /etc/systemd/system/vigil.service
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  systemctl enable vigil.service
  if [[ $start == yes ]]; then systemctl restart vigil.service; fi
  echo "installed; start with: systemctl start vigil   (logs: journalctl -u vigil -f)"
else
  echo "installed; systemd is not running here, so the unit was copied but not enabled"
fi
