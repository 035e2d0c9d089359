"""A small stand-in for the Pulumi engine: run a program under mocks and drive the provider server.

`Engine` keeps a checkpoint between runs and, for each dynamic resource the program registers,
takes the step the real engine would (Check, then Create or Diff -> Same/Update/Replace), talking to
a fresh `python -m pulumi.dynamic` process per run. Resources no longer registered are deleted
after a successful program. `preview` only checks and diffs; `refresh` reads; `destroy` deletes.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import datetime as _dt
import gc
import hashlib
import json
import logging
import os
import runpy
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2
from pulumi.runtime import config as pulumi_config
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockEngine, MockMonitor, MockResourceArgs, Mocks, MockSettings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack

from .provider_server import (
    PYTHON_DYNAMIC_PACKAGE,
    REPO_ROOT,
    ProviderCall,
    ProviderError,
    ProviderServer,
    config_value_string,
)
from .values import (
    SECRET_SIG,
    SIG_KEY,
    UNKNOWN,
    Secret,
    contains_secrets,
    from_struct,
    from_wire,
    mark_secret_keys,
    strip_secrets,
    to_struct,
    to_wire,
)

PROVIDER_KEY = "__provider"
MUTATING_METHODS = frozenset({"Create", "Update", "Delete"})
DEFAULT_PASSPHRASE = "harness-passphrase"

Program = Callable[[], Any] | str | os.PathLike[str]


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class StateEntry:
    """One resource in the checkpoint. `inputs`/`outputs` hold engine values (`Secret` kept)."""

    urn: str
    type: str
    name: str
    custom: bool
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    seq: int = 0

    @property
    def is_dynamic(self) -> bool:
        """True for a Python dynamic-provider resource."""
        return (
            self.custom
            and self.type.startswith(f"{PYTHON_DYNAMIC_PACKAGE}:")
            and (PROVIDER_KEY in self.inputs or PROVIDER_KEY in self.outputs)
        )

    @property
    def provider_str(self) -> str | None:
        """The serialized provider (`__provider`), plain."""
        value = self.inputs.get(PROVIDER_KEY, self.outputs.get(PROVIDER_KEY))
        return strip_secrets(value) if value is not None else None

    @property
    def secret_outputs(self) -> set[str]:
        """Output keys whose value is (or contains) a secret."""
        return {k for k, v in self.outputs.items() if contains_secrets(v)}

    @property
    def secret_inputs(self) -> set[str]:
        """Input keys whose value is (or contains) a secret."""
        return {k for k, v in self.inputs.items() if contains_secrets(v)}

    @property
    def plain_outputs(self) -> dict[str, Any]:
        """Outputs with secret markers removed."""
        return strip_secrets(self.outputs)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        """Inputs with secret markers removed."""
        return strip_secrets(self.inputs)


@dataclass(frozen=True)
class StepFailure:
    """A check failure reported for one resource."""

    urn: str
    name: str
    property: str
    reason: str


@dataclass
class RunResult:
    """What one engine operation did. Resource lists hold resource names."""

    kind: str
    preview: bool
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    sames: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    raw_outputs: dict[str, Any] = field(default_factory=dict)
    failures: list[StepFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    calls: list[ProviderCall] = field(default_factory=list)
    provider_stderr: str = ""
    provider_peak_rss_mb: float = 0.0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the operation had no errors."""
        return not self.errors

    @property
    def outputs(self) -> dict[str, Any]:
        """Stack outputs as plain values (`UNKNOWN` where preview could not know them)."""
        return strip_secrets(self.raw_outputs)

    @property
    def secret_outputs(self) -> set[str]:
        """Names of stack outputs that are (or contain) secrets."""
        return {k for k, v in self.raw_outputs.items() if contains_secrets(v)}

    def calls_to(self, *methods: str) -> list[ProviderCall]:
        """Provider calls with one of the given method names (all calls if none given)."""
        return [c for c in self.calls if not methods or c.method in methods]

    @property
    def mutating_calls(self) -> list[ProviderCall]:
        """Create/Update/Delete calls made during the run."""
        return [c for c in self.calls if c.method in MUTATING_METHODS]

    def raise_for_errors(self) -> RunResult:
        """Raise `EngineError` if the run had errors; return self otherwise."""
        if self.errors:
            raise EngineError(self)
        return self


