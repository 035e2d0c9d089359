"""What a `preview`, `up`, `refresh` or `destroy` of a fleet will do, decided before anything runs.

`plan` is a pure function of the command line (`Request`), the organizations, the fleet config, the
environment and what the backend holds (`Observed`, read beforehand by cli.observe): no Pulumi, no
network, no file written. Its `Plan` holds the checked input, the shard count, the state moves,
each stack's program input, and the phases: which stacks run in which order, and why each runs or
is skipped. cli.act carries a plan out; a refusal (`Refused`) comes before any of it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .layout import CONNECT_STACK, Move, conflicts, plan_moves, shard_index, shard_of, shard_stack
from .organizations import Organization
from .scope import StackState, connect_reasons, shard_reasons

COMMANDS = ("preview", "up", "refresh", "destroy")
TOKEN_ENV = "SPACEINVOICES_ACCESS_TOKEN"
UNCHANGED = "unchanged: the state holds its input (skipped; --full runs it)"


class Refused(Exception):
    """The run cannot start; nothing has been changed."""


@dataclass(frozen=True)
class Request:
    """The command line of a run, as far as the plan reads it."""

    command: str
    shards: int | None = None  # --shards; None: the count the fleet recorded
    parallel: int = 2
    shard: tuple[int, ...] = ()  # --shard, in the order given
    connect_only: bool = False
    full: bool = False
    yes: bool = False
    policy_packs: tuple[str, ...] = ()
    policy_pack_configs: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Request:
        return cls(command=args.command, shards=args.shards, parallel=args.parallel, shard=tuple(args.shard or ()),
                   connect_only=bool(args.connect_only), full=bool(args.full), yes=bool(args.yes),
                   policy_packs=tuple(args.policy_pack or ()),
                   policy_pack_configs=tuple(args.policy_pack_config or ()))

    @property
    def scoped(self) -> bool:
        """preview and up without --full skip the stacks whose state holds their input (scope.py)."""
        return self.command in ("preview", "up") and not self.full

    @property
    def reads_connect_state(self) -> bool:
        """Whether the plan compares the connect stack's state (it runs unless --shard)."""
        return self.scoped and not self.shard


@dataclass(frozen=True)
class Observed:
    """What the backend holds, read before planning: the shard count recorded on the connect stack
    and the states of the shard stacks (and of the connect stack when `reads_connect_state`)."""

    recorded: int | None = None
    states: Mapping[str, StackState] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """Stacks run together, `parallel` at a time. When one of `after` (an earlier phase's stacks)
    failed, none of them runs: each is skipped, `otherwise` saying why."""

    stacks: tuple[str, ...]
    after: tuple[str, ...] = ()
    otherwise: str = ""


@dataclass
class Plan:
    """What a run will do, decided from the input and the states before any stack runs."""

    request: Request
    organizations: list[Organization]
    shards: int
    recorded: int | None
    moves: list[Move]
    states: dict[str, StackState]
    connect_spec: dict[str, Any]  # the connect stack's program input
    shard_specs: dict[str, dict[str, Any]]  # stack -> its program input, every shard stack this run names
    run_connect: bool
    reasons: dict[str, list[str]] = field(default_factory=dict)  # the scope rule's verdict (scoped runs only)
    unchanged: list[str] = field(default_factory=list)  # stacks skipped: their state holds their input
    why: dict[str, str] = field(default_factory=dict)  # every stack the run names -> why it runs or not
    phases: list[Phase] = field(default_factory=list)

    @property
    def command(self) -> str:
        return self.request.command

    @property
    def preview_of_moves(self) -> bool:
        """A preview while moves are pending shows the moves and runs nothing (an up makes them)."""
        return self.command == "preview" and bool(self.moves)

    @property
    def records_shards(self) -> bool:
        """An up records the shard count on the connect stack when it changes or organizations move."""
        return self.command == "up" and (self.recorded != self.shards or bool(self.moves))

    @property
    def removals(self) -> list[str]:
        """Stacks outside the shard count, removed when empty once the count is recorded."""
        if not self.records_shards:
            return []
        return [s for s in self.states if (shard_index(s) or 0) >= self.shards]

    @property
    def policy_options(self) -> dict[str, Any]:
        """The Automation API's policy arguments (preview and up), as the command line gave them."""
        r = self.request
        if not (r.policy_packs or r.policy_pack_configs):
            return {}
        return {"policy_packs": list(r.policy_packs) or None, "policy_pack_configs": list(r.policy_pack_configs) or None}


def check(request: Request, environ: Mapping[str, str]) -> None:
    """The checks of the command line alone (cli.run makes them before reading any state)."""
    if request.command not in COMMANDS:
        raise Refused(f"command {request.command!r}: plan knows {', '.join(COMMANDS)}")
    if request.parallel < 1 or (request.shards is not None and request.shards < 1):
        raise Refused("--parallel and --shards must be at least 1")
    if request.command != "preview" and not environ.get(TOKEN_ENV):
        raise Refused(f"{TOKEN_ENV} is not set (the fleet's stacks read the token from the environment)")
    if (request.policy_packs or request.policy_pack_configs) and request.command not in ("preview", "up"):
        raise Refused("--policy-pack and --policy-pack-config apply to preview and up only")


