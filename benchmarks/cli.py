"""Scale under the real `pulumi` CLI: the multi-org program with N organizations, against the sandbox
with 20 ms latency and its 100 requests/s limit, next to the engine's own floor for the same N.

For each N and each checkpoint mode (`default`: the file backend writes the checkpoint after every
step; `skip`: `PULUMI_SKIP_CHECKPOINTS=true`, only the final one), two programs run through the same
phases, each a fresh `pulumi` process on a fresh stack of a private file backend:

    preview   pulumi preview                       (N+1 creates planned, no API call)
    up        pulumi up --yes --skip-preview       (N+1 creates: GET + POST each)
    noop_up   the same again                       (nothing changed: no API call)
    refresh   pulumi refresh --yes --skip-preview  (one GET per resource)
    destroy   pulumi destroy --yes --skip-preview  (one PATCH per resource)

- `ours`: examples/multi-org/__main__.py as shipped (its folder copied, the organizations in a YAML
  file, `onboardingLinks: false` so that an up with nothing changed makes no call at all).
- `floor`: the same file, run with providers that answer at once without HTTP
  (benchmarks/_noop.py): what Pulumi itself costs for that program shape.

The sandbox runs in a process of its own (benchmarks/_sandbox_child.py): its event loop does not
share a GIL with anything measured, and its CPU time is read apart. Each phase reports its wall
time (process start to exit), the requests the sandbox logged, the checkpoint's bytes per resource,
the peak memory (VmHWM) of the engine (`pulumi`), the program (the language host's Python), and the
provider (`python -m pulumi.dynamic`), and the CPU seconds of each (and of the sandbox). The figure
is wall time over max(rate-limit bound, floor), where the bound is accepted requests / 100 s and
the floor is the same phase of the `floor` program at the same N and checkpoint mode.

Run it by hand for the full table (`python -m benchmarks --only cli --orgs 100,1000,10000`); the
default-checkpoint mode runs only up to `--cli-checkpoint-max` organizations (1,000), since the
file backend's per-step rewrite makes it quadratic. `python -m benchmarks.cli --table JSON` prints
the markdown table of a results file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from ._common import CONNECT_BODY, ROOT, table_main
from .report import Report, Row

RATE_LIMIT = 100
LATENCY = 0.020
TARGET = 1.15
PHASES = ("preview", "up", "noop_up", "refresh", "destroy")
MODES: dict[str, dict[str, str]] = {"default": {}, "skip": {"PULUMI_SKIP_CHECKPOINTS": "true"}}
PROGRAMS = ("floor", "ours")
SETTLED_PHASES = ("preview", "up", "noop_up")  # refresh and destroy do not run the program
SETTLE = """

# Added by benchmarks/cli.py (docs/fleets.md, step 2): yield once after the top-level code, so the SDK
# awaits each registration instead of re-waiting on every pending output at each completion.
import asyncio as _asyncio  # noqa: E402

