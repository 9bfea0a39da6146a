#!/usr/bin/env bash
# Finds float-to-integer conversions in the code that reads outside input (payloads, serial
# lines, registers, HTTP parameters and bodies, config, CLI arguments, imported files).
# `Int64(x * 1000)` traps when x is huge, infinite or NaN; such numbers go through
# `Checked.int64(…)` (VigilCore/Support/Checked.swift), which answers nil instead.
# A conversion that is safe by construction says why on the same line: `// checked: <why>`.
# Run by `make test`; exits 1 and lists the lines when it finds one.
set -euo pipefail
cd "$(dirname "$0")/.."
parsing=(
  Sources/VigilCore
  Sources/VigilConfig
  Sources/VigilIngest/Payload Sources/VigilIngest/Serial Sources/VigilIngest/Modbus
  Sources/VigilIngest/Normalize Sources/VigilIngest/Sparkplug Sources/VigilIngest/MQTT/MessageMapper.swift Sources/VigilIngest/MQTT/MQTTConfig.swift
  Sources/VigilStore/PromQL Sources/VigilStore/Query Sources/VigilStore/Interchange
  Sources/VigilServer/Query Sources/VigilServer/HTTP Sources/VigilServer/Alerts Sources/VigilServer/Auth
  Sources/VigilServer/Configuration Sources/VigilServer/Live
  Sources/VigilAlerts/Rules Sources/VigilForward/ForwardConfig.swift
  Sources/VigilCLI
)
# An integer initializer whose argument is computed with floating point: a parenthesized
# expression, `.rounded()`, or a Double.
pattern='\bU?Int(8|16|32|64)?\((\(|[^)]*\.rounded\(|[^)]*\bDouble\b|[^)]*\* [0-9.]+[eE]?)'
found=$(grep -rnE "$pattern" "${parsing[@]}" --include='*.swift' | grep -v '// checked:' | grep -vE '^\S+:\s*///' || true)
if [[ -n "$found" ]]; then
  echo "Unchecked float-to-integer conversions in parsing code (use Checked.int64, or say '// checked: why'):" >&2
  echo "$found" >&2
  exit 1
fi
echo "check-conversions: no unchecked float-to-integer conversion in parsing code"
