"""Runs a fleet's stacks through the Automation API: each stack a local program folder (the CLI runs
its program in its own process, so K stacks run truly in parallel), K at a time, on one shared rate
budget; reads the states, moves organizations between shard states, reports progress and the
summary.

The rate budget is shared, not split: every provider process of the fleet's stacks paces on one
schedule kept in a file (SPACEINVOICES_RATE_FILE, locked for each request), at the budget
(SPACEINVOICES_REQUESTS_PER_SECOND, else the client's default). So the stacks that are sending use
all of it while others start up or finish, and together they book no more than it; it needs no
server round trip and no 429 to learn the limit. A static split, budget / K each, would leave a
stack's share idle while it starts up and while it writes its final checkpoint. The client still
pauses on a 429 for the server's Retry-After, every process with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..client import ENV_RATE_FILE, ENV_REQUESTS_PER_SECOND
from .layout import CONNECT_STACK, Move, shard_index, shard_stack
from .program import ENV_INPUT
from .scope import ACCOUNT_TYPE, StackState, parse_state

SHARDS_TAG = "spaceinvoices:fleet-shards"
# The CLI's PostgreSQL backend (3.274.1) lists stacks with 10 workers, each holding a connection
# while it asks for a second, from a pool of 2 x GOMAXPROCS: with that many stacks or more (4 on two
# cores) `pulumi stack ls` waits forever. One worker never does.
DIY_PARALLEL = "PULUMI_DIY_BACKEND_PARALLEL"
# Requests one finished step costs (create: GET, then POST; update: PATCH, then GET; delete: one
# PATCH; refresh: one GET). Adoption (a create whose GET finds the account) costs one less.
CALLS = {"create": 2, "create-replacement": 2, "update": 2, "delete": 1, "delete-replaced": 1, "refresh": 1}
MAIN = "from pulumi_spaceinvoices.fleet.program import main\n\nmain()\n"


@dataclass
class StackResult:
    stack: str
    result: str = "pending"  # succeeded, failed, skipped, unchanged (not run: its state holds the input)
    organizations: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0  # estimated from the steps (CALLS)
    seconds: float = 0.0
    error: str | None = None
    ops: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # why it ran (preview, up); empty when --full


class StateUnreadable(Exception):
    """A stack's state could not be read: never taken as unchanged; the command stops naming it."""

    def __init__(self, stack: str | None, why: str) -> None:
        super().__init__(f"cannot read the state of stack {stack}: {why}" if stack else why)
        self.stack = stack


