"""`spaceinvoices-fleet COMMAND ORGANIZATIONS`: preview, up, refresh or destroy a fleet; links and status
of its onboarding (docs/fleets.md).

Exit codes: 0 every stack succeeded; 1 a stack failed (the summary names it and its error); 2 the
input or the layout was refused before anything ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigurationError
from .layout import CONNECT_STACK, shard_index
from .organizations import InputError, Organization, load
from .plan import Observed, Plan, Refused, Request, check, plan
from .scope import StackState

SETTINGS = {"project", "publicKey", "applicationFee", "returnUrl", "refreshUrl", "secretKeyEnv", "onboardingUrl",
            "signingKeyEnv"}
DEFAULT_SIGNING_KEY_ENV = "SPACEINVOICES_ONBOARDING_SIGNING_KEY"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spaceinvoices-fleet", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["preview", "up", "refresh", "destroy", "links", "status"])
    p.add_argument("organizations", help="a .yaml/.yml/.json/.csv file of organizations, or - for stdin")
    p.add_argument("--format", choices=["yaml", "json", "csv"], help="the input's format (default: its extension)")
    p.add_argument("--config", help="fleet config (YAML/JSON): project, publicKey, applicationFee, returnUrl, "
                                    "refreshUrl, secretKeyEnv, onboardingUrl, signingKeyEnv")
    p.add_argument("--project", help="the Pulumi project of the fleet's stacks (default spaceinvoices-fleet)")
    p.add_argument("--backend", help="state backend URL (default $PULUMI_BACKEND_URL, else file://~)")
    p.add_argument("--api-url", help="Space Invoices API URL (default $SPACEINVOICES_API_URL)")
    p.add_argument("--shards", type=int, help="number of shard stacks (default: the fleet's recorded count)")
    p.add_argument("--parallel", "-K", type=int, default=2, help="shard stacks run at once (default 2)")
    p.add_argument("--shard", type=int, action="append", help="run only this shard (repeatable)")
    p.add_argument("--connect-only", action="store_true", help="run only the connect stack")
    p.add_argument("--full", action="store_true",
                   help="preview/up: run every stack, also those whose state already holds their input")
    p.add_argument("--policy-pack", action="append", metavar="DIR", help="preview/up: run this policy pack "
                                                                         "(repeatable)")
    p.add_argument("--policy-pack-config", action="append", metavar="FILE",
                   help="preview/up: the policy pack's config (one per --policy-pack, in order)")
    p.add_argument("--yes", action="store_true", help="allow a layout change that moves most organizations")
    p.add_argument("--json", dest="json_file", help="write the summary as JSON to this file")
    links = p.add_argument_group("links and status")
    links.add_argument("--all", action="store_true", help="links: every active account, complete ones too")
    links.add_argument("--output", "-o", help="links: write to this file (mode 0600) instead of stdout")
    links.add_argument("--output-format", choices=["csv", "json"], default="csv", help="links: CSV or JSON")
    links.add_argument("--onboarding-url", help="links: the onboarding endpoint's base URL (default: the fleet "
                                                "config's onboardingUrl, then $SPACEINVOICES_ONBOARDING_URL)")
    links.add_argument("--valid-until", help="links: the last day (YYYY-MM-DD, UTC) the URLs work")
    links.add_argument("--refresh", action="store_true", help="status: refresh the shards first (one GET an account)")
    return p


def main(argv: list[str] | None = None) -> int:
    from .runner import StateUnreadable

    args = parser().parse_args(argv)
    try:
        if args.command == "links":
            return links(args)
        if args.command == "status":
            return status(args)
        return run(args)
    except (InputError, Refused, ConfigurationError, StateUnreadable) as error:
        print(f"spaceinvoices-fleet: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    """preview, up, refresh, destroy: read the input, check it, read the states, plan, act, report."""
    from ..client import requests_per_second_from_env
    from .runner import Fleet, Progress

    request = Request.from_args(args)
    organizations = load(args.organizations, args.format)
    settings = _settings(args.config)
    check(request, os.environ)  # before any CLI run
    budget = requests_per_second_from_env()  # the whole fleet's, shared by the stacks at once (Fleet.pace)
    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="spaceinvoices-fleet-") as root:
        fleet = Fleet(project=args.project or settings.get("project") or "spaceinvoices-fleet", root=Path(root),
                      env=_env(args))
        planning = time.monotonic()
        decided = plan(request, organizations, settings, observe(request, fleet), os.environ)
        plan_seconds = round(time.monotonic() - planning, 2)  # listing and reading the states, deciding
        rows = act(decided, fleet, progress, budget)
    if rows is None:
        return 0
    return report(decided, rows, progress, budget=budget, plan_seconds=plan_seconds, json_file=args.json_file)


def observe(request: Request, fleet: Any) -> Observed:
    """What the plan needs from the backend, read through the CLI: the recorded shard count and the
    states (none when there is no shard count at all: the plan refuses that)."""
    listing = fleet.stacks(request.shards)
    recorded = fleet.recorded_shards(listing)
    if (request.shards or recorded) is None:
        return Observed(recorded)
    return Observed(recorded, fleet.states(request.parallel, listing, connect=request.reads_connect_state))


def act(decided: Plan, fleet: Any, progress: Any, budget: float) -> dict[str, Any] | None:
    """Carry out a plan: the moves and the recorded shard count (up), then the phases. Returns each
    stack's row (None: a preview of pending moves, which only says them)."""
    from .runner import StackResult, run_stacks

    if decided.preview_of_moves:
        for m in decided.moves:
            progress.say(f"would move {m.org_id} from {m.source} to {m.dest}")
        progress.say(f"preview: {len(decided.moves)} move(s) pending; `up --shards {decided.shards}` makes them "
                     "(no API call)")
        return None
    rows: dict[str, Any] = {CONNECT_STACK: StackResult(CONNECT_STACK)} if decided.run_connect else {}
    for stack, spec in decided.shard_specs.items():
        in_state = len(decided.states[stack].accounts) if stack in decided.states else 0
        rows[stack] = StackResult(stack, organizations=in_state if decided.command == "destroy"
                                  else len(spec["organizations"]))
    _say_scope(decided, rows, progress)
    if decided.command == "up" and decided.moves:
        fleet.move(decided.moves, {s: st.accounts for s, st in decided.states.items()}, progress.say)
    if decided.records_shards:
        fleet.record_shards(decided.shards)
        for stack in decided.removals:
            fleet.remove_empty(stack)
            progress.say(f"removed {stack}: outside {decided.shards} shards and empty")
    for stack in decided.unchanged:
        rows[stack].result = "unchanged"
    progress.track(list(rows.values()))
    specs = {CONNECT_STACK: decided.connect_spec, **decided.shard_specs}
    for phase in decided.phases:
        if any(rows[s].result == "failed" for s in phase.after):
            for s in phase.stacks:
                _skip(rows[s], phase.otherwise)
        else:
            run_stacks(fleet, decided.command, {s: specs[s] for s in phase.stacks}, parallel=decided.request.parallel,
                       budget=budget, progress=progress, rows=rows, options=decided.policy_options)
    for row in rows.values():
        if row.stack != CONNECT_STACK and row.result == "pending":
            _skip(row, "--connect-only")
    if CONNECT_STACK in rows and rows[CONNECT_STACK].result == "pending":
        _skip(rows[CONNECT_STACK], "not run")
    return rows