class EngineError(Exception):
    """An engine operation failed; `result` holds everything that happened."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(f"{result.kind} failed:\n" + "\n".join(result.errors))


class _StepError(Exception):
    """A resource step failed (already recorded in the run's errors)."""


# ------------------------------------------------------------------------------------ secrets


def _keystream_xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < len(data):
        out += hashlib.sha256(key + nonce + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(a ^ b for a, b in zip(data, out, strict=False))


class _Crypter:
    """A toy passphrase secrets provider: secrets never appear in plain text in `state_json()`."""

    def __init__(self, passphrase: str, salt: bytes | None = None) -> None:
        self.salt = salt if salt is not None else os.urandom(16)
        self._key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), self.salt, 1000)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        ct = _keystream_xor(self._key, nonce, plaintext.encode())
        return "v1:" + base64.b64encode(nonce).decode() + ":" + base64.b64encode(ct).decode()

    def decrypt(self, ciphertext: str) -> str:
        _, nonce_b64, ct_b64 = ciphertext.split(":", 2)
        nonce, ct = base64.b64decode(nonce_b64), base64.b64decode(ct_b64)
        return _keystream_xor(self._key, nonce, ct).decode()

    def encode(self, value: Any) -> Any:
        if isinstance(value, Secret):
            plain = json.dumps(strip_secrets(value.value), sort_keys=True)
            return {SIG_KEY: SECRET_SIG, "ciphertext": self.encrypt(plain)}
        if value is UNKNOWN:
            return to_wire(value)
        if isinstance(value, Mapping):
            return {k: self.encode(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.encode(v) for v in value]
        return value

    def decode(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            if value.get(SIG_KEY) == SECRET_SIG and "ciphertext" in value:
                return Secret(json.loads(self.decrypt(value["ciphertext"])))
            return {k: self.decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        return from_wire(value)


# ------------------------------------------------------------------------------------ engine


class Engine:
    """Plays the Pulumi engine for one stack, keeping its checkpoint in memory between runs.

    `program` is a zero-argument callable (run once per operation, so it must create its
    resources when called) or a path to a Pulumi program file/directory (`__main__.py`).
    `config` is the stack config (`"ns:key": value`); keys in `secret_config`, and values given as
    `Secret(...)`, are secret. `env` is added to the provider process environment and, while the
    program runs, to `os.environ`. `pythonpath` entries are prepended to the provider's PYTHONPATH
    (the project root is always on it).
    """

    def __init__(
        self,
        program: Program,
        *,
        project: str = "project",
        stack: str = "dev",
        organization: str = "organization",
        config: Mapping[str, Any] | None = None,
        secret_config: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[str | os.PathLike[str]] = (),
        cwd: str | os.PathLike[str] | None = None,
        parallel: int = 8,
        call_timeout: float | None = 300.0,
        passphrase: str = DEFAULT_PASSPHRASE,
    ) -> None:
        self.program = program
        self.project = project
        self.stack = stack
        self.organization = organization
        self.config: dict[str, Any] = dict(config or {})
        self.secret_config: set[str] = set(secret_config)
        self.env: dict[str, str] = dict(env or {})
        self.pythonpath = [str(p) for p in pythonpath]
        self.cwd = str(cwd) if cwd is not None else str(REPO_ROOT)
        self.parallel = max(1, parallel)
        self.call_timeout = call_timeout
        self.state: dict[str, StateEntry] = {}
        self.pending_deletes: list[StateEntry] = []
        self.stack_outputs: dict[str, Any] = {}
        self.history: list[RunResult] = []
        self._passphrase = passphrase
        self._crypter = _Crypter(passphrase)
        self._seq = 0
        self._seq_lock = threading.Lock()

    # ----------------------------------------------------------------- public operations

    def up(self, *, raise_on_error: bool = True) -> RunResult:
        """Run the program and apply its changes (`pulumi up`)."""
        return self._finish(self._run_program_op("up", preview=False), raise_on_error)

    def preview(self, *, raise_on_error: bool = True) -> RunResult:
        """Run the program with `is_dry_run()` true; only Check and Diff reach the provider."""
        return self._finish(self._run_program_op("preview", preview=True), raise_on_error)

    def refresh(self, *, raise_on_error: bool = True) -> RunResult:
        """Read every dynamic resource; drop those whose read returns an empty id."""
        return self._finish(self._refresh(), raise_on_error)

    def destroy(self, *, raise_on_error: bool = True) -> RunResult:
        """Delete every resource, dependents first (`pulumi destroy`)."""
        return self._finish(self._destroy(), raise_on_error)

    @property
    def stack_urn(self) -> str:
        """The URN of the stack resource."""
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:pulumi:Stack::{self.project}-{self.stack}"

    def urn(self, type_: str, name: str, parent_type: str | None = None) -> str:
        """The URN the engine gives a resource registered under the stack (or a parent type)."""
        qualified = f"{parent_type}${type_}" if parent_type else type_
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    def by_name(self, name: str) -> StateEntry:
        """The one state entry with this resource name."""
        matches = [e for e in self.state.values() if e.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} in state")
        return matches[0]

    # ----------------------------------------------------------------- checkpoint

    def state_json(self) -> str:
        """The checkpoint as Pulumi would write it; secrets only as `ciphertext` markers."""
        enc = self._crypter.encode
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        provider_ref = f"{self._default_provider_urn()}::harness-default"
        resources: list[dict[str, Any]] = []
        if self.state or self.pending_deletes:
            resources.append(
                {
                    "urn": self.stack_urn,
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                    "outputs": enc(self.stack_outputs),
                    "created": now,
                    "modified": now,
                }
            )
            provider_inputs = self._config_props()
            resources.append(
                {
                    "urn": self._default_provider_urn(),
                    "custom": True,
                    "id": "harness-default",
                    "type": f"pulumi:providers:{PYTHON_DYNAMIC_PACKAGE}",
                    "inputs": enc(provider_inputs),
                    "outputs": enc(provider_inputs),
                    "created": now,
                    "modified": now,
                }
            )
        entries = sorted(self.state.values(), key=lambda e: e.seq)
        for entry, pending in [(e, False) for e in entries] + [(e, True) for e in self.pending_deletes]:
            doc: dict[str, Any] = {
                "urn": entry.urn,
                "custom": entry.custom,
                "type": entry.type,
                "inputs": enc(entry.inputs),
                "outputs": enc(entry.outputs),
                "parent": entry.parent or self.stack_urn,
                "created": now,
                "modified": now,
            }
            if entry.id is not None:
                doc["id"] = entry.id
            if entry.is_dynamic:
                doc["provider"] = provider_ref
            if entry.dependencies:
                doc["dependencies"] = list(entry.dependencies)
            if entry.additional_secret_outputs:
                doc["additionalSecretOutputs"] = list(entry.additional_secret_outputs)
            if entry.protect:
                doc["protect"] = True
            if entry.retain_on_delete:
                doc["retainOnDelete"] = True
            if entry.delete_before_replace:
                doc["deleteBeforeReplace"] = True
            if pending:
                doc["delete"] = True
            doc["harness:seq"] = entry.seq
            resources.append(doc)
        checkpoint = {
            "version": 3,
            "checkpoint": {
                "stack": f"{self.organization}/{self.project}/{self.stack}",
                "latest": {
                    "manifest": {"time": now, "magic": "", "version": "harness"},
                    "secrets_providers": {
                        "type": "passphrase",
                        "state": {"salt": "v1:" + base64.b64encode(self._crypter.salt).decode()},
                    },
                    "resources": resources,
                },
            },
        }
        return json.dumps(checkpoint, indent=2, sort_keys=False)

    def load_state_json(self, text: str) -> None:
        """Replace the in-memory checkpoint with one written by `state_json()` (same passphrase)."""
        doc = json.loads(text)
        latest = doc["checkpoint"]["latest"] or {}
        salt = latest["secrets_providers"]["state"]["salt"].split(":", 1)[1]
        self._crypter = _Crypter(self._passphrase, base64.b64decode(salt))
        dec = self._crypter.decode
        self.state, self.pending_deletes, self.stack_outputs = {}, [], {}
        for res in latest.get("resources") or []:
            if res["type"] == "pulumi:pulumi:Stack":
                self.stack_outputs = dec(res.get("outputs") or {})
                continue
            if res["type"].startswith("pulumi:providers:"):
                continue
            parent = res.get("parent")
            entry = StateEntry(
                urn=res["urn"],
                type=res["type"],
                name=res["urn"].split("::")[-1],
                custom=bool(res.get("custom")),
                id=res.get("id"),
                inputs=dec(res.get("inputs") or {}),
                outputs=dec(res.get("outputs") or {}),
                parent=None if parent == self.stack_urn else parent,
                dependencies=tuple(res.get("dependencies") or ()),
                additional_secret_outputs=tuple(res.get("additionalSecretOutputs") or ()),
                protect=bool(res.get("protect")),
                retain_on_delete=bool(res.get("retainOnDelete")),
                delete_before_replace=bool(res.get("deleteBeforeReplace")),
                seq=int(res.get("harness:seq", 0)),
            )
            if res.get("delete"):
                self.pending_deletes.append(entry)
            else:
                self.state[entry.urn] = entry
        self._seq = max([e.seq for e in self.state.values()] + [self._seq])

    # ----------------------------------------------------------------- internals

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def _default_provider_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:{PYTHON_DYNAMIC_PACKAGE}::default"

    def _config_props(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for key, value in self.config.items():
            secret = key in self.secret_config or isinstance(value, Secret)
            text = config_value_string(value.value if isinstance(value, Secret) else value)
            props[key] = Secret(text) if secret else text
        return props

    def _finish(self, result: RunResult, raise_on_error: bool) -> RunResult:
        self.history.append(result)
        if raise_on_error:
            result.raise_for_errors()
        return result

    def _run_program_op(self, kind: str, preview: bool) -> RunResult:
        run = _Run(self, kind, preview)
        try:
            if not preview and self.pending_deletes:
                run.delete_entries(list(self.pending_deletes), pending=True)
            if not run.result.errors:
                run.execute_program()
            if not run.result.errors:
                leftovers = [e for urn, e in run.state.items() if urn not in run.registered]
                condemned = list(run.condemned)
                if preview:
                    for entry in leftovers:
                        run.record("delete", entry)
                else:
                    run.delete_entries(condemned, pending=True, silent=True)
                    if not run.result.errors:
                        run.delete_entries(leftovers)
            elif not preview:
                self.pending_deletes.extend(run.condemned)
        finally:
            run.close()
        if not preview:
            self.state = run.state
            if not run.result.errors:
                self.stack_outputs = dict(run.result.raw_outputs)
        return run.result

    def _refresh(self) -> RunResult:
        run = _Run(self, "refresh", preview=False)
        try:
            entries = [e for e in self.state.values() if e.is_dynamic and e.id]
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                list(pool.map(run.refresh_entry, entries))
            for entry in self.state.values():
                if entry.urn not in run.result.steps:
                    run.record("same", entry)
        finally:
            run.close()
        self.state = run.state
        return run.result

    def _destroy(self) -> RunResult:
        run = _Run(self, "destroy", preview=False)
        try:
            if self.pending_deletes:
                run.delete_entries(list(self.pending_deletes), pending=True)
            if not run.result.errors:
                run.delete_entries(list(self.state.values()))
        finally:
            run.close()
        self.state = run.state
        if not self.state:
            self.stack_outputs = {}
        return run.result


# ------------------------------------------------------------------------------------ one run


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append((record.levelname.lower(), record.getMessage()))


class _NoMocks(Mocks):
    """Used only for invokes and reads, which the harness answers trivially."""

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        return args.resource_id, args.inputs


class _Monitor(MockMonitor):
    """The resource monitor: every RegisterResource becomes an engine step."""

    def __init__(self, run: _Run) -> None:
        super().__init__(_NoMocks())
        self.run = run

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Like the engine (unlike MockMonitor): the root stack adds nothing to a child's URN and
        # a component parent contributes its whole qualified type.
        if parent and parent != self.run.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{self.run.engine.stack}::{self.run.engine.project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.run.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        id_, outputs = self.run.register(urn, request)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_ or "", to_wire(outputs))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=to_struct(outputs))

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        if request.urn == self.run.stack_urn:
            self.run.result.raw_outputs = from_struct(request.outputs)
        return empty_pb2.Empty()


@contextmanager
def _patched_environ(extra: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _retrieve_failed_futures(loop: asyncio.AbstractEventLoop) -> None:
    """Mark the run's failed futures as retrieved (the run's errors already report them).

    Otherwise each logs "exception was never retrieved" from its finalizer whenever it is
    collected, e.g. inside a later `ast.parse`, where formatting the traceback re-enters the
    AST builder and trips CPython 3.11's "AST constructor recursion depth mismatch".
    """
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.get_loop() is loop and obj.done() and not obj.cancelled():
            obj.exception()


class _Run:
    """State of one engine operation."""

    def __init__(self, engine: Engine, kind: str, preview: bool) -> None:
        self.engine = engine
        self.preview = preview
        self.result = RunResult(kind=kind, preview=preview)
        self.state: dict[str, StateEntry] = dict(engine.state)
        self.registered: set[str] = set()
        self.condemned: list[StateEntry] = []
        self.stack_urn = engine.stack_urn
        self.lock = threading.RLock()
        self.failed = False
        self._server: ProviderServer | None = None
        self._server_lock = threading.Lock()
        self._started = time.monotonic()

    # ----------------------------------------------------------------- bookkeeping

    def server(self) -> ProviderServer:
        """The run's provider server, started and configured on first use."""
        with self._server_lock:
            if self._server is None:
                eng = self.engine
                server = ProviderServer(
                    env=eng.env,
                    pythonpath=eng.pythonpath,
                    cwd=eng.cwd,
                    project=eng.project,
                    stack=eng.stack,
                    call_timeout=eng.call_timeout,
                )
                try:
                    server.configure(eng._config_props())
                except BaseException:
                    server.close()
                    raise
                self._server = server
            return self._server

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.result.calls = self._server.calls
            self.result.provider_stderr = self._server.stderr_text()
            self.result.provider_peak_rss_mb = self._server.peak_rss_mb()
        self.result.duration = time.monotonic() - self._started

    def record(self, op: str, entry: StateEntry | None = None, *, urn: str = "", name: str = "") -> None:
        urn = entry.urn if entry is not None else urn
        name = entry.name if entry is not None else name
        lists = {
            "create": self.result.creates,
            "import": self.result.creates,
            "update": self.result.updates,
            "delete": self.result.deletes,
            "same": self.result.sames,
            "replace": self.result.replaces,
            "read": self.result.reads,
        }
        with self.lock:
            lists[op].append(name)
            self.result.steps[urn] = op

    def error(self, urn: str, type_: str, name: str, what: str) -> _StepError:
        message = f"{type_} resource '{name}' ({urn}): {what}"
        with self.lock:
            self.result.errors.append(message)
            self.failed = True
        return _StepError(message)

    # ----------------------------------------------------------------- the program

    def execute_program(self) -> None:
        eng = self.engine
        logs = self.result.logs
        logger = logging.Logger(f"harness.{eng.project}.{eng.stack}")
        logger.addHandler(_ListHandler(logs))
        program = eng.program
        if not callable(program):
            path = Path(program)
            if path.is_dir():
                path = path / "__main__.py"

            def program_fn() -> Any:
                return runpy.run_path(str(path), run_name="__main__")

        else:
            program_fn = program
        config = {k: strip_secrets(v) for k, v in eng._config_props().items()}
        secret_keys = [k for k, v in eng._config_props().items() if isinstance(v, Secret)]

        def run() -> None:
            pulumi_settings.ROOT.set(None)
            monitor = _Monitor(self)
            features = set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures)
            pulumi_settings.configure(
                MockSettings(
                    monitor=monitor,
                    monitor_features=features,
                    engine=MockEngine(logger),
                    project=eng.project,
                    stack=eng.stack,
                    organization=eng.organization,
                    root_directory=eng.cwd,
                    dry_run=self.preview,
                    parallel=eng.parallel,
                    legacy_apply_enabled=False,
                    callbacks=None,
                    outputs=set(),
                    lock=threading.Lock(),
                    package_refs={},
                    base_providers_by_ref={},
                )
            )
            pulumi_config.set_all_config(config, secret_keys)
            loop = asyncio.new_event_loop()
            executor = ThreadPoolExecutor(max_workers=eng.parallel * 4, thread_name_prefix="harness-rpc")
            loop.set_default_executor(executor)
            try:
                loop.run_until_complete(run_in_stack(program_fn))
            except _StepError:
                pass  # already recorded
            except BaseException as exc:  # noqa: BLE001 the program's failure is the result
                with self.lock:
                    self.failed = True
                    self.result.errors.append(
                        "program failed: " + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                    )
            finally:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                    with suppress(BaseException):
                        loop.run_until_complete(task)
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()
                pulumi_settings.SETTINGS.rpc_manager.clear()
                pulumi_settings.ROOT.set(None)
                _retrieve_failed_futures(loop)

        # Like the Python language host, don't log faulted futures nobody awaited.
        asyncio_logger = logging.getLogger("asyncio")
        saved_level = asyncio_logger.level
        asyncio_logger.setLevel(logging.CRITICAL)
        try:
            with _patched_environ(eng.env):
                contextvars.copy_context().run(run)
            gc.collect()
        finally:
            asyncio_logger.setLevel(saved_level)

    # ----------------------------------------------------------------- registration steps

    def register(self, urn: str, request: Any) -> tuple[str | None, dict[str, Any]]:
        inputs = from_struct(request.object)
        with self.lock:
            if urn in self.registered:
                raise self.error(urn, request.type, request.name, "duplicate resource URN")
            self.registered.add(urn)
            if self.failed:
                raise _StepError(f"{urn}: not registered, the deployment already failed")
            old = self.state.get(urn)
        template = StateEntry(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            id=None,
            inputs=inputs,
            outputs={},
            parent=request.parent or None,
            dependencies=tuple(request.dependencies),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
        )
        if not (template.is_dynamic and PROVIDER_KEY in inputs):
            return self._register_plain(template, old)
        try:
            return self._register_dynamic(template, old, request)
        except ProviderError as exc:
            raise self.error(urn, request.type, request.name, f"{exc.method} failed: {exc.details}") from None

    def _save(self, entry: StateEntry) -> StateEntry:
        entry = replace(entry, seq=self.engine._next_seq())
        with self.lock:
            self.state[entry.urn] = entry
        return entry

    def _register_plain(self, tpl: StateEntry, old: StateEntry | None) -> tuple[str | None, dict[str, Any]]:
        if tpl.custom:
            id_ = old.id if old is not None else f"{tpl.name}-id"
            outputs = mark_secret_keys(tpl.inputs, tpl.additional_secret_outputs)
        else:
            id_, outputs = None, {}
        entry = replace(tpl, id=id_, outputs=outputs)
        if not self.preview:
            self._save(entry)
        op = (
            "create"
            if old is None
            else ("same" if strip_secrets(old.inputs) == strip_secrets(tpl.inputs) else "update")
        )
        self.record(op, entry)
        if self.preview and old is None and tpl.custom:
            return None, outputs
        return id_, outputs

    def _register_dynamic(
        self, tpl: StateEntry, old: StateEntry | None, request: Any
    ) -> tuple[str | None, dict[str, Any]]:
        server = self.server()
        urn = tpl.urn
        news = dict(tpl.inputs)
        for key in request.ignoreChanges:
            if old is not None and key in old.inputs:
                news[key] = old.inputs[key]
            elif old is not None:
                news.pop(key, None)

        if request.importId and old is None:
            return self._import(tpl, request.importId, news)

        checked, failures = server.check(urn, old.inputs if old is not None else {}, news)
        if failures:
            with self.lock:
                self.result.failures.extend(StepFailure(urn, tpl.name, f.property, f.reason) for f in failures)
            text = "; ".join(f"{f.property}: {f.reason}" if f.property else f.reason for f in failures)
            raise self.error(urn, tpl.type, tpl.name, f"check failed: {text}")
        secret_keys = tpl.additional_secret_outputs

        if old is None:
            if self.preview:
                self.record("create", tpl)
                return None, mark_secret_keys(checked, secret_keys)
            id_, outs = server.create(urn, checked)
            entry = self._save(replace(tpl, id=id_, inputs=checked, outputs=mark_secret_keys(outs, secret_keys)))
            self.record("create", entry)
            return id_, entry.outputs

        diff = server.diff(urn, old.id or "", old.outputs, checked, old_inputs=old.inputs)
        changed_keys = {
            k
            for k in set(old.inputs) | set(checked)
            if strip_secrets(old.inputs.get(k)) != strip_secrets(checked.get(k))
        }
        changes = diff.changes if diff.changes is not None else bool(changed_keys)
        replace_on = set(request.replaceOnChanges)
        replaces = list(diff.replaces) + sorted(k for k in changed_keys if k in replace_on or "*" in replace_on)

        if not changes:
            entry = replace(tpl, id=old.id, inputs=checked, outputs=old.outputs)
            if not self.preview:
                self._save(entry)
            self.record("same", entry)
            return old.id, old.outputs

        if replaces:
            if old.protect:
                raise self.error(urn, tpl.type, tpl.name, "cannot be replaced because it is protected")
            if self.preview:
                self.record("replace", tpl)
                return None, mark_secret_keys(checked, secret_keys)
            if diff.delete_before_replace or tpl.delete_before_replace:
                if not old.retain_on_delete:
                    server.delete(urn, old.id or "", old.outputs, old_inputs=old.inputs)
                with self.lock:
                    self.state.pop(urn, None)
                id_, outs = server.create(urn, checked)
            else:
                id_, outs = server.create(urn, checked)
                with self.lock:
                    self.condemned.append(old)
            entry = self._save(replace(tpl, id=id_, inputs=checked, outputs=mark_secret_keys(outs, secret_keys)))
            self.record("replace", entry)
            return id_, entry.outputs

        if self.preview:
            self.record("update", tpl)
            return old.id, mark_secret_keys(checked, secret_keys)
        outs = server.update(urn, old.id or "", old.outputs, checked, old_inputs=old.inputs)
        entry = self._save(replace(tpl, id=old.id, inputs=checked, outputs=mark_secret_keys(outs, secret_keys)))
        self.record("update", entry)
        return old.id, entry.outputs

    def _import(self, tpl: StateEntry, import_id: str, news: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        server = self.server()
        id_, outs, read_inputs = server.read(tpl.urn, import_id, {}, {})
        if not id_:
            raise self.error(tpl.urn, tpl.type, tpl.name, f"import: resource '{import_id}' does not exist")
        checked, failures = server.check(tpl.urn, read_inputs or {}, news)
        if failures:
            raise self.error(tpl.urn, tpl.type, tpl.name, f"import check failed: {failures}")
        entry = replace(tpl, id=id_, inputs=checked, outputs=mark_secret_keys(outs, tpl.additional_secret_outputs))
        if not self.preview:
            entry = self._save(entry)
        self.record("import", entry)
        return id_, entry.outputs

    # ----------------------------------------------------------------- refresh and delete

    def refresh_entry(self, entry: StateEntry) -> None:
        try:
            id_, outs, inputs = self.server().read(entry.urn, entry.id or "", entry.outputs, entry.inputs)
        except ProviderError as exc:
            self.error(entry.urn, entry.type, entry.name, f"Read failed: {exc.details}")
            return
        if not id_:
            with self.lock:
                self.state.pop(entry.urn, None)
            self.record("delete", entry)
            return
        outs = mark_secret_keys(outs, entry.additional_secret_outputs)
        new_inputs = inputs if inputs is not None else entry.inputs
        new = replace(entry, id=id_, outputs=outs, inputs=new_inputs)
        with self.lock:
            self.state[entry.urn] = new
        changed = (
            id_ != entry.id
            or strip_secrets(outs) != strip_secrets(entry.outputs)
            or strip_secrets(new_inputs) != strip_secrets(entry.inputs)
        )
        self.record("update" if changed else "same", new)

    def _delete_one(self, entry: StateEntry, pending: bool) -> bool:
        if entry.protect and not pending:
            self.error(entry.urn, entry.type, entry.name, "cannot be deleted because it is protected")
            return False
        if entry.is_dynamic and not entry.retain_on_delete and entry.id:
            try:
                self.server().delete(entry.urn, entry.id, entry.outputs, old_inputs=entry.inputs)
            except ProviderError as exc:
                self.error(entry.urn, entry.type, entry.name, f"Delete failed: {exc.details}")
                return False
        return True

    def delete_entries(self, entries: list[StateEntry], *, pending: bool = False, silent: bool = False) -> None:
        """Delete entries dependents-first, each wave in parallel; stop after a failing wave."""
        remaining = list(entries)
        while remaining:
            needed = set()
            for e in remaining:
                needed.update(e.dependencies)
                if e.parent:
                    needed.add(e.parent)
            wave = [e for e in remaining if e.urn not in needed] or remaining[:1]
            wave_ids = {id(e) for e in wave}
            remaining = [e for e in remaining if id(e) not in wave_ids]
            with ThreadPoolExecutor(max_workers=self.engine.parallel) as pool:
                done = list(pool.map(lambda e: (e, self._delete_one(e, pending)), wave))
            for entry, ok in done:
                if not ok:
                    continue
                if pending:
                    with self.lock:
                        if entry in self.engine.pending_deletes:
                            self.engine.pending_deletes.remove(entry)
                else:
                    with self.lock:
                        if self.state.get(entry.urn) is entry:
                            del self.state[entry.urn]
                if not silent:
                    self.record("delete", entry)
            if self.result.errors:
                if pending:
                    for entry in remaining + [e for e, ok in done if not ok]:
                        if entry not in self.engine.pending_deletes:
                            self.engine.pending_deletes.append(entry)
                return
