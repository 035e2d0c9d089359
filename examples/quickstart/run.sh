#!/usr/bin/env bash
# The quickstart in one command, on a machine with no Space Invoices account: a virtualenv with the
# package and its sandbox, a local Space Invoices sandbox, a local state backend with a passphrase,
# then `pulumi up --yes` of the Pulumi project in examples/quickstart (its Pulumi.yaml and program).
#
#   bash examples/quickstart/run.sh         set up what is missing, then `pulumi up --yes`; safe to re-run
#   bash examples/quickstart/run.sh stop    stop the sandbox that the first form leaves running
#
# It needs the Pulumi CLI and Python 3.10+, and checks both before changing anything. What it
# creates lives in .venv/ and .pulumi-state/ (both ignored by git; `rm -rf .pulumi-state` starts
# over): the sandbox's database and log, the state backend, the stack's passphrase and config, and
# env.sh, which sets up a shell for further `pulumi` commands. The sandbox keeps running afterwards
# on purpose: the onboarding link, `pulumi refresh` and `pulumi destroy` all need it.
# QUICKSTART_STATE_DIR moves .pulumi-state elsewhere (the stack config stays in .pulumi-state/stacks).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${QUICKSTART_STATE_DIR:-$ROOT/.pulumi-state}"
VENV="$ROOT/.venv"
PROJECT="$ROOT/examples/quickstart"   # the Pulumi project: not the root, which is a plugin package
STACK="dev"
PIDFILE="$STATE/sandbox.pid"
LOG="$STATE/sandbox.log"
# Stripe test-mode keys in the right format: the sandbox accepts any such pair.
SANDBOX_SECRET_KEY="sk_test_quickstart0000000000000000"
SANDBOX_PUBLISHABLE_KEY="pk_test_quickstart0000000000000000"

say() { printf '\n==> %s\n' "$*"; }
fail() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

sandbox_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

stop_sandbox() {
  local pid
  if pid="$(sandbox_pid)"; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "Stopped the sandbox (pid $pid)."
  else
    echo "The sandbox is not running."
  fi
  rm -f "$PIDFILE"
}

case "${1:-up}" in
  up) ;;
  stop) stop_sandbox; exit 0 ;;
  *) fail "unknown command '$1' (use: run.sh, or run.sh stop)" ;;
esac

# 1. Check the prerequisites, changing nothing.
PULUMI="$(command -v pulumi || true)"
if [ -z "$PULUMI" ] && [ -x "${HOME:-}/.pulumi/bin/pulumi" ]; then
  PULUMI="$HOME/.pulumi/bin/pulumi"   # installed, but this shell's PATH predates the installer
fi
if [ -z "$PULUMI" ]; then
  cat >&2 <<'EOF'
The Pulumi CLI is not installed: this quickstart runs `pulumi up`, so it needs it.
Install it (https://www.pulumi.com/docs/iac/download-install/), then run this command again:

    curl -fsSL https://get.pulumi.com | sh      # Linux and macOS; adds ~/.pulumi/bin to your PATH
    brew install pulumi/tap/pulumi              # macOS with Homebrew
    winget install pulumi                       # Windows

No Pulumi account is needed: the quickstart keeps its state in a local folder.
Nothing was changed.
EOF
  exit 1
fi
PYTHON="$(command -v python3 || true)"
if [ -z "$PYTHON" ] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  fail "Python 3.10 or newer is needed as python3 (found: ${PYTHON:-none}). Nothing was changed."
fi
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  fail "python3 cannot create virtualenvs; on Debian/Ubuntu: sudo apt install python3-venv. Nothing was changed."
fi

# 2. The virtualenv, with the package and the sandbox.
if [ ! -x "$VENV/bin/python" ]; then
  say "Creating a virtualenv in .venv"
  "$PYTHON" -m venv "$VENV"
fi
if "$VENV/bin/python" - "$ROOT" 2>/dev/null <<'PY'
import pathlib, sys
import fastapi, uvicorn  # noqa: F401  (the sandbox extra)
import pulumi_spaceinvoices
sys.exit(pathlib.Path(sys.argv[1]).resolve() not in pathlib.Path(pulumi_spaceinvoices.__file__).resolve().parents)
PY
then
  say "pulumi-spaceinvoices and its sandbox are already installed in .venv"
else
  say "Installing pulumi-spaceinvoices with the sandbox into .venv (pip install -e '.[sandbox]')"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[sandbox]"
fi

# 3. The sandbox: a local Space Invoices server with a demo account, organization and invoice.
mkdir -p "$STATE"
if pid="$(sandbox_pid)"; then
  say "The sandbox is already running (pid $pid)"
else
  say "Starting the Space Invoices sandbox (log: $LOG)"
  # In its own session where possible, so that Ctrl-C during `pulumi up` leaves it running.
  setsid=""
  if command -v setsid >/dev/null 2>&1; then setsid="setsid"; fi
  $setsid "$VENV/bin/spaceinvoices-sandbox" --port 0 --db "$STATE/sandbox.db" </dev/null >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 150); do
    grep -q '^Press Ctrl-C' "$LOG" 2>/dev/null && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$LOG" >&2; rm -f "$PIDFILE"; fail "the sandbox did not start"; }
    sleep 0.1
  done
  grep -q '^Press Ctrl-C' "$LOG" || { cat "$LOG" >&2; fail "the sandbox did not start within 15 s"; }
