#!/usr/bin/env bash
# Regenerates Sources/VigilIngest/Sparkplug/SparkplugB.pb.swift from sparkplug_b.proto next to it.
# Run by hand after changing the .proto (the generated file is committed, so builds need neither
# protoc nor the plugin). Needs Debian's protobuf-compiler and builds protoc-gen-swift from the
# same swift-protobuf version Package.swift names (about 2-10 minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.39.0
work=.build/protoc-gen-swift
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
if [[ ! -x "$work/.build/release/protoc-gen-swift" ]]; then
  rm -rf "$work"
  git clone -q --branch "$version" https://github.com/apple/swift-protobuf.git "$work"
  (cd "$work" && swift build -c release --product protoc-gen-swift)
fi
protoc --plugin="$work/.build/release/protoc-gen-swift" \
  --swift_out=Sources/VigilIngest/Sparkplug --swift_opt=Visibility=Internal \
  --proto_path=Sources/VigilIngest/Sparkplug sparkplug_b.proto
mv Sources/VigilIngest/Sparkplug/sparkplug_b.pb.swift Sources/VigilIngest/Sparkplug/SparkplugB.pb.swift
echo "generated Sources/VigilIngest/Sparkplug/SparkplugB.pb.swift"
