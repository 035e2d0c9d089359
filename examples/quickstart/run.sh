#!/usr/bin/env bash
# The quickstart in one command, on a machine with no Space Invoices account: a virtualenv with the
# package and its sandbox, a local Space Invoices sandbox and the onboarding endpoint beside it, a
# local state backend with a passphrase, then `pulumi up --yes` of the Pulumi project in
# examples/quickstart (its Pulumi.yaml and program), which exports the organization's entry URL.
#
#   bash examples/quickstart/run.sh         set up what is missing, then `pulumi up --yes`; safe to re-run
#   bash examples/quickstart/run.sh stop    stop the sandbox and the endpoint that the first form leaves running
#
# It needs the Pulumi CLI and Python 3.10+, and checks both before changing anything. What it
# creates lives in .venv/ and .pulumi-state/ (both ignored by git; `rm -rf .pulumi-state` starts
# over): the sandbox's database and log, the onboarding endpoint's signing key, port and log, the
# state backend, the stack's passphrase and config, and env.sh, which sets up a shell for further
# `pulumi` commands. The sandbox and the endpoint keep running afterwards on purpose: the entry
# URL's pages, `pulumi refresh` and `pulumi destroy` all need them.
# QUICKSTART_STATE_DIR moves .pulumi-state elsewhere (the stack config stays in .pulumi-state/stacks).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${QUICKSTART_STATE_DIR:-$ROOT/.pulumi-state}"
VENV="$ROOT/.venv"
PROJECT="$ROOT/examples/quickstart"   # the Pulumi project: not the root, which is a plugin package
STACK="dev"
PIDFILE="$STATE/sandbox.pid"
LOG="$STATE/sandbox.log"
# The onboarding endpoint (`spaceinvoices-onboarding serve`): the page behind the entry URL, and
# Connect's refresh and return URLs. Its port is kept, so the entry URL survives `run.sh stop`.
ENDPOINT_PIDFILE="$STATE/onboarding.pid"
ENDPOINT_LOG="$STATE/onboarding.log"
ENDPOINT_PORT_FILE="$STATE/onboarding.port"
ENDPOINT_API_FILE="$STATE/onboarding.api-url"   # the sandbox it was started for (its port changes on restart)
SIGNING_KEY_FILE="$STATE/onboarding-signing-key"
# Stripe test-mode keys in the right format: the sandbox accepts any such pair.
SANDBOX_SECRET_KEY="sk_test_quickstart0000000000000000"
SANDBOX_PUBLISHABLE_KEY="pk_test_quickstart0000000000000000"

say() { printf '\n==> %s\n' "$*"; }
fail() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

running_pid() {   # the pid in file $1, if that process is alive
  [ -f "$1" ] || return 1
  local pid
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}
sandbox_pid() { running_pid "$PIDFILE"; }
endpoint_pid() { running_pid "$ENDPOINT_PIDFILE"; }

stop_process() {   # $1: what it is, $2: its pid file
  local pid
  if pid="$(running_pid "$2")"; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "Stopped the $1 (pid $pid)."
  else
    echo "The $1 is not running."
  fi
  rm -f "$2"
}

case "${1:-up}" in
  up) ;;
  stop) stop_process "onboarding endpoint" "$ENDPOINT_PIDFILE"; stop_process sandbox "$PIDFILE"; exit 0 ;;
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
import fastapi, starlette, uvicorn  # noqa: F401  (the sandbox and onboarding extras)
import pulumi_spaceinvoices
sys.exit(pathlib.Path(sys.argv[1]).resolve() not in pathlib.Path(pulumi_spaceinvoices.__file__).resolve().parents)
PY
then
  say "pulumi-spaceinvoices and its sandbox are already installed in .venv"   # the sandbox's extra serves the endpoint too
else
  say "Installing pulumi-spaceinvoices with the sandbox and the onboarding endpoint into .venv (pip install -e '.[sandbox,onboarding]')"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[sandbox,onboarding]"
