#!/usr/bin/env bash
# Builds a self-contained release binary: the Swift runtime and FoundationEssentials are linked in
# (--static-swift-stdlib), so the target box needs no Swift installation. It still links libc,
# libstdc++/libgcc, libm and libmosquitto dynamically (Debian: libmosquitto1), listed at the end.
# Output: dist/vigil-<version>-linux-<arch> (stripped) and its SHA-256.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product vigil --scratch-path .build-static
binary=.build-static/release/vigil
version=$("$binary" version | awk '{print $2}')
arch=$(uname -m)
mkdir -p dist
out="dist/vigil-$version-linux-$arch"
cp "$binary" "$out"
strip "$out"
sha256sum "$out" > "$out.sha256"
echo "built $out ($(du -h "$out" | cut -f1))"
echo "dynamic libraries it needs on the target:"
ldd "$out" | awk '{print "  " $1}'