pulumi.run(lambda: _asyncio.sleep(0))
"""
MULTI_ORG = ROOT / "examples" / "multi-org"
FLOOR = Path(__file__).resolve().parent / "floor_program"
STACK = "bench"
PASSPHRASE = "benchmarks-cli"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROLES = ("engine", "language_host", "program", "provider", "other")


def find_cli() -> str | None:
    """The `pulumi` on PATH, else the folder the shared build script reported (/tmp/cli_dir.txt)."""
    found = shutil.which("pulumi")
    if found:
        return found
    hint = Path("/tmp/cli_dir.txt")
    if hint.is_file():
        candidate = Path(hint.read_text().strip() or "/nonexistent") / "pulumi"
        if candidate.is_file():
            return str(candidate)
    return None


# ------------------------------------------------------------------------------------ processes


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, from /proc/PID/stat."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _status_kb(pid: int, *keys: str) -> dict[str, int]:
    text = _read(f"/proc/{pid}/status") or ""
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in keys:
            found[name] = int(value.split()[0])
    return found


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "engine"
    cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ")
    if "pulumi.dynamic" in cmdline:
        return "provider"
    if "pulumi-language-python-exec" in cmdline:
        return "program"
    if cmdline.split(" ")[0].endswith("pulumi-language-python"):
        return "language_host"
    return "other"


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    fields = [int(v) for v in (_read("/proc/stat") or "cpu 0 0 0 0").splitlines()[0].split()[1:]]
    total = sum(fields[:8])
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (total - idle) / CLK_TCK, total / CLK_TCK


class TreeSampler:
    """Samples the process tree under one pid every `interval` seconds: per process its role, CPU
    seconds and peak resident memory (VmHWM), and the peak of the tree's summed resident memory."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.procs: dict[int, dict[str, Any]] = {}
        self.peak_tree_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat:
                    parents[int(entry)], cpu[int(entry)] = stat
        tree, frontier = set(), {self.root}
        while frontier:
            tree |= frontier
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - tree
        total = 0
        for pid in tree:
            memory = _status_kb(pid, "VmHWM", "VmRSS")
            if not memory:
                continue
            record = self.procs.setdefault(pid, {"role": _role(pid, self.root), "hwm_kb": 0, "cpu_s": 0.0})
            record["hwm_kb"] = max(record["hwm_kb"], memory.get("VmHWM", 0))
            record["cpu_s"] = max(record["cpu_s"], cpu.get(pid, 0.0))
            total += memory.get("VmRSS", 0)
        self.peak_tree_kb = max(self.peak_tree_kb, total)

    def by_role(self) -> dict[str, dict[str, float]]:
        roles: dict[str, dict[str, float]] = {}
        for record in self.procs.values():
            figures = roles.setdefault(record["role"], {"peak_mb": 0.0, "cpu_s": 0.0, "processes": 0})
            figures["peak_mb"] = max(figures["peak_mb"], record["hwm_kb"] / 1024)
            figures["cpu_s"] += record["cpu_s"]
            figures["processes"] += 1
        return {role: {k: round(v, 2) for k, v in figures.items()} for role, figures in roles.items()}


# ------------------------------------------------------------------------------------ sandbox


class SandboxProcess:
    """The sandbox in its own process, with N organizations, 20 ms latency and the rate limit."""

    def __init__(self, orgs: int, workdir: Path, *, latency: float = LATENCY, rate_limit: int = RATE_LIMIT) -> None:
        ids_file = workdir / "org-ids.txt"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._sandbox_child", str(orgs), str(ids_file), str(latency),
             str(rate_limit)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            self.stop()
            raise RuntimeError("the sandbox process did not start")
        info = json.loads(line)
        self.url: str = info["url"]
        self.token: str = info["token"]
        self.pid: int = info["pid"]
        self.org_ids = ids_file.read_text(encoding="utf-8").split()
        self.http = requests.Session()
        self.http.trust_env = False

    def cpu_seconds(self) -> float:
        stat = _stat(self.pid)
        return stat[1] if stat else 0.0

    def clear_requests(self) -> None:
        self.http.delete(self.url + "/_sandbox/requests", timeout=30).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        response = self.http.get(self.url + "/_sandbox/requests", timeout=60)
        response.raise_for_status()
        return response.json()["requests"]

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin:
                self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                self.process.wait(10)
        if hasattr(self, "http"):
            self.http.close()


# ------------------------------------------------------------------------------------ stacks


@dataclass
class PhaseResult:
    program: str
    mode: str
    orgs: int
    phase: str
    wall_s: float
    exit_code: int
    requests: int = 0
    throttled: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    checkpoint_bytes: int = 0
    checkpoint_resources: int = 0
    engine_written_mb: float = 0.0
    engine_peak_mb: float = 0.0
    engine_cpu_s: float = 0.0
    roles: dict[str, dict[str, float]] = field(default_factory=dict)
    peak_tree_mb: float = 0.0
    sandbox_cpu_s: float = 0.0
    first_request_s: float | None = None
    last_request_s: float | None = None
    machine_busy_cores: float = 0.0
    log: str = ""

    @property
    def accepted(self) -> int:
        return self.requests - self.throttled

    @property
    def bound_s(self) -> float:
        return self.accepted / RATE_LIMIT

    @property
    def our_cpu_s(self) -> float:
        return self.engine_cpu_s + sum(r["cpu_s"] for role, r in self.roles.items() if role != "engine") \
            + self.sandbox_cpu_s


