#!/usr/bin/env bash
# Makes the artifacts of a release from the commit checked out (docs/releases.md):
#
#   bash scripts/release.sh OUT_DIR [TAG]     # e.g. bash scripts/release.sh dist v0.2.0
#
# TAG, the tag being released (the release workflow passes the one pushed), must be v<VERSION>, where
# VERSION is pulumi_spaceinvoices/_version.py's; without TAG the script builds that version as a dry
# run. Either way it refuses a VERSION that is not MAJOR.MINOR.PATCH and a checkout whose tracked
# files differ from the commit (the Go module is cut from the commit, the rest from the files).
# It writes into OUT_DIR:
#   pulumi_spaceinvoices-VERSION-py3-none-any.whl   `python -m build` (the wheel is built from the
#   pulumi_spaceinvoices-VERSION.tar.gz             sdist), both passed by `twine check --strict`
#   spaceinvoices-pulumi-VERSION.tgz                the TypeScript SDK (scripts/pack-nodejs-sdk.sh)
#   sdk-go-vVERSION.zip                             the Go SDK module as the tag sdk/go/vVERSION serves
#   goproxy/                                        it, and the same as a GOPROXY folder (file://…)
# The Go module is made by `go mod download` itself from that tag, in a scratch copy of the commit
# (its module lives in sdk/go, so its tags are sdk/go/vX.Y.Z). Needs python with build and twine,
# node and npm, go and git.
set -euo pipefail
out="${1:?usage: release.sh OUT_DIR [vX.Y.Z]}"
tag="${2:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fail() { echo "release.sh: $*" >&2; exit 1; }

version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' pulumi_spaceinvoices/_version.py)"
[[ "$version" =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] \
  || fail "pulumi_spaceinvoices/_version.py says '$version'; a release version is MAJOR.MINOR.PATCH"
if [ -n "$tag" ] && [ "$tag" != "v$version" ]; then
  fail "the tag $tag does not match the version in pulumi_spaceinvoices/_version.py ($version): tag v$version, or change the version and regenerate"
fi
git diff --quiet HEAD -- || fail "tracked files differ from the commit $(git rev-parse --short HEAD): commit them first"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
echo "==> release $version of $(git rev-parse --short HEAD) into $out"

echo "==> Python: wheel and sdist"
python -m build --outdir "$scratch/python" . >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log" >&2; fail "python -m build failed"; }
python -m twine check --strict "$scratch"/python/*
mv "$scratch"/python/* "$out/"

echo "==> TypeScript SDK: npm pack"
tarball="$(bash scripts/pack-nodejs-sdk.sh "$scratch/nodejs")"
mv "$tarball" "$out/"

echo "==> Go SDK: the module the tag sdk/go/v$version serves"
module="$(sed -n 's/^module //p' sdk/go/go.mod)"   # github.com/<owner>/<repo>/sdk/go
git init -q --bare "$scratch/repo.git"
git -C "$scratch/repo.git" config receive.shallowUpdate true   # the workflow's checkout may be shallow
git push -q "$scratch/repo.git" "HEAD:refs/tags/sdk/go/v$version"
# `go` fetches https://<module's repository> by git; here that URL leads to the scratch copy.
printf '[url "%s"]\n\tinsteadOf = https://%s\n' "$scratch/repo.git" "${module%/sdk/go}" >"$scratch/gitconfig"
(cd "$scratch" && GIT_CONFIG_GLOBAL="$scratch/gitconfig" GOPROXY=direct GOSUMDB=off GOFLAGS=-modcacherw \
  GOMODCACHE="$scratch/mod" GOWORK=off GOTOOLCHAIN=local go mod download -json "$module@v$version" >/dev/null)
served="$out/goproxy/$module/@v"
mkdir -p "$served"
for ext in info mod zip; do cp "$scratch/mod/cache/download/$module/@v/v$version.$ext" "$served/"; done
echo "v$version" >"$served/list"
cp "$served/v$version.zip" "$out/sdk-go-v$version.zip"

echo "==> artifacts"
(cd "$out" && ls -l -- *.whl *.tar.gz *.tgz *.zip)
