#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the
# committed .swift-format, then lints them. `--check` only lints, and exits
# non-zero when a file would change or a rule is broken.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(Package.swift Sources Tests)

if [[ "${1:-}" != "--check" ]]; then
    swift format format --in-place --recursive --parallel "${paths[@]}"
fi
swift format lint --strict --recursive --parallel "${paths[@]}"