def report(decided: Plan, rows: dict[str, Any], progress: Any, *, budget: float, plan_seconds: float,
           json_file: str | None) -> int:
    """The table, the JSON summary (--json) and a line per failed stack; the exit code (1: one failed)."""
    from .runner import report as summarize
    from .runner import table

    progress.track([])
    print(table(rows.values()))
    summary = summarize(rows.values(), command=decided.command, shards=decided.shards,
                        parallel=decided.request.parallel, requests_per_second=budget, full=decided.request.full,
                        plan_seconds=plan_seconds,
                        moves=[{"organization": m.org_id, "from": m.source, "to": m.dest} for m in decided.moves])
    if json_file:
        Path(json_file).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [r for r in rows.values() if r.result == "failed"]
    for row in failed:
        print(f"spaceinvoices-fleet: {row.stack} failed: {row.error}", file=sys.stderr)
    return 1 if failed else 0


def _say_scope(decided: Plan, rows: dict[str, Any], progress: Any) -> None:
    """One line per stack that will run and why, one for those that will not: what a CI log shows."""
    if decided.command not in ("preview", "up") or not decided.reasons:
        return
    verb = "would run" if decided.command == "preview" else "runs"
    for stack, why in decided.reasons.items():
        rows[stack].reasons = why
        if why:
            progress.say(f"{stack}: {verb}: {', '.join(why)}")
    if decided.unchanged:
        progress.say(f"unchanged (the state holds the input; --full runs them): {', '.join(decided.unchanged)}")


