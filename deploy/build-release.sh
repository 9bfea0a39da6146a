#!/usr/bin/env bash
# Builds a self-contained release binary: the Swift runtime and FoundationEssentials are linked in
# (--static-swift-stdlib), so the target box needs no Swift installation. It still links libc
# (glibc ≥ 2.36), libstdc++/libgcc, libm and libmosquitto dynamically (Debian: libmosquitto1),
# listed at the end. Output: dist/vigil-<version>-linux-<arch> (stripped) and its SHA-256.
#
# How it is linked, and why (docs/operations.md, "Memory"; bench/README.md, "The code in the order
# it runs"):
# - one section per function (whole-module builds do not emit them unless asked) and
#   deploy/vigil.order, the functions a running gateway executes
#   (deploy/profile-order.sh records them; deploy/vigil.order.ld places the few that have no
#   symbol to name them by): lld puts them side by side at the start of the code,
#   so the pages of code the kernel maps stay few. Unordered, the executed functions are spread
#   over the whole 18 MB of code and the kernel maps 64 KiB or more around each one it runs.
# - --no-export-dynamic: the static runtime's link arguments export every symbol of every module
#   (30 000), which the dynamic loader then searches on every lookup; nothing loads code into
#   vigil, so none need be exported.
# - RELR relocations (-z pack-relative-relocs): the position-independent binary's 76 000 relative
#   relocations take 15 KB instead of 1.8 MB. They need glibc 2.36 (Debian 12) at run time.
# NO_ORDER=1 links without the order file, LINK_MAP=FILE writes lld's link map (deploy/profile-order.sh
# profiles such a build and reads which input section each function is in from the map).
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own scratch directory: SwiftPM did not recompile the objects of an existing .build-static
# when these flags were added, and objects without function sections cannot be ordered.
flags=(
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
  -Xswiftc -use-ld=lld
  -Xlinker --no-export-dynamic
  -Xlinker -z -Xlinker pack-relative-relocs
)
[[ -n "${LINK_MAP:-}" ]] && flags+=(-Xlinker "-Map=$LINK_MAP" -Xlinker --no-demangle)
if [[ -z "${NO_ORDER:-}" ]]; then
  flags+=(-Xlinker "--symbol-ordering-file=$PWD/deploy/vigil.order" -Xlinker --no-warn-symbol-ordering
         -Xlinker -T -Xlinker "$PWD/deploy/vigil.order.ld")
fi
# (FoundationEssentials' own use of mktemp draws a linker warning on every link: not ours to fix.)
swift build -c release --static-swift-stdlib --product vigil --scratch-path .build-release "${flags[@]}" 2>&1 \
  | { grep -v "the use of \`mktemp' is dangerous" || true; }
binary=.build-release/release/vigil
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
