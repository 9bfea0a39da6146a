#!/usr/bin/env bash
# Builds the Debian package: dist/vigil_<version>_<arch>.deb
#   deploy/build-deb.sh                  # from the binary `make static` built (dist/vigil-*-linux-*)
#   deploy/build-deb.sh --binary FILE    # from another build (the tests package the debug build)
#   deploy/build-deb.sh --out DIR        # write the .deb somewhere else than dist/
#   deploy/build-deb.sh --fast           # gzip -1 instead of xz (the tests: same contents, less CPU)
#
# What is in it (docs/operations.md, "Debian package"):
#   /usr/bin/vigil                      the binary, stripped
#   /lib/systemd/system/vigil.service   deploy/vigil.service, hardened, ExecStart=/usr/bin/vigil
#   /etc/vigil/vigil.yaml               a conffile: loopback listener, self-signed TLS, no sources;
#                                       dpkg keeps the administrator's version on upgrade
#   /usr/share/doc/vigil/               copyright, changelog, README
# The maintainer scripts create the `vigil` system user and /var/lib/vigil, enable the unit and
# restart it on upgrade when it was running. A first install does not start it: the shipped
# config listens on 127.0.0.1 only, and the operator says what to listen on and who may log in.
# The scripts honour DPKG_ROOT, so the tests install the package under a directory
# (dpkg --root DIR --force-script-chrootless) without touching the host.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(ls -t dist/vigil-*-linux-* 2>/dev/null | grep -v sha256 | head -1 || true)
out=dist
compression=(-Zxz)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --fast) compression=(-Zgzip -z1); shift ;;
    *) echo "usage: $0 [--binary FILE] [--out DIR] [--fast]" >&2; exit 2 ;;
  esac
done
[[ -n "$binary" && -x "$binary" ]] || { echo "no binary: run 'make static' or pass --binary" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "dpkg-deb is needed (Debian: dpkg)" >&2; exit 1; }