fi

# 3. The sandbox: a local Space Invoices server with a demo account, organization and invoice.
mkdir -p "$STATE"
# Background servers in their own session where possible, so that Ctrl-C during `pulumi up` leaves them running.
SETSID=""
if command -v setsid >/dev/null 2>&1; then SETSID="setsid"; fi
if pid="$(sandbox_pid)"; then
  say "The sandbox is already running (pid $pid)"
else
  say "Starting the Space Invoices sandbox (log: $LOG)"
  $SETSID "$VENV/bin/spaceinvoices-sandbox" --port 0 --db "$STATE/sandbox.db" </dev/null >"$LOG" 2>&1 &
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

# 3b. The onboarding endpoint, for the demo account: the entry URL's page, and where Stripe sends the
# admin back (refreshUrl, returnUrl). Its signing key is made once, kept in a file only its owner
# reads, and never printed: it goes to the endpoint through its environment and to the stack
# config through stdin. Started with --no-check: its start-up check reads the Connect config, which
# the first `pulumi up` below creates (with the endpoint's URLs) only after it is up.
if [ ! -s "$SIGNING_KEY_FILE" ]; then
  (umask 077; "$VENV/bin/python" -m pulumi_spaceinvoices.onboarding new-key >"$SIGNING_KEY_FILE")
fi
if pid="$(endpoint_pid)" && [ "$(cat "$ENDPOINT_API_FILE" 2>/dev/null)" != "$API_URL" ]; then
  stop_process "onboarding endpoint of an earlier sandbox" "$ENDPOINT_PIDFILE" >/dev/null
fi
if pid="$(endpoint_pid)"; then
  say "The onboarding endpoint is already running (pid $pid)"
  ENDPOINT_PORT="$(cat "$ENDPOINT_PORT_FILE")"
else
  # The port of the last run when it is free (the entry URL, which names it, stays the same), else a free one.
  ENDPOINT_PORT="$("$VENV/bin/python" - "$(cat "$ENDPOINT_PORT_FILE" 2>/dev/null || echo 0)" <<'PY'
import socket, sys
for port in dict.fromkeys((int(sys.argv[1]), 0)):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(sock.getsockname()[1])
        break
PY
)"
  echo "$ENDPOINT_PORT" >"$ENDPOINT_PORT_FILE"
  say "Starting the onboarding endpoint on port $ENDPOINT_PORT (log: $ENDPOINT_LOG)"
  SPACEINVOICES_ONBOARDING_SIGNING_KEY="$(cat "$SIGNING_KEY_FILE")" \
    SPACEINVOICES_ONBOARDING_URL="http://127.0.0.1:$ENDPOINT_PORT" \
    SPACEINVOICES_ACCESS_TOKEN="$TOKEN" SPACEINVOICES_API_URL="$API_URL" \
    $SETSID "$VENV/bin/python" -m pulumi_spaceinvoices.onboarding serve --port "$ENDPOINT_PORT" --no-check \
    </dev/null >"$ENDPOINT_LOG" 2>&1 &
  echo $! >"$ENDPOINT_PIDFILE"
  echo "$API_URL" >"$ENDPOINT_API_FILE"
  "$VENV/bin/python" - "http://127.0.0.1:$ENDPOINT_PORT/health" "$(cat "$ENDPOINT_PIDFILE")" <<'PY' \
    || { cat "$ENDPOINT_LOG" >&2; rm -f "$ENDPOINT_PIDFILE"; fail "the onboarding endpoint did not start"; }
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            sys.exit(response.status != 200)
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(1)  # it exited: its log says why
        time.sleep(0.1)
