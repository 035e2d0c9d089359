#!/usr/bin/env bash
# Prints a folder with the Pulumi CLI and the language hosts the tests use, for machines without the
# official CLI: ../shared/tools/pulumi-cli/install.sh builds the CLI and the Python, Node.js and Go
# hosts, and this script adds a Pulumi YAML host that can run a source-based Python plugin
# (`packages: spaceinvoices: <this repository>`):
#
#   export PATH="$(bash scripts/pulumi-cli.sh):$PATH"
#
# Why a YAML host of our own build: the one release of pulumi-yaml served here (v1.25.0) is, as
# install.sh builds it, linked with the Pulumi SDK it names (v3.206.0), whose plugin loader starts a
# plugin's language host with a `-root` flag that the v3.274.1 Python host no longer takes, so any
# YAML program with a Python-source package fails to load it. The same release built on SDK v3.210.0
# (without that flag, and an API it still compiles against) loads it. The folder is a copy
# of install.sh's (hard links where possible) with that host in place of the other, so the CLI finds
# every host beside itself and warns about none. Cached; the first build takes about a minute.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
YAML_V="v1.25.0"
SDK_V="v3.210.0"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-spaceinvoices"
HOST="$CACHE/yaml-host-$YAML_V-sdk-$SDK_V"

cli_dir="$(PULUMI_CLI_LANGUAGES="python yaml nodejs go" bash "$HERE/../../shared/tools/pulumi-cli/install.sh")"
cli_version="$("$cli_dir/pulumi" version)"
BIN="$CACHE/cli-$cli_version-yaml-$YAML_V-sdk-$SDK_V/bin"

if [ ! -x "$HOST/pulumi-language-yaml" ]; then
  echo "pulumi-cli.sh: building pulumi-language-yaml $YAML_V on the Pulumi SDK $SDK_V" >&2
  mkdir -p "$HOST/src" && cd "$HOST/src"
  printf 'module yaml-host-from-source\n\ngo 1.25\n\nrequire (\n\tgithub.com/pulumi/pulumi-yaml %s\n\tgithub.com/pulumi/pulumi/pkg/v3 %s\n\tgithub.com/pulumi/pulumi/sdk/v3 %s\n)\n' \
    "$YAML_V" "$SDK_V" "$SDK_V" >go.mod
  export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
  go get "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$YAML_V" "github.com/pulumi/pulumi/pkg/v3@$SDK_V" \
    "github.com/pulumi/pulumi/sdk/v3@$SDK_V" >/dev/null 2>&1
  go build -trimpath -ldflags "-s -w" -o "$HOST/pulumi-language-yaml.tmp" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
  mv "$HOST/pulumi-language-yaml.tmp" "$HOST/pulumi-language-yaml"
fi

if [ ! -x "$BIN/pulumi-language-yaml" ] || [ "$("$BIN/pulumi" version 2>/dev/null)" != "$cli_version" ]; then
  rm -rf "$BIN" && mkdir -p "$BIN"
  for file in "$cli_dir"/*; do
    [ "$(basename "$file")" = pulumi-language-yaml ] && continue
    ln "$file" "$BIN/" 2>/dev/null || cp -p "$file" "$BIN/"
  done
  ln "$HOST/pulumi-language-yaml" "$BIN/" 2>/dev/null || cp -p "$HOST/pulumi-language-yaml" "$BIN/"
fi
echo "$BIN"