class Stack:
    """One program folder, one stack, a private PULUMI_HOME and file backend, driven by the CLI."""

    def __init__(self, cli: str, root: Path, program: str, mode: str, orgs: list[str],
                 sandbox: SandboxProcess | None, *, settled: bool = False) -> None:
        self.cli, self.root, self.mode = cli, root, mode
        self.program = program + ("_settled" if settled else "")
        self.orgs = len(orgs)
        self.sandbox = sandbox
        self.folder = root / "program"
        self.backend = root / "state"
        for path in (self.folder, self.backend, root / "home", root / "logs"):
            path.mkdir(parents=True, exist_ok=True)
        project = yaml.safe_load((MULTI_ORG / "Pulumi.yaml").read_text(encoding="utf-8"))
        self.project = project["name"]
        main = "multi_org.py" if program == "floor" else "__main__.py"
        shutil.copy(MULTI_ORG / "__main__.py", self.folder / main)
        if settled:
            with open(self.folder / main, "a", encoding="utf-8") as handle:
                handle.write(SETTLE)
        if program == "floor":
            shutil.copy(FLOOR / "__main__.py", self.folder / "__main__.py")
        # The shipped Pulumi.yaml names the repository's virtualenv relative to examples/multi-org;
        # this copy lives elsewhere, so it names the running one by its absolute path.
        project["runtime"] = {"name": "python", "options": {"virtualenv": sys.prefix}}
        (self.folder / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
        names = {f"org-{i:05d}": org_id for i, org_id in enumerate(orgs)}
        (self.folder / "fleet.yaml").write_text(yaml.safe_dump(names), encoding="utf-8")
        from tests.realengine import cli_environment

        # PYTHONPATH: the floor's providers (benchmarks._noop) import in the provider process.
        self.env = cli_environment(cli, home=root / "home", backend=self.backend, passphrase=PASSPHRASE,
                                   extra={"PYTHONPATH": str(ROOT), **MODES[mode]})

    def _pulumi(self, *args: str, input: str | None = None, timeout: float = 120) -> str:
        result = subprocess.run([self.cli, *args, "--stack", STACK] if args[:2] != ("stack", "init") else
                                [self.cli, *args], cwd=self.folder, env=self.env, input=input, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"`pulumi {' '.join(args)}` exited {result.returncode}:\n{result.stdout[-3000:]}")
        return result.stdout

    def init(self) -> None:
        url = self.sandbox.url if self.sandbox else "http://127.0.0.1:9"  # the floor never calls it
        token = self.sandbox.token if self.sandbox else "floor-token-never-used"
        self._pulumi("stack", "init", STACK)
        self._pulumi("config", "set", "--secret", "spaceinvoices:accessToken", input=token)
        self._pulumi("config", "set", "--secret", "stripeSecretKey", input=CONNECT_BODY["privateKey"])
        # multi-org exports each organization's entry URL (signed, no API call): it needs the two settings.
        self._pulumi("config", "set", "--secret", "spaceinvoices:onboardingSigningKey",
                     input="benchmark-onboarding-signing-key-0123456789abcdef")
        self._pulumi("config", "set-all",
                     "--plaintext", f"spaceinvoices:apiUrl={url}",
                     "--plaintext", "spaceinvoices:onboardingUrl=https://onboard.platform.example.com",
                     "--plaintext", f"stripePublishableKey={CONNECT_BODY['publicKey']}",
                     "--plaintext", "onboardingLinks=false",
                     "--plaintext", "organizationsFile=fleet.yaml")

    def checkpoint(self) -> tuple[int, int]:
        """(bytes, resources) of the stack's checkpoint file."""
        path = self.backend / ".pulumi" / "stacks" / self.project / f"{STACK}.json"
        if not path.is_file():
            return 0, 0
        data = path.read_bytes()
        resources = (json.loads(data).get("checkpoint", {}).get("latest") or {}).get("resources") or []
        return len(data), len(resources)

    def run(self, phase: str, timeout: float, extra_args: tuple[str, ...] = ()) -> PhaseResult:
        args = {
            "preview": ["preview"], "up": ["up", "--yes", "--skip-preview"],
            "noop_up": ["up", "--yes", "--skip-preview"], "refresh": ["refresh", "--yes", "--skip-preview"],
            "destroy": ["destroy", "--yes", "--skip-preview"],
        }[phase] + list(extra_args)
        if self.sandbox:
            self.sandbox.clear_requests()
        sandbox_cpu = self.sandbox.cpu_seconds() if self.sandbox else 0.0
        busy_before, _ = system_cpu()
        log_path = self.root / "logs" / f"{phase}.log"
        started_at = time.time()  # the sandbox stamps its requests with the same clock
        started = time.monotonic()
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen([self.cli, *args, "--non-interactive", "--stack", STACK], cwd=self.folder,
                                       env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            sampler = TreeSampler(process.pid).start()
            timed_out, own, io = False, None, {}
            try:
                # Wait without reaping, so the engine's /proc entry (its I/O counters) is still there.
                deadline = started + timeout
                while True:
                    info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
                    if info is not None and info.si_pid == process.pid:
                        break
                    if time.monotonic() > deadline:
                        timed_out = True
                        os.killpg(process.pid, signal.SIGKILL)
                    time.sleep(0.05)
                wall = time.monotonic() - started
                io = dict(line.split(": ") for line in (_read(f"/proc/{process.pid}/io") or "").splitlines()
                          if ": " in line)
                # The engine's own CPU time: its /proc stat while it is a zombie (wait4's rusage would
                # add the plugins and the program, which it reaped).
                own = _stat(process.pid)
            finally:
                sampler.stop()
                try:
                    _, status = os.waitpid(process.pid, 0)
                except ChildProcessError:
                    status = 0
                process.returncode = os.waitstatus_to_exitcode(status)
                # Anything the engine left behind (plugins are its children, in its session) goes too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        busy_after, _ = system_cpu()
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if timed_out:
            raise RuntimeError(f"{self.program}/{self.mode} {phase} with {self.orgs} orgs passed its {timeout:.0f} s "
                               f"timeout; log: {log_path}")
        if process.returncode != 0:
            raise RuntimeError(f"{self.program}/{self.mode} {phase} exited {process.returncode}:\n{text[-3000:]}")
        roles = sampler.by_role()
        engine = roles.pop("engine", {})
        result = PhaseResult(
            program=self.program, mode=self.mode, orgs=self.orgs, phase=phase, wall_s=round(wall, 2),
            exit_code=process.returncode, roles=roles, peak_tree_mb=round(sampler.peak_tree_kb / 1024, 1),
            engine_written_mb=round(int(io.get("wchar", 0)) / 1e6, 1),
            engine_peak_mb=round(engine.get("peak_mb", 0.0), 1),
            engine_cpu_s=round(own[1] if own else engine.get("cpu_s", 0.0), 2),
            machine_busy_cores=round((busy_after - busy_before) / wall, 2), log=str(log_path),
        )
        if self.sandbox:
            result.sandbox_cpu_s = round(self.sandbox.cpu_seconds() - sandbox_cpu, 2)
            records = self.sandbox.requests()
            result.requests = len(records)
            result.throttled = sum(1 for r in records if r["status"] == 429)
            result.by_operation = dict(Counter(f"{r['method']} {r['operation']}" for r in records))
            if records:
                stamps = [r["timestamp"] for r in records]
                result.first_request_s = round(min(stamps) - started_at, 2)
                result.last_request_s = round(max(stamps) - started_at, 2)
        result.checkpoint_bytes, result.checkpoint_resources = self.checkpoint()
        return result


def phase_timeout(orgs: int, mode: str) -> float:
    """Generous: ten times the rate-limit bound of an up, plus the quadratic checkpoint writes."""
    return 180 + orgs * 0.2 + (orgs * orgs * 2e-4 if mode == "default" else 0.0)


def shipped_is_settled() -> bool:
    """Whether the shipped multi-org program already hands the SDK an async entrypoint."""
    return "pulumi.run(" in (MULTI_ORG / "__main__.py").read_text(encoding="utf-8")


def run_stack(cli: str, workdir: Path, program: str, mode: str, orgs: int, say: Any = print, *,
              settled: bool = False, extra_args: tuple[str, ...] = ()) -> list[PhaseResult]:
    root = workdir / f"{program}{'-settled' if settled else ''}-{mode}-{orgs}"
    sandbox = None
    try:
        if program == "ours":
            root.mkdir(parents=True, exist_ok=True)
            sandbox = SandboxProcess(orgs, root)
            org_ids = sandbox.org_ids
        else:
            org_ids = [f"{i:024x}" for i in range(orgs)]
        stack = Stack(cli, root, program, mode, org_ids, sandbox, settled=settled)
        stack.init()
        results = []
        for phase in SETTLED_PHASES if settled else PHASES:
            result = stack.run(phase, phase_timeout(orgs, mode), extra_args)
            say(f"  {stack.program:13} {mode:7} {orgs:>6} orgs  {phase:8} {result.wall_s:8.1f} s  "
                f"{result.requests:>6} requests  engine {result.engine_cpu_s:.0f} s CPU, "
                f"machine {result.machine_busy_cores:.2f} cores busy")
            results.append(result)
        return results
    finally:
        if sandbox:
            sandbox.stop()


# ------------------------------------------------------------------------------------ the section


def expected_requests(phase: str, orgs: int) -> tuple[int, str]:
    """The call budget of a phase for N organizations and the one Connect config (ARCHITECTURE.md, Targets)."""
    resources = orgs + 1
    return {
        "preview": (0, "=="), "noop_up": (0, "=="), "up": (2 * resources, "<="),
        "refresh": (resources, "=="), "destroy": (2 * resources, "<="),
    }[phase]


def run(report: Report, *, orgs: list[int], quick: bool, checkpoint_max: int = 1000,
        extra_args: tuple[str, ...] = (), settled: bool = True, keep: bool = False, log: bool = True) -> None:
    cli = find_cli()
    if cli is None:
        report.notes.append("cli: skipped, `pulumi` is not on PATH (see tests/realengine.py for how to get it)")
        return
    version = subprocess.run([cli, "version"], capture_output=True, text=True, timeout=60).stdout.strip()

    def say(message: str) -> None:
        if log:
            print(message, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    plan = []
    for n in orgs:
        for mode in ("skip", "default"):
            if mode == "default" and n > checkpoint_max:
                report.notes.append(f"cli: {n} orgs with default checkpoints not run (above --cli-checkpoint-max "
                                    f"{checkpoint_max}: the file backend rewrites the whole checkpoint after every "
                                    "step, so the run is quadratic in N)")
                continue
            if quick and mode == "default":
                continue  # quick mode: call counts (the same in both modes) and the floor's code path
            plan += [(program, mode, n, False) for program in PROGRAMS]
            if settled and mode == "skip" and not quick and not shipped_is_settled():
                plan += [(program, mode, n, True) for program in PROGRAMS]
    results: list[PhaseResult] = []
    try:
        for program, mode, n, settle in plan:
            results += run_stack(cli, workdir, program, mode, n, say, settled=settle, extra_args=extra_args)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    add_rows(report, results, quick=quick)
    report.extra["cli"] = {
        "pulumi": version, "cores": os.cpu_count(), "latency_s": LATENCY, "rate_limit": RATE_LIMIT,
        "extra_args": list(extra_args),
        "workdir": str(workdir) if keep else None,
        "results": [{k: v for k, v in asdict(r).items() if k != "log"} for r in results],
        "table_md": markdown_table(results),
    }
    say("\n" + markdown_table(results))


def _find(results: list[PhaseResult], program: str, mode: str, orgs: int, phase: str) -> PhaseResult | None:
    for result in results:
        if (result.program, result.mode, result.orgs, result.phase) == (program, mode, orgs, phase):
            return result
    return None


def floor_of(results: list[PhaseResult], ours: PhaseResult) -> PhaseResult | None:
    """The floor's run of the same phase, N and checkpoint mode (settled with settled)."""
    return _find(results, ours.program.replace("ours", "floor"), ours.mode, ours.orgs, ours.phase)


def ratio(results: list[PhaseResult], ours: PhaseResult) -> tuple[float | None, float]:
    """wall / max(rate-limit bound, floor), and that denominator."""
    floor = floor_of(results, ours)
    if floor is None:
        return None, ours.bound_s
    denominator = max(ours.bound_s, floor.wall_s)
    return round(ours.wall_s / denominator, 2), denominator


def _ours(results: list[PhaseResult]) -> list[PhaseResult]:
    return [r for r in results if r.program.startswith("ours")]


def _cpu(result: PhaseResult, role: str) -> float:
    return result.engine_cpu_s if role == "engine" else result.roles.get(role, {}).get("cpu_s", 0.0)


def _peak(result: PhaseResult, role: str) -> float:
    return result.engine_peak_mb if role == "engine" else result.roles.get(role, {}).get("peak_mb", 0.0)


def sum_ratio(results: list[PhaseResult], ours: PhaseResult) -> float | None:
    """wall / (floor + bound): 1.0 when the provider's requests overlap nothing the engine does."""
    floor = floor_of(results, ours)
    return round(ours.wall_s / (floor.wall_s + ours.bound_s), 2) if floor else None


def add_rows(report: Report, results: list[PhaseResult], *, quick: bool) -> None:
    for ours in _ours(results):
        variant = "" if ours.program == "ours" else ", settled program"
        key = f"cli.{ours.orgs}.{ours.mode}{'' if ours.program == 'ours' else '.settled'}.{ours.phase}"
        where = f"{ours.orgs} orgs, {ours.mode} checkpoints{variant}"
        budget, op = expected_requests(ours.phase, ours.orgs)
        report.add(Row(f"{key}.requests", "cli", f"{where}: {ours.phase}: API requests", ours.requests, "calls",
                       budget, op, detail=", ".join(f"{k} x{v}" for k, v in sorted(ours.by_operation.items())),
                       deterministic=True))
        value, _ = ratio(results, ours)
        floor = floor_of(results, ours)
        report.add(Row(
            f"{key}.ratio", "cli", f"{where}: {ours.phase}: wall vs max(bound, floor)", value, "x",
            None if quick or floor is None else TARGET,
            detail=f"{ours.wall_s:.1f} s; bound {ours.bound_s:.1f} s ({ours.accepted} requests / {RATE_LIMIT}/s"
                   + (f", sent from {ours.first_request_s:.1f} s to {ours.last_request_s:.1f} s"
                      if ours.first_request_s is not None else "") + "); "
                   + f"floor {f'{floor.wall_s:.1f} s' if floor else 'not run'}"
                   + (f" (wall / (floor + bound) = {sum_ratio(results, ours):.2f}x)" if floor else "") + f"; CPU s: engine {_cpu(ours, 'engine'):.0f}, "
                   + f"program {_cpu(ours, 'program'):.0f}, provider {_cpu(ours, 'provider'):.0f}, sandbox "
                   + f"{ours.sandbox_cpu_s:.0f}; machine {ours.machine_busy_cores:.2f} of {os.cpu_count()} cores busy"))
    for ours in (r for r in results if r.program == "ours" and r.phase == "up"):
        key = f"cli.{ours.orgs}.{ours.mode}"
        where = f"{ours.orgs} orgs, {ours.mode} checkpoints"
        per = ours.checkpoint_bytes / ours.checkpoint_resources if ours.checkpoint_resources else 0
        report.add(Row(f"{key}.checkpoint_bytes_per_resource", "cli", f"{where}: checkpoint bytes per resource",
                       round(per), "B", detail=f"{ours.checkpoint_bytes / 1e6:.2f} MB for {ours.checkpoint_resources} "
                                               f"resources; the engine wrote {ours.engine_written_mb:.0f} MB during up"))
        phases = [r for r in results if (r.program, r.mode, r.orgs) == ("ours", ours.mode, ours.orgs)]
        peak = max(phases, key=lambda r: r.peak_tree_mb)
        report.add(Row(f"{key}.peak_mb", "cli", f"{where}: peak memory (engine + program + provider)",
                       peak.peak_tree_mb, "MB",
                       detail=f"largest in {peak.phase}: engine {_peak(peak, 'engine'):.0f} MB, program "
                              f"{_peak(peak, 'program'):.0f} MB, provider {_peak(peak, 'provider'):.0f} MB (VmHWM "
                              "each); the value is the peak of their summed resident memory"))


def markdown_table(results: list[PhaseResult]) -> str:
    """One line per (N, checkpoint mode, program, phase): ours, the floor, the bound, the ratio."""
    lines = ["| orgs | checkpoints | program | phase | wall s | requests | bound s | floor s | ratio | "
             "wall / (floor + bound) | CPU s: engine / program / provider / sandbox | "
             "peak MB: engine / program / provider |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for ours in _ours(results):
        floor = floor_of(results, ours)
        value, _ = ratio(results, ours)
        lines.append(
            f"| {ours.orgs:,} | {ours.mode} | {'shipped' if ours.program == 'ours' else 'settled'} | {ours.phase} | "
            f"{ours.wall_s:.1f} | {ours.requests:,} | {ours.bound_s:.1f} | "
            f"{f'{floor.wall_s:.1f}' if floor else 'n/a'} | {'n/a' if value is None else f'{value:.2f}x'} | "
            f"{'n/a' if floor is None else f'{sum_ratio(results, ours):.2f}x'} | {_cpu(ours, 'engine'):.0f} / {_cpu(ours, 'program'):.0f} / {_cpu(ours, 'provider'):.0f} / "
            f"{ours.sandbox_cpu_s:.0f} | "
            f"{_peak(ours, 'engine'):.0f} / {_peak(ours, 'program'):.0f} / {_peak(ours, 'provider'):.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(table_main(sys.argv[1:], "cli", PhaseResult, markdown_table))
