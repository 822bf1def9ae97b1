#!/bin/sh
# Rebuilds raw.wasm with the workspace toolchain (rustc 1.95.0), no post-processing.
set -e
cd "$(dirname "$0")"
rustc --edition 2021 --crate-type cdylib --target wasm32-unknown-unknown -C opt-level=z -C panic=abort -C strip=symbols lib.rs -o raw.wasm
