"""Engine-side property values: secrets, unknowns and their gRPC wire form.

The engine sees property values as plain JSON-like Python values in which a secret is a
`Secret(value)` and a value not known during preview is `UNKNOWN`. This module converts those
to and from `google.protobuf.Struct` exactly as the Pulumi engine does (numbers become floats,
secrets travel as `{"4dabf1...": "1b4706...", "value": ...}`, unknowns as the SDK's
`rpc.UNKNOWN` string) and implements the engine's secret bookkeeping around providers that do
not accept secrets (`strip_secrets`, `annotate_secrets`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
UNKNOWN_WIRE: str = rpc.UNKNOWN


class _Unknown:
    """Singleton marking a value not known yet (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""A value that is unknown during preview (sent to providers as `rpc.UNKNOWN`)."""


@dataclass(frozen=True)
class Secret:
    """A secret property value. `repr` never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "Secret(***)"


def to_wire(value: Any) -> Any:
    """Engine value -> JSON-like value with the SDK's secret/unknown encodings."""
    if isinstance(value, Secret):
        return {SIG_KEY: SECRET_SIG, "value": to_wire(value.value)}
    if value is UNKNOWN:
        return UNKNOWN_WIRE
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any) -> Any:
    """JSON-like value with SDK encodings -> engine value (`Secret`, `UNKNOWN`)."""
    if isinstance(value, str):
        return UNKNOWN if value == UNKNOWN_WIRE else value
    if isinstance(value, Mapping):
        if value.get(SIG_KEY) == SECRET_SIG:
            return Secret(from_wire(value.get("value")))
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_wire(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """Engine property map -> protobuf Struct (ints become floats, as on the real wire)."""
    struct = struct_pb2.Struct()
    if props:
        struct.update(to_wire({k: v for k, v in props.items() if v is not None}))
    return struct


def _pb_to_py(value: Any) -> Any:
    if isinstance(value, struct_pb2.Struct):
        return {k: _pb_to_py(v) for k, v in value.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [_pb_to_py(v) for v in value]
    return value


def from_struct(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """Protobuf Struct -> engine property map (keeps secrets and unknowns)."""
    if struct is None:
        return {}
    return from_wire(_pb_to_py(struct))


def is_secret(value: Any) -> bool:
    """True if the value itself is a `Secret`."""
    return isinstance(value, Secret)


def contains_secrets(value: Any) -> bool:
    """True if the value is or contains a `Secret`."""
    if isinstance(value, Secret):
        return True
    if isinstance(value, Mapping):
        return any(contains_secrets(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_secrets(v) for v in value)
    return False


def contains_unknowns(value: Any) -> bool:
    """True if the value is or contains `UNKNOWN`."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Secret):
        return contains_unknowns(value.value)
    if isinstance(value, Mapping):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknowns(v) for v in value)
    return False


def strip_secrets(value: Any) -> Any:
    """Remove every `Secret` wrapper (what the engine sends to a provider without acceptSecrets)."""
    if isinstance(value, Secret):
        return strip_secrets(value.value)
    if isinstance(value, Mapping):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strip_secrets(v) for v in value]
    return value


plain = strip_secrets
"""Alias: the plain value with all secret markers removed."""


def annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> dict[str, Any]:
    """Copy secret-ness from `ins` onto `outs` under the same keys (the engine's annotateSecrets).

    Objects present on both sides are handled recursively; otherwise an output whose input
    counterpart contains a secret becomes a secret as a whole.
    """
    result = dict(outs)
    for key, in_value in ins.items():
        if key not in result:
            continue
        out_value = result[key]
        if isinstance(out_value, dict) and isinstance(in_value, Mapping):
            result[key] = annotate_secrets(out_value, in_value)
        elif not isinstance(out_value, Secret) and contains_secrets(in_value):
            result[key] = Secret(out_value)
    return result


def mark_secret_keys(props: dict[str, Any], keys: Any) -> dict[str, Any]:
    """Wrap the top-level `keys` of `props` as secrets (additionalSecretOutputs)."""
    result = dict(props)
    for key in keys:
        if key in result and not isinstance(result[key], Secret):
            result[key] = Secret(result[key])
    return result