version=$("$binary" version | awk '{ print $2 }')
# Debian revision 1: the package is built from the release, not from a Debian source package.
package_version="$version-1"
maintainer=${DEBFULLNAME:-Vigil maintainers}" <"${DEBEMAIL:-maintainers@vigil-gateway.org}">"
arch=$(dpkg --print-architecture)
stage=$(mktemp -d /tmp/vigil-deb.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root="$stage/vigil_${package_version}_$arch"

install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/vigil" "$root/usr/share/doc/vigil" \
  "$root/usr/share/man/man1"
gzip -9n < deploy/vigil.1 > "$root/usr/share/man/man1/vigil.1.gz"
chmod 0644 "$root/usr/share/man/man1/vigil.1.gz"
install -m 0755 "$binary" "$root/usr/bin/vigil"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/vigil"
sed -e 's#^Documentation=.*#Documentation=file:///usr/share/doc/vigil/README.md#' \
    -e 's#/usr/local/bin/vigil#/usr/bin/vigil#' \
    -e 's#^\# systemd unit for Vigil.*#\# systemd unit for Vigil, from the Debian package (deploy/build-deb.sh).#' \
    deploy/vigil.service > "$root/lib/systemd/system/vigil.service"
chmod 0644 "$root/lib/systemd/system/vigil.service"
cat > "$root/etc/vigil/vigil.yaml" <<'YAML'
# Vigil's configuration (docs/configuration.md lists every key with its default).
# Installed by the Debian package; dpkg keeps your changes on upgrade.
#
# As shipped it listens on 127.0.0.1 only, with a self-signed certificate, and has no users and
# no sources. Add what you need (see /usr/share/doc/vigil/README.md), check it with
#   vigil check-config /etc/vigil/vigil.yaml
# and start the service: systemctl start vigil
gateway:
  name: vigil
data_dir: /var/lib/vigil
http:
  listen: 127.0.0.1:8443
  tls: self-signed
YAML
chmod 0644 "$root/etc/vigil/vigil.yaml"

docs="$root/usr/share/doc/vigil"
install -m 0644 README.md "$docs/README.md"
cat > "$docs/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vigil
Source: https://github.com/vigil-gateway/vigil

Files: *
Copyright: $(date -u +%Y) The Vigil authors
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
EOF
printf 'vigil (%s) unstable; urgency=medium\n\n  * Release %s, built from the vigil sources by deploy/build-deb.sh.\n\n -- %s  %s\n' \
  "$package_version" "$version" "$maintainer" "$(date -uR)" | gzip -9n > "$docs/changelog.Debian.gz"
chmod 0644 "$docs/copyright" "$docs/changelog.Debian.gz"

# Depends: the Debian packages that hold the shared libraries the binary links.
depends=$(ldd "$root/usr/bin/vigil" | awk '$3 ~ /^\// { print $3 }' | while read -r library; do
  dpkg -S "$(readlink -f "$library")" 2>/dev/null || dpkg -S "$library" 2>/dev/null || true
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
[[ -n "$depends" ]] || { echo "could not work out the package's dependencies from ldd" >&2; exit 1; }
# libc6 at the version the binary's symbol versions need: the newest GLIBC_2.x it uses, and 2.36
# for packed relative relocations (GLIBC_ABI_DT_RELR, deploy/build-release.sh).
glibc=$(readelf -V "$root/usr/bin/vigil" | grep -o 'GLIBC_2\.[0-9]*' | cut -d_ -f2 | sort -V | tail -1)
if readelf -V "$root/usr/bin/vigil" | grep -q GLIBC_ABI_DT_RELR; then
  glibc=$(printf '%s\n2.36\n' "$glibc" | sort -V | tail -1)
fi
[[ -n "$glibc" ]] && depends=$(sed -E "s/(^|, )libc6(,|$)/\1libc6 (>= $glibc)\2/" <<< "$depends")
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: vigil
Version: $package_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends, adduser
Section: net
Priority: optional
Homepage: https://github.com/vigil-gateway/vigil
Description: monitoring gateway for edge Linux boxes
 Vigil ingests readings from MQTT brokers and serial devices (text lines,
 Modbus), stores them in an embedded compressed metric store, streams them
 live to browser consoles over WebSocket, serves the console and evaluates
 alert rules.
EOF
echo /etc/vigil/vigil.yaml > "$root/DEBIAN/conffiles"

cat > "$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
# Creates the vigil system user and its state directory, enables the unit; restarts a running
# gateway on upgrade. A first install does not start the service (see /etc/vigil/vigil.yaml).
set -e
root="${DPKG_ROOT:-}"
# An entry of passwd or group, from the system's databases or, under DPKG_ROOT, from its files.
entry() {
    if [ -z "$root" ]; then getent "$1" "$2" || true; else sed -n "/^$2:/p" "$root/etc/$1"; fi
}
if [ "$1" = configure ]; then
    if [ -z "$(entry passwd vigil)" ]; then
        if [ -z "$root" ]; then
            adduser --system --group --home /var/lib/vigil --no-create-home --quiet vigil
        else
            # Under DPKG_ROOT (tests, image builders) adduser cannot be pointed at the root.
            groupadd --root "$root" --system vigil
            useradd --root "$root" --system --gid vigil --home-dir /var/lib/vigil --no-create-home \
                --shell /usr/sbin/nologin vigil
        fi
    fi
    # Serial sources (serial:, modbus: rtu) open tty devices through the dialout group.
    if [ -z "$root" ] && [ -n "$(entry group dialout)" ]; then adduser --quiet vigil dialout || true; fi
    ids=$(entry passwd vigil | cut -d: -f3,4)
    mkdir -p "$root/var/lib/vigil"
    chown "$ids" "$root/var/lib/vigil"
    chmod 0750 "$root/var/lib/vigil"
    # The config may hold password hashes and tokens: readable by the service, not by everyone.
    chown "0:${ids#*:}" "$root/etc/vigil" "$root/etc/vigil/vigil.yaml"
    chmod 0750 "$root/etc/vigil"
    chmod 0640 "$root/etc/vigil/vigil.yaml"
fi
if [ "$1" = configure ] && [ -z "$root" ] && [ -d /run/systemd/system ]; then
    deb-systemd-helper unmask vigil.service >/dev/null || true
    deb-systemd-helper enable vigil.service >/dev/null || true
    systemctl --system daemon-reload >/dev/null || true
    if [ -n "$2" ]; then
        # An upgrade: the old binary was replaced; a gateway that ran goes on with the new one.
        deb-systemd-invoke try-restart vigil.service >/dev/null || true
    else
        echo "vigil: installed, not started. Edit /etc/vigil/vigil.yaml (users, sources, listen address), then: systemctl start vigil"
    fi
fi
exit 0
EOF
cat > "$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops the gateway before its files go (remove); an upgrade restarts it in postinst instead.
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
    deb-systemd-invoke stop vigil.service >/dev/null || true
fi
exit 0
EOF
cat > "$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
# purge: the data directory and the config go too (remove keeps both). The vigil user stays, as
# Debian does for system users (files elsewhere may still belong to it).
set -e
root="${DPKG_ROOT:-}"
if [ "$1" = purge ]; then
    rm -rf "$root/var/lib/vigil" "$root/etc/vigil"
    if [ -z "$root" ] && command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper purge vigil.service >/dev/null || true
    fi
fi
if [ "$1" = remove ] && [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
exit 0
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/vigil_${package_version}_$arch.deb"
# --fast (the tests): gzip at level 1 instead of xz (lintian refuses no compression); the same contents.
dpkg-deb --root-owner-group "${compression[@]}" --build "$root" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1))"