fi
API_URL="$(sed -n 's/^export SPACEINVOICES_API_URL=//p' "$LOG" | tail -n 1)"
[ -n "$API_URL" ] || fail "could not read the sandbox's URL from $LOG"
# The demo seed, from the admin API (the same objects on every call for one database).
eval "$("$VENV/bin/python" - "$API_URL" <<'PY'
import json, shlex, sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/_sandbox/demo", method="POST")
with urllib.request.urlopen(request, timeout=10) as response:
    demo = json.load(response)
for name, key in (("TOKEN", "token"), ("ORG_ID", "organizationId"), ("SHAREABLE_ID", "shareableId")):
    print(f"{name}={shlex.quote(demo[key])}")
PY
)"

# 4. A local state backend and a passphrase, in a file a shell can source for later commands.
mkdir -p "$STATE/backend"
if [ ! -s "$STATE/passphrase" ]; then
  (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$STATE/passphrase")
fi
cat >"$STATE/env.sh" <<EOF
# Written by examples/quickstart/run.sh. \`source\` it, then run pulumi on the quickstart stack in
# examples/quickstart (the project's folder): the local state backend, its passphrase, the activated
# virtualenv (Pulumi runs the program and its dynamic providers with its python3) and the Pulumi CLI.
export PULUMI_BACKEND_URL='file://$STATE/backend'
export PULUMI_CONFIG_PASSPHRASE_FILE='$STATE/passphrase'
unset PULUMI_CONFIG_PASSPHRASE
export PULUMI_SKIP_UPDATE_CHECK=true
export VIRTUAL_ENV='$VENV'
export PATH='$VENV/bin':'$(dirname "$PULUMI")':"\$PATH"
EOF
# shellcheck source=/dev/null
. "$STATE/env.sh"

# 5. The stack, its config, and `pulumi up`.
cd "$PROJECT"
on_error() {
  printf '\nrun.sh: stopped on an error. The sandbox is still running (%s);\n' "$API_URL" >&2
  printf 'fix the cause and run this command again, or stop it: bash examples/quickstart/run.sh stop\n' >&2
}
trap on_error ERR
say "Selecting the stack '$STACK' (state in ${STATE#"$ROOT"/}/backend)"
"$PULUMI" stack select --create --secrets-provider passphrase "$STACK"
"$PULUMI" config set spaceinvoices:apiUrl "$API_URL"
printf '%s' "$TOKEN" | "$PULUMI" config set --secret spaceinvoices:accessToken   # from stdin: not in argv
"$PULUMI" config set organizationId "$ORG_ID"
"$PULUMI" config set stripePublishableKey "$SANDBOX_PUBLISHABLE_KEY"
printf '%s' "$SANDBOX_SECRET_KEY" | "$PULUMI" config set --secret stripeSecretKey
say "pulumi up --yes"
"$PULUMI" up --yes
OUTPUTS="$("$PULUMI" stack output --json --show-secrets)"
trap - ERR

# 6. What happened, and what to do next.
SOURCE_ENV="source ${STATE#"$ROOT"/}/env.sh"
case "$STATE" in "$ROOT"/*) STATE_FROM_PROJECT="../../${STATE#"$ROOT"/}" ;; *) STATE_FROM_PROJECT="$STATE" ;; esac
"$VENV/bin/python" - "$OUTPUTS" "$API_URL" "$SHAREABLE_ID" "$SOURCE_ENV" "$(cat "$PIDFILE")" "$STATE_FROM_PROJECT" <<'PY'
import json, sys
outputs = json.loads(sys.argv[1])
api_url, shareable_id, source_env, pid, state_from_project = sys.argv[2:]
url = outputs.get("onboarding_url")
steps = [
    (source_env, "the state backend, passphrase and .venv for this shell"),
    ("cd examples/quickstart", "the quickstart's Pulumi project"),
    ("pulumi refresh --yes", "reads the account: charges_enabled turns true in the state"),
    ("pulumi up --yes", "the stack outputs follow: charges_enabled true, no link needed"),
    ("pulumi stack output charges_enabled", ""),
]
width = max(len(command) for command, _ in steps) + 2
commands = "\n".join(f"       {command:<{width}}{'# ' + why if why else ''}".rstrip() for command, why in steps)
print(f"""
Stack outputs (the onboarding link is a secret: `pulumi stack output --show-secrets` shows it):
  organization_id      {outputs.get("organization_id")}
  charges_enabled      {json.dumps(outputs.get("charges_enabled"))}
  onboarding_url       {url or "(none: onboarding is complete)"}
  expires at about     {outputs.get("onboarding_url_expires_at") or "-"}

What to do next
  1. Open the onboarding link in a browser and click "Complete onboarding" (real Stripe would ask
     for the organization's business and bank details here). You land on the return URL
     (https://example.com/onboarding/return unless you set returnUrl). The link works once and for
     about five minutes; a used or expired one lands on the refresh URL; `pulumi up --yes` makes a new one.
  2. See the organization's charges become enabled, from the repository root:
{commands}
  3. With charges enabled, the demo invoice can be paid: {api_url}/sandbox/pay/{shareable_id}
  4. Clean up, in examples/quickstart: pulumi destroy --yes (deactivates both: the API has no
     delete), then bash run.sh stop, and rm -rf {state_from_project}.

The sandbox keeps running in the background for these steps (pid {pid}, {api_url}).
Stop it with: bash examples/quickstart/run.sh stop""")
PY
