"""Toy dynamic providers that exercise the harness without a real API.

`ItemProvider` keeps objects in a JSON file (the "cloud"), whose path comes from stack config
`toy:storePath` (read in `configure`, like a real endpoint setting) or env `TOY_STORE`. Every call,
including `configure`, is appended to the JSON-lines file named by env `TOY_CALL_LOG`, so tests can
count calls and see what configuration reached the provider process. `EchoProvider` keeps the SDK
defaults for `check` and `diff` (so the engine computes the diff itself).

The provider classes hold no attributes when pickled (configure runs in the provider process).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

INPUT_KEYS = ("key", "value", "secret", "fail_on", "delay")
_FILE_LOCK = threading.Lock()


def fingerprint(text: str | None) -> str | None:
    """A short non-reversible tag of a secret, safe to log."""
    if text is None:
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def log_call(method: str, **fields: Any) -> None:
    """Append one call record to `$TOY_CALL_LOG` (if set)."""
    path = os.environ.get("TOY_CALL_LOG")
    if not path:
        return
    record = {"method": method, "pid": os.getpid(), "time": time.time(), **fields}
    with _FILE_LOCK, open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def read_call_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records written by `log_call`."""
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


class JsonStore:
    """A JSON file of objects keyed by id; safe for the provider's threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text(encoding="utf-8") or "{}")

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    def get(self, key: str) -> dict[str, Any] | None:
        with _FILE_LOCK:
            return self.load().get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        with _FILE_LOCK:
            data = self.load()
            data[key] = record
            self.save(data)

    def pop(self, key: str) -> dict[str, Any] | None:
        with _FILE_LOCK:
            data = self.load()
            record = data.pop(key, None)
            self.save(data)
            return record


class ItemProvider(ResourceProvider):
    """CRUD over `JsonStore`; id = `key`, so changing `key` replaces."""

    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        self._store_path = req.config.get("toy:storePath") or os.environ.get("TOY_STORE", "")
        self._label = req.config.get("toy:label")
        log_call(
            "configure",
            label=self._label,
            token_fp=fingerprint(req.config.get("toy:token")),
            store=self._store_path,
        )

    def _store(self) -> JsonStore:
        path = getattr(self, "_store_path", "") or os.environ.get("TOY_STORE", "")
        if not path:
            raise RuntimeError("no store configured: set toy:storePath or TOY_STORE")
        return JsonStore(path)

    @staticmethod
    def _maybe_fail(props: dict[str, Any], method: str) -> None:
        if props.get("fail_on") == method:
            raise RuntimeError(f"toy {method} failed for key {props.get('key')!r}")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        log_call("check", key=news.get("key") if isinstance(news.get("key"), str) else None)
        failures = []
        key = news.get("key")
        if not isinstance(key, str) and type(key).__name__ != "Unknown":
            failures.append(CheckFailure("key", "key must be a string"))
        elif isinstance(key, str) and not key:
            failures.append(CheckFailure("key", "key must not be empty"))
        return CheckResult(news, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        log_call("diff", id=id_)
        changed = [k for k in INPUT_KEYS if olds.get(k) != news.get(k)]
        replaces = ["key"] if "key" in changed else []
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def _outputs(self, props: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        outs = {k: props.get(k) for k in INPUT_KEYS if k in props}
        outs.update(
            value=record["value"],
            revision=record["revision"],
            token=f"derived-{record['key']}-token",
            created_with=record.get("created_with"),
        )
        if "__provider" in props:
            outs["__provider"] = props["__provider"]
        return outs

    def create(self, props: dict[str, Any]) -> CreateResult:
        log_call("create", key=props.get("key"))
        self._maybe_fail(props, "create")
        if props.get("delay"):
            time.sleep(float(props["delay"]))
        record = {
            "key": props["key"],
            "value": props.get("value"),
            "secret": props.get("secret"),
            "revision": 1,
            "created_with": getattr(self, "_label", None),
        }
        self._store().put(props["key"], record)
        return CreateResult(props["key"], self._outputs(props, record))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        log_call("read", id=id_)
        record = self._store().get(id_)
        if record is None:
            return ReadResult(None, {})
        outs = self._outputs(props, record)
        inputs = {k: outs[k] for k in INPUT_KEYS if k in outs and outs[k] is not None}
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        log_call("update", id=id_)
        self._maybe_fail(news, "update")
        store = self._store()
        record = store.get(id_) or {"key": id_, "revision": 0}
        record.update(value=news.get("value"), secret=news.get("secret"))
        record["revision"] = int(record.get("revision", 0)) + 1
        store.put(id_, record)
        return UpdateResult(self._outputs(news, record))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        log_call("delete", id=id_)
        self._maybe_fail(props, "delete")
        self._store().pop(id_)


class Item(Resource, module="toy", name="Item"):
    """A toy object: `key` (replaces), `value` (updates), `secret` (kept secret)."""

    key: pulumi.Output[str]
    value: pulumi.Output[Any]
    secret: pulumi.Output[str | None]
    revision: pulumi.Output[float]
    token: pulumi.Output[str]
    created_with: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        key: pulumi.Input[str],
        value: pulumi.Input[Any] = None,
        *,
        secret: pulumi.Input[str] | None = None,
        fail_on: str | None = None,
        delay: float | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "key": key,
            "value": value,
            "secret": secret,
            "fail_on": fail_on,
            "delay": delay,
            "revision": None,
            "token": None,
            "created_with": None,
        }
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(additional_secret_outputs=["token"]), opts)
        super().__init__(ItemProvider(), resource_name, props, opts)


class EchoProvider(ResourceProvider):
    """Outputs = inputs plus a random `uid`; SDK-default check and diff."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        log_call("echo.create")
        return CreateResult(uuid.uuid4().hex, {**props, "uid": uuid.uuid4().hex})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        log_call("echo.update", id=id_)
        return UpdateResult({**news, "uid": olds.get("uid")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        log_call("echo.delete", id=id_)


class Echo(Resource, module="toy", name="Echo"):
    """Echoes its inputs; `uid` is computed."""

    uid: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(EchoProvider(), resource_name, {**props, "uid": None}, opts)