def _skip(row: Any, why: str) -> None:
    row.result, row.error = "skipped", why


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = {"PULUMI_BACKEND_URL": args.backend or os.environ.get("PULUMI_BACKEND_URL") or "file://~"}
    if args.api_url or os.environ.get("SPACEINVOICES_API_URL"):
        env["SPACEINVOICES_API_URL"] = args.api_url or os.environ["SPACEINVOICES_API_URL"]
    return env


def _settings(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read the fleet config ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: the fleet config must be a mapping")
    unknown = set(data) - SETTINGS
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return data


# links and status: read the shards' states, never the API (status --refresh runs a real refresh first).

def _read_fleet(args: argparse.Namespace, fleet: Any) -> tuple[list[Organization], dict[str, StackState]]:
    organizations = load(args.organizations, args.format)
    states = {s: st for s, st in fleet.states(args.parallel).items() if s != CONNECT_STACK}
    if args.shard:
        states = {s: st for s, st in states.items() if shard_index(s) in set(args.shard)}
    return organizations, states


def links(args: argparse.Namespace) -> int:
    """(organization, entry URL) of the listed organizations whose account in state is active and not
    complete (`--all`: complete ones too). No API call: the states, then a signature each."""
    from ..onboarding_entry import entry_url, parse_valid_until
    from ..settings import resolve_onboarding_url, resolve_signing_key
    from .runner import Fleet

    settings = _settings(args.config)
    base = resolve_onboarding_url(args.onboarding_url or settings.get("onboardingUrl"))
    key_env = settings.get("signingKeyEnv") or DEFAULT_SIGNING_KEY_ENV
    if not os.environ.get(key_env):
        raise ConfigurationError(f"No onboarding signing key is set: export {key_env} (at least 32 bytes; "
                                 "fleet config signingKeyEnv names another variable)")
    try:
        key = resolve_signing_key(os.environ[key_env])
    except ConfigurationError:
        raise ConfigurationError(f"The onboarding signing key in {key_env} is shorter than 32 bytes") from None
    day = parse_valid_until(args.valid_until, name="--valid-until")
    with tempfile.TemporaryDirectory(prefix="spaceinvoices-fleet-") as root:
        fleet = Fleet(project=args.project or settings.get("project") or "spaceinvoices-fleet", root=Path(root),
                      env=_env(args))
        organizations, states = _read_fleet(args, fleet)
    found: dict[str, tuple[bool, bool]] = {}  # org -> (active, complete), from the states
    for st in states.values():
        for org in st.accounts:
            found[org] = (st.active[org][1] is not False, st.charges_enabled.get(org, False))
    picked = [o for o in organizations if o.id in found and found[o.id][0] and (args.all or not found[o.id][1])]
    rows = [{"organization": o.id, "name": o.name or "", "url": entry_url(base, o.id, key, day)} for o in picked]
    if args.output_format == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["organization", "name", "url"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if args.output:
        _write_private(Path(args.output), text)
    else:
        sys.stdout.write(text)
    missing = sum(1 for o in organizations if o.id not in found)
    print(f"spaceinvoices-fleet: {len(rows)} entry URL(s)" + (f" to {args.output}" if args.output else "")
          + f"; {missing} listed organization(s) have no account in the state yet (run up)" * bool(missing),
          file=sys.stderr)
    return 0


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (the URLs open each organization's onboarding)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):  # POSIX: an existing file keeps its mode through O_CREAT
            os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def funnel(states: dict[str, StackState]) -> dict[str, dict[str, int]]:
    """Per shard and in total: accounts, complete (active, charges enabled), pending, inactive."""
    out: dict[str, dict[str, int]] = {}
    for stack, st in sorted(states.items()):
        inactive = [o for o in st.accounts if st.active[o][1] is False]
        complete = [o for o in st.accounts if o not in inactive and st.charges_enabled.get(o)]
        out[stack] = {"accounts": len(st.accounts), "complete": len(complete),
                      "pending": len(st.accounts) - len(complete) - len(inactive), "inactive": len(inactive)}
    out["total"] = {k: sum(v[k] for v in out.values()) for k in ("accounts", "complete", "pending", "inactive")}
    return out


def status(args: argparse.Namespace) -> int:
    """The onboarding funnel from the states; `--refresh` runs a real refresh of the shards first."""
    from ..client import requests_per_second_from_env
    from .runner import Fleet, Progress, StackResult, run_stacks

    settings = _settings(args.config)
    if args.refresh and not os.environ.get("SPACEINVOICES_ACCESS_TOKEN"):
        raise Refused("SPACEINVOICES_ACCESS_TOKEN is not set (status --refresh reads every account)")
    failed: list[StackResult] = []
    with tempfile.TemporaryDirectory(prefix="spaceinvoices-fleet-") as root:
        fleet = Fleet(project=args.project or settings.get("project") or "spaceinvoices-fleet", root=Path(root),
                      env=_env(args))
        organizations, states = _read_fleet(args, fleet)
        if args.refresh:
            progress = Progress()
            rows = {s: StackResult(s, organizations=len(st.accounts)) for s, st in states.items()}
            run_stacks(fleet, "refresh", {s: {"role": "shard", "organizations": []} for s in states},
                       parallel=args.parallel, budget=requests_per_second_from_env(), progress=progress, rows=rows)
            failed = [r for r in rows.values() if r.result == "failed"]
            organizations, states = _read_fleet(args, fleet)
    counts = funnel(states)
    listed = {o.id for o in organizations}
    in_state = {o for st in states.values() for o in st.accounts}
    counts["total"]["listed_not_in_state"] = len(listed - in_state)
    head = f"{'stack':<10} {'accounts':>9} {'complete':>9} {'pending':>9} {'inactive':>9}"
    lines = [head, "-" * len(head)]
    for stack, c in counts.items():
        lines.append(f"{stack:<10} {c['accounts']:>9} {c['complete']:>9} {c['pending']:>9} {c['inactive']:>9}")
    if counts["total"]["listed_not_in_state"]:
        lines.append(f"{counts['total']['listed_not_in_state']} listed organization(s) have no account in the state")
    print("\n".join(lines))
    if args.json_file:
        Path(args.json_file).write_text(json.dumps({"refreshed": bool(args.refresh), "ok": not failed,
                                                    "stacks": counts}, indent=2) + "\n", encoding="utf-8")
    for row in failed:
        print(f"spaceinvoices-fleet: refresh of {row.stack} failed: {row.error}", file=sys.stderr)
    return 1 if failed else 0
