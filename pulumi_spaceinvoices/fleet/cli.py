"""`spaceinvoices-fleet COMMAND ORGANIZATIONS`: preview, up, refresh or destroy a fleet (README "Fleets").

Exit codes: 0 every stack succeeded; 1 a stack failed (the summary names it and its error); 2 the
input or the layout was refused before anything ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigurationError
from .layout import CONNECT_STACK, conflicts, plan_moves, shard_index, shard_of, shard_stack
from .organizations import InputError, load


class Refused(Exception):
    """The run cannot start; nothing has been changed."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spaceinvoices-fleet", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["preview", "up", "refresh", "destroy"])
    p.add_argument("organizations", help="a .yaml/.yml/.json/.csv file of organizations, or - for stdin")
    p.add_argument("--format", choices=["yaml", "json", "csv"], help="the input's format (default: its extension)")
    p.add_argument("--config", help="fleet config (YAML/JSON): project, publicKey, applicationFee, returnUrl, "
                                    "refreshUrl, secretKeyEnv")
    p.add_argument("--project", help="the Pulumi project of the fleet's stacks (default spaceinvoices-fleet)")
    p.add_argument("--backend", help="state backend URL (default $PULUMI_BACKEND_URL, else file://~)")
    p.add_argument("--api-url", help="Space Invoices API URL (default $SPACEINVOICES_API_URL)")
    p.add_argument("--shards", type=int, help="number of shard stacks (default: the fleet's recorded count)")
    p.add_argument("--parallel", "-K", type=int, default=2, help="shard stacks run at once (default 2)")
    p.add_argument("--shard", type=int, action="append", help="run only this shard (repeatable)")
    p.add_argument("--connect-only", action="store_true", help="run only the connect stack")
    p.add_argument("--yes", action="store_true", help="allow a layout change that moves most organizations")
    p.add_argument("--json", dest="json_file", help="write the summary as JSON to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (InputError, Refused, ConfigurationError) as error:
        print(f"spaceinvoices-fleet: {error}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from ..client import requests_per_second_from_env
    from .runner import Fleet, Progress, StackResult, report, run_stacks, table

    organizations = load(args.organizations, args.format)
    settings = _settings(args.config)
    if args.parallel < 1 or (args.shards is not None and args.shards < 1):
        raise Refused("--parallel and --shards must be at least 1")
    if args.command != "preview" and not os.environ.get("SPACEINVOICES_ACCESS_TOKEN"):
        raise Refused("SPACEINVOICES_ACCESS_TOKEN is not set (the fleet's stacks read the token from the environment)")
    env = {"PULUMI_BACKEND_URL": args.backend or os.environ.get("PULUMI_BACKEND_URL") or "file://~"}
    if args.api_url or os.environ.get("SPACEINVOICES_API_URL"):
        env["SPACEINVOICES_API_URL"] = args.api_url or os.environ["SPACEINVOICES_API_URL"]
    budget = requests_per_second_from_env()  # the whole fleet's, shared by the stacks at once (Fleet.pace)
    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="spaceinvoices-fleet-") as root:
        fleet = Fleet(project=args.project or settings.get("project") or "spaceinvoices-fleet", root=Path(root), env=env)
        recorded = fleet.recorded_shards()
        shards = args.shards or recorded
        if shards is None:
            raise Refused("a new fleet needs --shards N (how many shard stacks to spread the organizations over)")
        states = fleet.states(args.parallel)
        _refuse_conflicts(states, shards)
        moves = plan_moves({s: set(a) for s, a in states.items()}, shards)
        total = sum(len(a) for a in states.values())
        if moves and (args.shard or args.connect_only or args.command in ("refresh", "destroy")):
            raise Refused(f"{len(moves)} organization(s) are not in their shard's stack for {shards} shards "
                          f"(recorded: {recorded}); run `up --shards {shards}` over the whole fleet to move them first")
        if moves and len(moves) * 2 > total and not args.yes:
            raise Refused(f"{shards} shards would move {len(moves)} of {total} organizations between stacks; "
                          "add --yes to move them")
        for shard in args.shard or []:
            if not 0 <= shard < shards:
                raise Refused(f"--shard {shard}: the fleet has shards 0..{shards - 1}")
        if args.command == "preview" and moves:
            for m in moves:
                progress.say(f"would move {m.org_id} from {m.source} to {m.dest}")
            progress.say(f"preview: {len(moves)} move(s) pending; `up --shards {shards}` makes them (no API call)")
            return 0
        if args.command == "up" and moves:
            fleet.move(moves, states, progress.say)
            for m in moves:
                states[m.dest] = {**states.get(m.dest, {}), m.org_id: ""}
                states[m.source].pop(m.org_id, None)
        if args.command == "up" and (recorded != shards or moves):
            fleet.record_shards(shards)
            for stack in [s for s in states if (shard_index(s) or 0) >= shards]:
                fleet.remove_empty(stack)
                progress.say(f"removed {stack}: outside {shards} shards and empty")

        wanted = _wanted_shards(args, shards, states)
        by_shard: dict[str, list[dict[str, Any]]] = {shard_stack(i): [] for i in wanted}
        for org in organizations:
            stack = shard_stack(shard_of(org.id, shards))
            if stack in by_shard:
                by_shard[stack].append({"id": org.id, "active": org.active})
        run_connect = not args.shard
        rows: dict[str, StackResult] = {}
        if run_connect:
            rows[CONNECT_STACK] = StackResult(CONNECT_STACK)
        for stack, orgs in by_shard.items():
            in_state = len(states.get(stack, {}))
            rows[stack] = StackResult(stack, organizations=in_state if args.command == "destroy" else len(orgs))
        progress.track(list(rows.values()))
        connect_spec = {"role": "connect", "shards": shards, "connect": _connect_settings(settings, args.command)}
        if run_connect and args.command in ("up", "preview"):
            if not connect_spec["connect"]["publicKey"]:
                raise Refused("the fleet config has no publicKey (the Stripe publishable key): --config FILE")
            if not os.environ.get(connect_spec["connect"]["secretKeyEnv"]):
                raise Refused(f"the Stripe secret key is not set: export {connect_spec['connect']['secretKeyEnv']}")
        shard_specs = {s: {"role": "shard", "organizations": orgs} for s, orgs in by_shard.items()} \
            if not args.connect_only else {}

        def run_phase(specs: dict[str, Any]) -> None:
            run_stacks(fleet, args.command, specs, parallel=args.parallel, budget=budget, progress=progress, rows=rows)

        if args.command == "refresh":
            run_phase({**({CONNECT_STACK: connect_spec} if run_connect else {}), **shard_specs})
        elif args.command == "destroy":
            run_phase(shard_specs)
            if run_connect:
                if any(rows[s].result == "failed" for s in shard_specs):
                    _skip(rows[CONNECT_STACK], "a shard failed: the connect stack stays until every shard is destroyed")
                else:
                    run_phase({CONNECT_STACK: connect_spec})
        else:
            if run_connect:
                run_phase({CONNECT_STACK: connect_spec})
            if run_connect and rows[CONNECT_STACK].result == "failed":
                for s in shard_specs:
                    _skip(rows[s], "the connect stack failed")
            else:
                run_phase(shard_specs)
        for row in rows.values():
            if row.stack != CONNECT_STACK and row.result == "pending":
                _skip(row, "--connect-only")
        if CONNECT_STACK in rows and rows[CONNECT_STACK].result == "pending":
            _skip(rows[CONNECT_STACK], "not run")
    progress.track([])
    print(table(rows.values()))
    summary = report(rows.values(), command=args.command, shards=shards, parallel=args.parallel,
                     requests_per_second=budget,
                     moves=[{"organization": m.org_id, "from": m.source, "to": m.dest} for m in moves])
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    failed = [r for r in rows.values() if r.result == "failed"]
    for row in failed:
        print(f"spaceinvoices-fleet: {row.stack} failed: {row.error}", file=sys.stderr)
    return 1 if failed else 0


def _skip(row: Any, why: str) -> None:
    row.result, row.error = "skipped", why


def _wanted_shards(args: argparse.Namespace, shards: int, states: dict[str, Any]) -> list[int]:
    if args.shard:
        return sorted(set(args.shard))
    if args.command in ("refresh", "destroy"):  # every shard stack that exists
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
    unknown = set(data) - {"project", "publicKey", "applicationFee", "returnUrl", "refreshUrl", "secretKeyEnv"}
    if unknown:
        raise InputError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return data


def _connect_settings(settings: dict[str, Any], command: str) -> dict[str, Any]:
    connect = {k: settings.get(k) for k in ("publicKey", "applicationFee", "returnUrl", "refreshUrl")}
    connect["secretKeyEnv"] = settings.get("secretKeyEnv") or "STRIPE_SECRET_KEY"
    return connect
