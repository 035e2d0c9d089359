"""Run the SDK's real dynamic-provider server (`python -m pulumi.dynamic`) and talk to it over gRPC.

`ProviderServer` plays the engine's provider-plugin layer: it sends `Configure` the way the engine
does for `pulumi-python` (the whole stack config, namespaced keys, string values, secret keys as
secrets), honours the `acceptSecrets: false` answer by stripping secrets from requests and copying
secret-ness from inputs onto the returned properties, and never sends a preview Create/Update to a
provider that does not support previews (the engine hands back the inputs instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from .values import Secret, annotate_secrets, from_struct, strip_secrets, to_struct

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The project root; on the provider's PYTHONPATH so `tests.harness.*` and the package import."""

PYTHON_DYNAMIC_PACKAGE = "pulumi-python"


class ProviderError(Exception):
    """A gRPC call to the provider failed; `details` is what the server sent (a traceback)."""

    def __init__(self, method: str, urn: str, code: grpc.StatusCode | None, details: str) -> None:
        self.method = method
        self.urn = urn
        self.code = code
        self.details = details
        super().__init__(details)

    @property
    def summary(self) -> str:
        """The last non-empty line of the details (usually `ExceptionType: message`)."""
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


@dataclass(frozen=True)
class CheckFailure:
    """One property rejected by the provider's `check`."""

    property: str
    reason: str


@dataclass(frozen=True)
class DiffResult:
    """The provider's answer to Diff, in engine terms."""

    changes: bool | None
    replaces: list[str] = field(default_factory=list)
    stables: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    diffs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProviderCall:
    """One RPC sent to the provider."""

    method: str
    urn: str
    started: float
    duration: float
    ok: bool


