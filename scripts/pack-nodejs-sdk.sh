#!/usr/bin/env bash
# Builds the TypeScript SDK (sdk/nodejs) into an npm package tarball a program can install:
#   bash scripts/pack-nodejs-sdk.sh /tmp/spaceinvoices-sdk   # prints the tarball's path
#   cd <your program> && npm install <that path>
# (A tarball, not the folder: a linked folder would load its own copy of @pulumi/pulumi beside the
# program's, and resources of one are not resources to the other.) Needs node and npm.
set -euo pipefail
out="${1:?usage: pack-nodejs-sdk.sh OUT_DIR}"
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")/../sdk/nodejs" && pwd)"
rm -rf "$out/build" && mkdir -p "$out" && cp -r "$sdk" "$out/build" && cd "$out/build"
npm install --no-audit --no-fund --loglevel=error >&2
npx tsc
cp package.json README.md bin/
npm pack --pack-destination "$out" ./bin --loglevel=error | tail -n 1 | sed "s|^|$out/|"