sys.exit(1)
PY
fi
ENDPOINT_URL="http://127.0.0.1:$ENDPOINT_PORT"

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
  printf '\nrun.sh: stopped on an error. The sandbox and the onboarding endpoint are still running (%s, %s);\n' \
    "$API_URL" "$ENDPOINT_URL" >&2
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
# The entry URL: made from these two, with no API call; Stripe sends the admin back to the endpoint.
"$PULUMI" config set spaceinvoices:onboardingUrl "$ENDPOINT_URL"
printf '%s' "$(cat "$SIGNING_KEY_FILE")" | "$PULUMI" config set --secret spaceinvoices:onboardingSigningKey
"$PULUMI" config set refreshUrl "$ENDPOINT_URL/refresh"
"$PULUMI" config set returnUrl "$ENDPOINT_URL/return"
say "pulumi up --yes"
"$PULUMI" up --yes
OUTPUTS="$("$PULUMI" stack output --json --show-secrets)"
trap - ERR

# 6. What happened, and what to do next.
SOURCE_ENV="source ${STATE#"$ROOT"/}/env.sh"
case "$STATE" in "$ROOT"/*) STATE_FROM_PROJECT="../../${STATE#"$ROOT"/}" ;; *) STATE_FROM_PROJECT="$STATE" ;; esac
"$VENV/bin/python" - "$OUTPUTS" "$API_URL" "$SHAREABLE_ID" "$SOURCE_ENV" "$(cat "$PIDFILE")" "$STATE_FROM_PROJECT" \
  "$ENDPOINT_URL" "$(cat "$ENDPOINT_PIDFILE")" <<'PY'
import json, sys
outputs = json.loads(sys.argv[1])
api_url, shareable_id, source_env, pid, state_from_project, endpoint_url, endpoint_pid = sys.argv[2:]
steps = [
    (source_env, "the state backend, passphrase and .venv for this shell"),
    ("cd examples/quickstart", "the quickstart's Pulumi project"),
    ("pulumi refresh --yes", "reads the account: charges_enabled turns true in the state"),
    ("pulumi up --yes", "the stack outputs follow: charges_enabled true"),
    ("pulumi stack output charges_enabled", ""),
]
width = max(len(command) for command, _ in steps) + 2
commands = "\n".join(f"       {command:<{width}}{'# ' + why if why else ''}".rstrip() for command, why in steps)
# The raw link only when asked for (stack config onboardingLinks true): the entry URL is what people get.
raw = "" if "onboarding_url" not in outputs else f"""
  onboarding_url       {outputs["onboarding_url"] or "(none: onboarding is complete)"}
  expires at about     {outputs.get("onboarding_url_expires_at") or "-"}"""
print(f"""
Stack outputs (the entry URL is a secret: `pulumi stack output --show-secrets entry_url` shows it again):
  entry_url            {outputs.get("entry_url")}
  organization_id      {outputs.get("organization_id")}
  charges_enabled      {json.dumps(outputs.get("charges_enabled"))}{raw}

What to do next
  1. Open the entry URL in a browser: the onboarding endpoint's page, which makes no link by itself
     (so a mail scanner or a chat preview that opens it uses nothing up). Click "Continue to Stripe":
     the endpoint makes a fresh onboarding link and sends you to the sandbox's stand-in for Stripe.
     Click "Complete onboarding" (real Stripe would ask for the organization's business and bank
     details here). Stripe sends you back to the endpoint's return page, which reads the account and
     says onboarding is complete. The entry URL is the same on every up and works as often as needed.
  2. See the organization's charges become enabled, from the repository root:
{commands}
  3. With charges enabled, the demo invoice can be paid: {api_url}/sandbox/pay/{shareable_id}
  4. Clean up, in examples/quickstart: pulumi destroy --yes (deactivates both: the API has no
     delete), then bash run.sh stop, and rm -rf {state_from_project}.

The sandbox and the onboarding endpoint keep running in the background for these steps
(sandbox: pid {pid}, {api_url}; endpoint: pid {endpoint_pid}, {endpoint_url}).
Stop both with: bash examples/quickstart/run.sh stop""")
PY