def config_value_string(value: Any) -> str:
    """A stack config value as the engine holds it: strings as-is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class ProviderServer:
    """The `pulumi.dynamic` server as a subprocess, driven like the engine drives it.

    Values in and out are engine values: plain JSON-like data with `Secret(...)` and `UNKNOWN`.
    Thread-safe: calls may be made from many threads at once (the server runs 4 workers).
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        pythonpath: Sequence[str | os.PathLike[str]] = (),
        cwd: str | os.PathLike[str] | None = None,
        project: str = "project",
        stack: str = "stack",
        python: str = sys.executable,
        startup_timeout: float = 30.0,
        call_timeout: float | None = 300.0,
    ) -> None:
        self.project = project
        self.stack = stack
        self.call_timeout = call_timeout
        self.accept_secrets = False
        self.supports_preview = False
        self.provider_urn = f"urn:pulumi:{stack}::{project}::pulumi:providers:{PYTHON_DYNAMIC_PACKAGE}::default"
        self.provider_id = str(uuid.uuid4())
        self._calls: list[ProviderCall] = []
        self._calls_lock = threading.Lock()
        self._closed = False
        self._peak_rss_mb: float | None = None
        self._stdout_chunks: list[bytes] = []

        paths = [str(p) for p in pythonpath] + [str(REPO_ROOT)]
        child_env = dict(os.environ)
        if child_env.get("PYTHONPATH"):
            paths.append(child_env["PYTHONPATH"])
        child_env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        child_env["PULUMI_PROJECT"] = project
        child_env["PULUMI_STACK"] = stack
        child_env.update(env or {})

        self._stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self._proc = subprocess.Popen(
            [python, "-u", "-m", "pulumi.dynamic"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            env=child_env,
            cwd=str(cwd) if cwd is not None else str(REPO_ROOT),
        )
        self.pid = self._proc.pid
        port_line: list[bytes] = []
        got_port = threading.Event()
        self._reader = threading.Thread(
            target=self._drain_stdout, args=(port_line, got_port), name=f"provider-stdout-{self.pid}"
        )
        self._reader.start()
        try:
            if not got_port.wait(startup_timeout) or not port_line or not port_line[0].strip():
                raise RuntimeError(
                    f"provider server did not print its port within {startup_timeout}s:\n{self.stderr_text()}"
                )
            self.port = int(port_line[0].strip())
            self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=_GRPC_CHANNEL_OPTIONS)
            grpc.channel_ready_future(self._channel).result(timeout=startup_timeout)
            self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------------------- lifecycle

    def _drain_stdout(self, port_line: list[bytes], got_port: threading.Event) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        try:
            port_line.append(stdout.readline())
        finally:
            got_port.set()
        # Keep draining so a provider that prints cannot block on a full pipe.
        for chunk in iter(lambda: stdout.read1(65536), b""):
            self._stdout_chunks.append(chunk)

    def __enter__(self) -> ProviderServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once `close()` ran."""
        return self._closed

    def close(self) -> None:
        """Stop the server process, reap it and join the reader thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._peak_rss_mb = self._read_peak_rss()
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    @property
    def returncode(self) -> int | None:
        """The process exit code, None while running."""
        return self._proc.poll()

    def _read_peak_rss(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        except (OSError, ValueError, IndexError):
            return None
        return None

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server process (VmHWM), in MiB; kept after `close()`."""
        if self._closed:
            return self._peak_rss_mb or 0.0
        return self._read_peak_rss() or 0.0

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far."""
        try:
            self._stderr_file.flush()
            fd = self._stderr_file.fileno()
            return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stdout_text(self) -> str:
        """What the server printed to stdout after its port line."""
        return b"".join(self._stdout_chunks).decode("utf-8", "replace")

    # ----------------------------------------------------------------------------- calls

    @property
    def calls(self) -> list[ProviderCall]:
        """A copy of the RPCs sent so far, in the order they started."""
        with self._calls_lock:
            return sorted(self._calls, key=lambda c: c.started)

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._calls_lock:
            self._calls.clear()

    def _call(self, method: str, urn: str, request: Any) -> Any:
        if self._closed:
            raise RuntimeError("provider server is closed")
        started = time.monotonic()
        ok = False
        try:
            response = getattr(self._stub, method)(request, timeout=self.call_timeout)
            ok = True
            return response
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise ProviderError(method, urn, code, details or str(code)) from None
        finally:
            call = ProviderCall(method, urn, started, time.monotonic() - started, ok)
            with self._calls_lock:
                self._calls.append(call)

    def _outgoing(self, props: Mapping[str, Any] | None) -> Any:
        props = dict(props or {})
        return to_struct(props if self.accept_secrets else strip_secrets(props))

    def _incoming(self, struct: Any, secret_source: Mapping[str, Any] | None) -> dict[str, Any]:
        props = from_struct(struct)
        if not self.accept_secrets and secret_source:
            props = annotate_secrets(props, secret_source)
        return props

    @staticmethod
    def _name_type(urn: str) -> dict[str, str]:
        parts = urn.split("::")
        if len(parts) < 4:
            return {}
        return {"name": parts[-1], "type": parts[2].split("$")[-1]}

    def get_plugin_info(self) -> str:
        """The server's reported version (a cheap liveness probe)."""
        return self._call("GetPluginInfo", "", empty_pb2.Empty()).version

    def configure(self, config: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> None:
        """Send Configure as the engine does for `pulumi-python`: all keys, namespaced, as strings."""
        secret_keys = set(secret_keys)
        args: dict[str, Any] = {}
        variables: dict[str, str] = {}
        for key, value in config.items():
            raw = value.value if isinstance(value, Secret) else value
            text = config_value_string(raw)
            variables[key] = text
            args[key] = Secret(text) if key in secret_keys or isinstance(value, Secret) else text
        request = provider_pb2.ConfigureRequest(
            variables=variables,
            args=to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
            id=self.provider_id,
            urn=self.provider_urn,
            name="default",
            type=f"pulumi:providers:{PYTHON_DYNAMIC_PACKAGE}",
        )
        response = self._call("Configure", self.provider_urn, request)
        self.accept_secrets = bool(response.acceptSecrets)
        self.supports_preview = bool(response.supportsPreview)

    def check(
        self, urn: str, olds: Mapping[str, Any] | None, news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[CheckFailure]]:
        """Check: olds are the prior *inputs*, news the registered inputs."""
        request = provider_pb2.CheckRequest(
            urn=urn, olds=self._outgoing(olds), news=self._outgoing(news), **self._name_type(urn)
        )
        response = self._call("Check", urn, request)
        inputs = self._incoming(response.inputs, news)
        failures = [CheckFailure(f.property, f.reason) for f in response.failures]
        return inputs, failures

    def diff(
        self,
        urn: str,
        id: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Sequence[str] = (),
    ) -> DiffResult:
        """Diff: olds are the prior *outputs*, news the checked inputs."""
        request = provider_pb2.DiffRequest(
            id=id,
            urn=urn,
            olds=self._outgoing(olds),
            news=self._outgoing(news),
            old_inputs=self._outgoing(old_inputs),
            ignoreChanges=list(ignore_changes),
            **self._name_type(urn),
        )
        response = self._call("Diff", urn, request)
        changes: bool | None
        if response.changes == provider_pb2.DiffResponse.DIFF_SOME:
            changes = True
        elif response.changes == provider_pb2.DiffResponse.DIFF_NONE:
            changes = False
        else:
            changes = None
        return DiffResult(
            changes=changes,
            replaces=list(response.replaces),
            stables=list(response.stables),
            delete_before_replace=bool(response.deleteBeforeReplace),
            diffs=list(response.diffs),
        )

    def create(
        self, urn: str, props: Mapping[str, Any], preview: bool = False, *, timeout: float = 0.0
    ) -> tuple[str, dict[str, Any]]:
        """Create; in preview (provider without preview support) returns ("", props) unsent."""
        if preview and not self.supports_preview:
            return "", dict(props)
        request = provider_pb2.CreateRequest(
            urn=urn,
            properties=self._outgoing(props),
            timeout=timeout,
            preview=preview,
            **self._name_type(urn),
        )
        response = self._call("Create", urn, request)
        return response.id, self._incoming(response.properties, props)

    def read(
        self,
        urn: str,
        id: str,
        props: Mapping[str, Any] | None,
        inputs: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Read (refresh): props are the prior outputs; returns (id, outputs, inputs or None)."""
        request = provider_pb2.ReadRequest(
            id=id,
            urn=urn,
            properties=self._outgoing(props),
            inputs=self._outgoing(inputs),
            **self._name_type(urn),
        )
        response = self._call("Read", urn, request)
        outs = self._incoming(response.properties, props)
        new_inputs = None
        if response.HasField("inputs"):
            new_inputs = self._incoming(response.inputs, inputs)
        return response.id, outs, new_inputs

    def update(
        self,
        urn: str,
        id: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        preview: bool = False,
        *,
        old_inputs: Mapping[str, Any] | None = None,
        ignore_changes: Sequence[str] = (),
        timeout: float = 0.0,
    ) -> dict[str, Any]:
        """Update: olds are the prior outputs; in preview returns news unsent."""
        if preview and not self.supports_preview:
            return dict(news)
        request = provider_pb2.UpdateRequest(
            id=id,
            urn=urn,
            olds=self._outgoing(olds),
            news=self._outgoing(news),
            old_inputs=self._outgoing(old_inputs),
            ignoreChanges=list(ignore_changes),
            timeout=timeout,
            preview=preview,
            **self._name_type(urn),
        )
        response = self._call("Update", urn, request)
        return self._incoming(response.properties, news)

    def delete(
        self,
        urn: str,
        id: str,
        props: Mapping[str, Any],
        *,
        old_inputs: Mapping[str, Any] | None = None,
        timeout: float = 0.0,
    ) -> None:
        """Delete: props are the prior outputs."""
        request = provider_pb2.DeleteRequest(
            id=id,
            urn=urn,
            properties=self._outgoing(props),
            old_inputs=self._outgoing(old_inputs),
            timeout=timeout,
            **self._name_type(urn),
        )
        self._call("Delete", urn, request)