class Fleet:
    """One project on one backend: a program folder per stack under `root`, and the CLI's environment."""

    def __init__(self, *, project: str, root: Path, env: Mapping[str, str]) -> None:
        self.project = project
        self.root = root
        self.env = {**env}  # added to the process environment of every CLI run
        if self.env.get("PULUMI_BACKEND_URL", "").startswith(("postgres:", "postgresql:")):
            self.env.setdefault(DIY_PARALLEL, os.environ.get(DIY_PARALLEL, "1"))

    def folder(self, stack: str) -> Path:
        folder = self.root / stack
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "Pulumi.yaml").write_text(f"name: {self.project}\nruntime: python\n", encoding="utf-8")
            (folder / "__main__.py").write_text(MAIN, encoding="utf-8")
        return folder

    def stack(self, name: str, extra_env: Mapping[str, str] | None = None, *, create: bool = True) -> Any:
        from pulumi import automation as auto

        opts = auto.LocalWorkspaceOptions(env_vars={**self.env, **(extra_env or {})})
        make = auto.create_or_select_stack if create else auto.select_stack
        return make(stack_name=name, work_dir=str(self.folder(name)), opts=opts)

    def stacks(self, shards_hint: int | None = None) -> list[str]:
        """The project's stacks. When the backend cannot list them (a file backend reads every
        checkpoint to list), the error names the fleet's stack whose state cannot be read."""
        from pulumi import automation as auto

        try:
            workspace = auto.LocalWorkspace(work_dir=str(self.folder("_list")), env_vars=self.env)
            return sorted(s.name for s in workspace.list_stacks())
        except Exception as error:
            hint = shards_hint or self.recorded_shards([CONNECT_STACK]) or 0
            for name in [CONNECT_STACK, *(shard_stack(i) for i in range(hint))]:
                try:
                    self.export(name)
                except StateUnreadable as unreadable:
                    if "no stack named" not in str(unreadable).lower():
                        raise unreadable from None
            raise StateUnreadable(None, f"the backend cannot list its stacks: {_brief(error)}") from None

    def recorded_shards(self, listing: list[str] | None = None) -> int | None:
        if CONNECT_STACK not in (self.stacks() if listing is None else listing):
            return None
        from pulumi import automation as auto

        try:
            workspace = auto.LocalWorkspace(work_dir=str(self.folder("_list")), env_vars=self.env)
            return int(workspace.get_tag(CONNECT_STACK, SHARDS_TAG))
        except Exception:
            return None

    def record_shards(self, shards: int) -> None:
        self.stack(CONNECT_STACK).set_tag(SHARDS_TAG, str(shards))

    def export(self, stack: str) -> dict[str, Any]:
        """A stack's deployment as `pulumi stack export` prints it: one CLI run, secrets left encrypted
        (nothing here needs them, and decrypting costs the passphrase's key derivation)."""
        result = subprocess.run(["pulumi", "stack", "export", "--stack", stack], cwd=self.folder("_list"),
                                env={**os.environ, **self.env}, text=True, capture_output=True)
        try:
            if result.returncode != 0:
                raise ValueError(_brief_text(result.stderr or result.stdout))
            deployment = json.loads(result.stdout).get("deployment")
            if not isinstance(deployment, dict):
                raise ValueError("the export holds no deployment")
            return deployment
        except ValueError as error:
            raise StateUnreadable(stack, str(error)) from None

    def read_state(self, stack: str) -> StackState:
        return parse_state(self.export(stack))

    def accounts(self, stack: str) -> dict[str, str]:
        """org id -> URN of the OrganizationConnectAccounts in a stack's state."""
        return self.read_state(stack).accounts

    def states(self, parallel: int, listing: list[str] | None = None, *,
               connect: bool = False) -> dict[str, StackState]:
        """Every shard stack's state (and the connect stack's with `connect`), K CLI runs at once."""
        names = [s for s in (self.stacks() if listing is None else listing)
                 if shard_index(s) is not None or (connect and s == CONNECT_STACK)]
        with ThreadPoolExecutor(max(1, parallel)) as pool:
            return dict(zip(names, pool.map(self.read_state, names), strict=True))

    def move(self, moves: list[Move], urns: Mapping[str, Mapping[str, str]], say: Callable[[str], None]) -> None:
        """`pulumi state move` per (source, dest), in batches; the accounts are never touched."""
        groups: dict[tuple[str, str], list[str]] = {}
        for m in moves:
            groups.setdefault((m.source, m.dest), []).append(urns[m.source][m.org_id])
        for (source, dest), batch in sorted(groups.items()):
            self.stack(dest)  # the destination must exist
            for i in range(0, len(batch), 200):
                chunk = batch[i:i + 200]
                result = subprocess.run(
                    ["pulumi", "state", "move", "--source", source, "--dest", dest, "--yes", *chunk],
                    cwd=self.folder(source), env={**os.environ, **self.env}, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                if result.returncode != 0:
                    raise RuntimeError(f"pulumi state move from {source} to {dest} failed:\n{result.stdout.strip()}")
            say(f"moved {len(batch)} organization(s) from {source} to {dest}")

    def pace(self, budget: float, at_once: int) -> dict[str, str]:
        """The rate settings of each of `at_once` stacks running together: on a POSIX machine one
        schedule for all (a rate file every provider process locks), so whichever stacks are sending
        use the whole budget; elsewhere an equal split, budget / at_once each."""
        if os.name == "posix":
            return {ENV_REQUESTS_PER_SECOND: f"{budget:g}", ENV_RATE_FILE: str(self.root / "rate")}
        return {ENV_REQUESTS_PER_SECOND: f"{budget / at_once:g}"}

    def remove_empty(self, stack: str) -> None:
        if not self.accounts(stack):
            self.stack(stack, create=False).workspace.remove_stack(stack, force=True)


class Progress:
    """Live lines per stack and in total on a terminal; plain lines at start and end otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lock = threading.Lock()
        self.rows: list[StackResult] = []
        self.drawn = 0

    def say(self, line: str) -> None:
        with self.lock:
            self._clear()
            print(line, file=self.stream, flush=True)
            self._draw()

    def track(self, rows: list[StackResult]) -> None:
        with self.lock:
            self.rows = rows
            self._draw()

    def update(self, row: StackResult, event: str | None = None) -> None:
        with self.lock:
            if self.live:
                self._clear()
                self._draw()
            elif event:
                print(f"{row.stack}: {event}", file=self.stream, flush=True)

    def _clear(self) -> None:
        if self.live and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _draw(self) -> None:
        if not self.live or not self.rows:
            return
        lines = [f"  {r.stack:<10} {r.result:<10} {r.done}/{r.organizations}" for r in self.rows]
        done, total = sum(r.done for r in self.rows), sum(r.organizations for r in self.rows)
        lines.append(f"  {'total':<10} {'':<10} {done}/{total} organizations")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)


def run_stacks(fleet: Fleet, command: str, specs: Mapping[str, dict[str, Any]], *, parallel: int, budget: float,
               progress: Progress, rows: Mapping[str, StackResult], options: Mapping[str, Any] | None = None) -> None:
    """Run `command` on every stack of `specs` (stack -> the program's input), `parallel` at a time,
    the largest first (so no big stack starts last and runs on alone); `options` go to the Automation
    API's call (policy_packs, policy_pack_configs)."""
    names = sorted(specs, key=lambda n: -rows[n].organizations)
    at_once = max(1, min(parallel, len(names)))
    pace = fleet.pace(budget, at_once)
    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(lambda n: _run_one(fleet, command, n, specs[n], pace, progress, rows[n], options or {}),
                      names))


def _run_one(fleet: Fleet, command: str, name: str, spec: dict[str, Any], pace: dict[str, str], progress: Progress,
             row: StackResult, options: Mapping[str, Any]) -> None:
    started = time.monotonic()
    row.result = "running"
    shared = " (shared)" if ENV_RATE_FILE in pace else ""
    progress.update(row, f"{command} started ({row.organizations} organizations, "
                         f"{pace[ENV_REQUESTS_PER_SECOND]} requests/s{shared})")
    spec_file = fleet.root / f"{name}.input.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")

    def on_event(event: Any) -> None:
        outputs = getattr(event, "res_outputs_event", None)
        if outputs is None or outputs.metadata.type.startswith("pulumi:"):
            return
        op = str(getattr(outputs.metadata.op, "value", outputs.metadata.op))
        row.ops[op] = row.ops.get(op, 0) + 1
        if command != "preview":
            row.requests += CALLS.get(op, 0)
        if outputs.metadata.type.endswith(ACCOUNT_TYPE):
            row.done += 1
            progress.update(row)

    try:
        stack = fleet.stack(name, {**pace, ENV_INPUT: str(spec_file)},
                            create=command in ("up", "preview"))
        run = getattr(stack, command)
        run(on_event=on_event, color="never", **options)
        # Counted from the steps, so the stack's own pulumi:pulumi:Stack resource is not among them.
        row.created = row.ops.get("create", 0) + row.ops.get("create-replacement", 0)
        row.updated = row.ops.get("update", 0)
        row.deleted = row.ops.get("delete", 0) + row.ops.get("delete-replaced", 0)
        row.result = "succeeded"
    except Exception as error:  # a failed stack is reported; the others go on
        row.result, row.error = "failed", _brief(error)
    row.seconds = round(time.monotonic() - started, 1)
    progress.update(row, f"{row.result} in {row.seconds} s" + (f": {row.error}" if row.error else ""))


