"""`spaceinvoices-fleet COMMAND ORGANIZATIONS`: preview, up, refresh or destroy a fleet; links and status
of its onboarding (README "Fleets").

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigurationError
from .layout import CONNECT_STACK, Move, conflicts, plan_moves, shard_index, shard_of, shard_stack
from .organizations import InputError, Organization, load
from .scope import StackState, connect_reasons, shard_reasons

SETTINGS = {"project", "publicKey", "applicationFee", "returnUrl", "refreshUrl", "secretKeyEnv", "onboardingUrl",
            "signingKeyEnv"}
DEFAULT_SIGNING_KEY_ENV = "SPACEINVOICES_ONBOARDING_SIGNING_KEY"


class Refused(Exception):
    """The run cannot start; nothing has been changed."""


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


@dataclass
class Plan:
    """What a run will do, decided from the input and the states before any stack runs."""

    command: str
    shards: int
    recorded: int | None
    moves: list[Move]
    states: dict[str, StackState]
    connect_spec: dict[str, Any]
    shard_specs: dict[str, dict[str, Any]]
    run_connect: bool
    reasons: dict[str, list[str]] = field(default_factory=dict)  # stack -> why it runs
    unchanged: list[str] = field(default_factory=list)


def run(args: argparse.Namespace) -> int:
    from ..client import requests_per_second_from_env
    from .runner import Fleet, Progress, StackResult, report, table

    organizations = load(args.organizations, args.format)
    settings = _settings(args.config)
    if args.parallel < 1 or (args.shards is not None and args.shards < 1):
        raise Refused("--parallel and --shards must be at least 1")
    if args.command != "preview" and not os.environ.get("SPACEINVOICES_ACCESS_TOKEN"):
        raise Refused("SPACEINVOICES_ACCESS_TOKEN is not set (the fleet's stacks read the token from the environment)")
    if (args.policy_pack or args.policy_pack_config) and args.command not in ("preview", "up"):
        raise Refused("--policy-pack and --policy-pack-config apply to preview and up only")
    budget = requests_per_second_from_env()  # the whole fleet's, shared by the stacks at once (Fleet.pace)
    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="spaceinvoices-fleet-") as root:
        fleet = Fleet(project=args.project or settings.get("project") or "spaceinvoices-fleet", root=Path(root),
                      env=_env(args))
        planning = time.monotonic()
        plan = make_plan(args, fleet, organizations, settings)
        plan_seconds = round(time.monotonic() - planning, 2)  # listing and reading the states, deciding
        if args.command == "preview" and plan.moves:
            for m in plan.moves:
                progress.say(f"would move {m.org_id} from {m.source} to {m.dest}")
            progress.say(f"preview: {len(plan.moves)} move(s) pending; `up --shards {plan.shards}` makes them "
                         "(no API call)")
            return 0
        rows: dict[str, StackResult] = {}
        if plan.run_connect:
            rows[CONNECT_STACK] = StackResult(CONNECT_STACK)
        for stack, spec in plan.shard_specs.items():
            in_state = len(plan.states[stack].accounts) if stack in plan.states else 0
            rows[stack] = StackResult(stack, organizations=in_state if args.command == "destroy"
                                      else len(spec["organizations"]))
        _say_scope(plan, rows, progress)
        act(args, fleet, plan, rows, progress, budget)
    progress.track([])
    print(table(rows.values()))
    summary = report(rows.values(), command=args.command, shards=plan.shards, parallel=args.parallel,
                     requests_per_second=budget, full=bool(args.full), plan_seconds=plan_seconds,
                     moves=[{"organization": m.org_id, "from": m.source, "to": m.dest} for m in plan.moves])
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [r for r in rows.values() if r.result == "failed"]
    for row in failed:
        print(f"spaceinvoices-fleet: {row.stack} failed: {row.error}", file=sys.stderr)
    return 1 if failed else 0


def make_plan(args: argparse.Namespace, fleet: Any, organizations: list[Organization],
              settings: dict[str, Any]) -> Plan:
    """Read the states and decide: the shard count, the moves, each stack's input, and (preview and up
    without --full) which stacks hold their input already. Changes nothing."""
    listing = fleet.stacks(args.shards)
    recorded = fleet.recorded_shards(listing)
    shards = args.shards or recorded
    if shards is None:
        raise Refused("a new fleet needs --shards N (how many shard stacks to spread the organizations over)")
    scoped = args.command in ("preview", "up") and not args.full
    states = fleet.states(args.parallel, listing, connect=scoped and not args.shard)
    shard_states = {s: st for s, st in states.items() if s != CONNECT_STACK}
    urns = {s: st.accounts for s, st in shard_states.items()}
    _refuse_conflicts(urns, shards)
    moves = plan_moves({s: set(a) for s, a in urns.items()}, shards)
    total = sum(len(a) for a in urns.values())
    if moves and (args.shard or args.connect_only or args.command in ("refresh", "destroy")):
        raise Refused(f"{len(moves)} organization(s) are not in their shard's stack for {shards} shards "
                      f"(recorded: {recorded}); run `up --shards {shards}` over the whole fleet to move them first")
    if moves and len(moves) * 2 > total and not args.yes:
        raise Refused(f"{shards} shards would move {len(moves)} of {total} organizations between stacks; "
                      "add --yes to move them")
    for shard in args.shard or []:
        if not 0 <= shard < shards:
            raise Refused(f"--shard {shard}: the fleet has shards 0..{shards - 1}")

    wanted = _wanted_shards(args, shards, shard_states)
    by_shard: dict[str, list[dict[str, Any]]] = {shard_stack(i): [] for i in wanted}
    for org in organizations:
        stack = shard_stack(shard_of(org.id, shards))
        if stack in by_shard:
            by_shard[stack].append({"id": org.id, "active": org.active})
    run_connect = not args.shard
    connect_spec = {"role": "connect", "shards": shards, "connect": _connect_settings(settings)}
    if run_connect and args.command in ("up", "preview"):
        if not connect_spec["connect"]["publicKey"]:
            raise Refused("the fleet config has no publicKey (the Stripe publishable key): --config FILE")
        if not os.environ.get(connect_spec["connect"]["secretKeyEnv"]):
            raise Refused(f"the Stripe secret key is not set: export {connect_spec['connect']['secretKeyEnv']}")
    shard_specs = {} if args.connect_only else {s: {"role": "shard", "organizations": o} for s, o in by_shard.items()}
    plan = Plan(args.command, shards, recorded, moves, states, connect_spec, shard_specs, run_connect)
    if scoped:
        moved: dict[str, list[str]] = {}
        for m in moves:
            moved.setdefault(m.source, []).append("moved out")
            moved.setdefault(m.dest, []).append("moved in")
        for stack, spec in shard_specs.items():
            plan.reasons[stack] = shard_reasons(spec, states.get(stack) or StackState(exists=False)) + [
                f"{what} {moved[stack].count(what)}" for what in ("moved in", "moved out") if what in moved.get(stack, [])]
        if run_connect:
            plan.reasons[CONNECT_STACK] = connect_reasons(
                connect_spec, states.get(CONNECT_STACK) or StackState(exists=False),
                os.environ.get(connect_spec["connect"]["secretKeyEnv"]))
        plan.unchanged = [s for s, why in plan.reasons.items() if not why]
    return plan


def act(args: argparse.Namespace, fleet: Any, plan: Plan, rows: dict[str, Any], progress: Any, budget: float) -> None:
    """Carry out a plan: the moves and the recorded count (up), then the stacks in their order."""
    from .runner import run_stacks

    if args.command == "up" and plan.moves:
        fleet.move(plan.moves, {s: st.accounts for s, st in plan.states.items()}, progress.say)
    if args.command == "up" and (plan.recorded != plan.shards or plan.moves):
        fleet.record_shards(plan.shards)
        for stack in [s for s in plan.states if (shard_index(s) or 0) >= plan.shards]:
            fleet.remove_empty(stack)
            progress.say(f"removed {stack}: outside {plan.shards} shards and empty")
    for stack in plan.unchanged:
        rows[stack].result = "unchanged"
    progress.track(list(rows.values()))
    shard_specs = {s: spec for s, spec in plan.shard_specs.items() if s not in plan.unchanged}
    connect = {CONNECT_STACK: plan.connect_spec} if plan.run_connect and CONNECT_STACK not in plan.unchanged else {}
    policy = {"policy_packs": args.policy_pack, "policy_pack_configs": args.policy_pack_config} \
        if args.policy_pack or args.policy_pack_config else {}

    def run_phase(specs: dict[str, Any]) -> None:
        run_stacks(fleet, args.command, specs, parallel=args.parallel, budget=budget, progress=progress, rows=rows,
                   options=policy)

    if args.command == "refresh":
        run_phase({**connect, **shard_specs})
    elif args.command == "destroy":
        run_phase(shard_specs)
        if connect:
            if any(rows[s].result == "failed" for s in shard_specs):
                _skip(rows[CONNECT_STACK], "a shard failed: the connect stack stays until every shard is destroyed")
            else:
                run_phase(connect)
    else:
        if connect:
            run_phase(connect)
        if plan.run_connect and rows[CONNECT_STACK].result == "failed":
            for s in shard_specs:
                _skip(rows[s], "the connect stack failed")
        else:
            run_phase(shard_specs)
    for row in rows.values():
        if row.stack != CONNECT_STACK and row.result == "pending":
            _skip(row, "--connect-only")
    if CONNECT_STACK in rows and rows[CONNECT_STACK].result == "pending":
        _skip(rows[CONNECT_STACK], "not run")


def _say_scope(plan: Plan, rows: dict[str, Any], progress: Any) -> None:
    """One line per stack that will run and why, one for those that will not: what a CI log shows."""
    if plan.command not in ("preview", "up") or not plan.reasons:
        return
    verb = "would run" if plan.command == "preview" else "runs"
    for stack, why in plan.reasons.items():
        rows[stack].reasons = why
        if why:
            progress.say(f"{stack}: {verb}: {', '.join(why)}")
    if plan.unchanged:
        progress.say(f"unchanged (the state holds the input; --full runs them): {', '.join(plan.unchanged)}")


def _skip(row: Any, why: str) -> None:
    row.result, row.error = "skipped", why


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = {"PULUMI_BACKEND_URL": args.backend or os.environ.get("PULUMI_BACKEND_URL") or "file://~"}
    if args.api_url or os.environ.get("SPACEINVOICES_API_URL"):
        env["SPACEINVOICES_API_URL"] = args.api_url or os.environ["SPACEINVOICES_API_URL"]
    return env


def _wanted_shards(args: argparse.Namespace, shards: int, states: dict[str, Any]) -> list[int]:
    if args.shard:
        return sorted(set(args.shard))
    if args.command in ("refresh", "destroy", "status"):  # every shard stack that exists
        return sorted({i for s in states if (i := shard_index(s)) is not None})
    return list(range(shards))


def _refuse_conflicts(states: dict[str, dict[str, str]], shards: int) -> None:
    found = conflicts({s: set(a) for s, a in states.items()})
    if not found:
        return
    lines = []
    for org, stacks in sorted(found.items()):
        home = shard_stack(shard_of(org, shards))
        extra = [s for s in stacks if s != home] if home in stacks else stacks[1:]
        fixes = "; ".join(f"pulumi state delete --stack {s} '{states[s][org]}'" for s in extra)
        lines.append(f"  {org} is in {', '.join(stacks)}: keep it in {home if home in stacks else stacks[0]}, "
                     f"forget it elsewhere (the account is not touched): {fixes}")
    raise Refused("organizations declared in two stacks; a destroy or removal in one would deactivate an "
                  "account the other still declares. Refusing to run. Fix:\n" + "\n".join(lines))


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


def _connect_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The connect stack's declared settings, defaults resolved (so the state can be compared with
    them): the refresh and return URLs default to the onboarding endpoint's when onboardingUrl is set."""
    from ..settings import resolve_onboarding_url

    base = resolve_onboarding_url(str(settings["onboardingUrl"])) if settings.get("onboardingUrl") else None
    return {
        "publicKey": settings.get("publicKey"),
        "applicationFee": float(settings.get("applicationFee") or 0.0),
        "returnUrl": settings.get("returnUrl") or (f"{base}/return" if base else "https://example.com/onboarding/return"),
        "refreshUrl": settings.get("refreshUrl")
        or (f"{base}/refresh" if base else "https://example.com/onboarding/refresh"),
        "secretKeyEnv": settings.get("secretKeyEnv") or "STRIPE_SECRET_KEY",
    }


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