def plan(request: Request, organizations: list[Organization], settings: Mapping[str, Any], observed: Observed,
         environ: Mapping[str, str]) -> Plan:
    """Decide a run: the shard count, the moves, each stack's input, which stacks hold their input
    already (preview and up without --full), and the phases. Refused when the run must not start."""
    check(request, environ)
    shards = request.shards or observed.recorded
    if shards is None:
        raise Refused("a new fleet needs --shards N (how many shard stacks to spread the organizations over)")
    states = dict(observed.states)
    shard_states = {s: st for s, st in states.items() if s != CONNECT_STACK}
    moves = _moves({s: st.accounts for s, st in shard_states.items()}, shards, request, observed.recorded)
    by_shard: dict[str, list[dict[str, Any]]] = {shard_stack(i): [] for i in _wanted_shards(request, shards,
                                                                                          shard_states)}
    for org in organizations:
        stack = shard_stack(shard_of(org.id, shards))
        if stack in by_shard:
            by_shard[stack].append({"id": org.id, "active": org.active})
    run_connect = not request.shard
    connect_spec: dict[str, Any] = {"role": "connect", "shards": shards, "connect": connect_settings(settings)}
    secret_env = connect_spec["connect"]["secretKeyEnv"]
    if run_connect and request.command in ("up", "preview"):
        if not connect_spec["connect"]["publicKey"]:
            raise Refused("the fleet config has no publicKey (the Stripe publishable key): --config FILE")
        if not environ.get(secret_env):
            raise Refused(f"the Stripe secret key is not set: export {secret_env}")
    shard_specs = {} if request.connect_only else {s: {"role": "shard", "organizations": o}
                                                   for s, o in by_shard.items()}
    decided = Plan(request, list(organizations), shards, observed.recorded, moves, states, connect_spec, shard_specs,
                   run_connect)
    if request.scoped:
        decided.reasons = _scope(decided, environ.get(secret_env))
        decided.unchanged = [s for s, why in decided.reasons.items() if not why]
    decided.why = _why(decided)
    decided.phases = [] if decided.preview_of_moves else _phases(decided)
    return decided


def _moves(urns: dict[str, dict[str, str]], shards: int, request: Request, recorded: int | None) -> list[Move]:
    """The moves `shards` needs, refused when the run cannot make them (or must be told to)."""
    _refuse_conflicts(urns, shards)
    moves = plan_moves({s: set(a) for s, a in urns.items()}, shards)
    total = sum(len(a) for a in urns.values())
    if moves and (request.shard or request.connect_only or request.command in ("refresh", "destroy")):
        raise Refused(f"{len(moves)} organization(s) are not in their shard's stack for {shards} shards "
                      f"(recorded: {recorded}); run `up --shards {shards}` over the whole fleet to move them first")
    if moves and len(moves) * 2 > total and not request.yes:
        raise Refused(f"{shards} shards would move {len(moves)} of {total} organizations between stacks; "
                      "add --yes to move them")
    for shard in request.shard:
        if not 0 <= shard < shards:
            raise Refused(f"--shard {shard}: the fleet has shards 0..{shards - 1}")
    return moves


def _scope(decided: Plan, secret: str | None) -> dict[str, list[str]]:
    """Why each stack must run ([] = its state holds its input), moves counted in."""
    moved: dict[str, list[str]] = {}
    for m in decided.moves:
        moved.setdefault(m.source, []).append("moved out")
        moved.setdefault(m.dest, []).append("moved in")
    reasons = {}
    for stack, spec in decided.shard_specs.items():
        reasons[stack] = shard_reasons(spec, decided.states.get(stack) or StackState(exists=False)) + [
            f"{what} {moved[stack].count(what)}" for what in ("moved in", "moved out") if what in moved.get(stack, [])]
    if decided.run_connect:
        reasons[CONNECT_STACK] = connect_reasons(
            decided.connect_spec, decided.states.get(CONNECT_STACK) or StackState(exists=False), secret)
    return reasons


def _why(decided: Plan) -> dict[str, str]:
    """One phrase per stack the run names: what the scope rule found, or the flag or command that
    runs it regardless."""
    r = decided.request
    stacks = ([CONNECT_STACK] if decided.run_connect else []) + list(decided.shard_specs)
    why = {}
    for stack in stacks:
        if decided.preview_of_moves:
            why[stack] = "not run: the preview shows the pending moves (up makes them)"
        elif stack in decided.unchanged:
            why[stack] = UNCHANGED
        elif r.scoped:
            why[stack] = "changed: " + ", ".join(decided.reasons[stack])
        elif r.full:
            why[stack] = "--full: runs whatever its state holds"
        elif r.shard and stack != CONNECT_STACK:
            why[stack] = f"{r.command}: named by --shard"
        else:
            why[stack] = f"{r.command}: runs on every stack of the fleet"
    return why


def _phases(decided: Plan) -> list[Phase]:
    """refresh: every stack at once. destroy: the shards, then the connect stack unless a shard
    failed. preview and up: the connect stack, then the shards unless it failed. Unchanged stacks
    are in no phase."""
    connect = tuple(s for s in [CONNECT_STACK] if decided.run_connect and s not in decided.unchanged)
    shards = tuple(s for s in decided.shard_specs if s not in decided.unchanged)

    def then(stacks: tuple[str, ...], after: tuple[str, ...], otherwise: str) -> Phase:
        return Phase(stacks, after, otherwise) if after else Phase(stacks)

    if decided.command == "refresh":
        phases = [Phase(connect + shards)]
    elif decided.command == "destroy":
        phases = [Phase(shards), then(connect, shards, "a shard failed: the connect stack stays until every shard "
                                                       "is destroyed")]
    else:
        phases = [Phase(connect), then(shards, connect, "the connect stack failed")]
    return [p for p in phases if p.stacks]


def _wanted_shards(request: Request, shards: int, states: Mapping[str, Any]) -> list[int]:
    if request.shard:
        return sorted(set(request.shard))
    if request.command in ("refresh", "destroy"):  # every shard stack that exists
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


def connect_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
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