def _brief(error: Exception) -> str:
    """The engine's error lines of a failed CLI run (not its whole output), with any policy violation."""
    texts = [getattr(error, "stderr", None), getattr(error, "stdout", None)]
    return _brief_text("\n".join(t for t in texts if t) or str(error))


def _brief_text(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    # A policy pack's violation: "- [mandatory]  <policy>  (<resource>)", its description, then the message.
    violations = [" ".join(lines[i:i + 3]) for i, line in enumerate(lines) if line.startswith("- [mandatory]")]
    picked = violations + [line for line in lines if "error" in line.lower()] or lines[-3:]
    return " | ".join(dict.fromkeys(picked))[:2000]


def table(rows: Iterable[StackResult]) -> str:
    rows = list(rows)
    head = f"{'stack':<10} {'result':<10} {'orgs':>6} {'created':>8} {'updated':>8} {'deleted':>8} {'requests~':>9} {'s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.stack:<10} {r.result:<10} {r.organizations:>6} {r.created:>8} {r.updated:>8} {r.deleted:>8} "
                     f"{r.requests:>9} {r.seconds:>7}")
    for r in rows:
        if r.error:
            lines.append(f"{r.stack}: {r.error}")
    return "\n".join(lines)


def report(rows: Iterable[StackResult], **extra: Any) -> dict[str, Any]:
    stacks = [asdict(r) for r in rows]
    return {**extra, "ok": all(s["result"] != "failed" for s in stacks),
            "unchanged": [s["stack"] for s in stacks if s["result"] == "unchanged"], "stacks": stacks}


__all__ = ["Fleet", "Progress", "StackResult", "StateUnreadable", "report", "run_stacks", "table"]
