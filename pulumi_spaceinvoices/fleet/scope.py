"""Which stacks a `preview` or `up` must run: what a stack must declare against what its state holds
(pure functions on exported states; no Pulumi here).

A stack is skipped (`unchanged`) only when all of these hold, each read from its checkpoint:
- the stack's outputs record the fingerprint of this run's input (`fleetInputHash`: a SHA-256 of the
  stack's declared input, the package and Pulumi SDK versions, and for the connect stack an HMAC of
  the Stripe secret key) and this version (`fleetVersion`): the last finished `up` declared exactly
  this, with this code. The program writes them as its last act, so an interrupted `up` leaves the
  old ones (or none);
- the checkpoint has no pending operations and no resource awaiting deletion (an interrupted `up`);
- the resources are exactly the declared ones with the declared inputs *and* outputs (a shard's
  accounts: organization id and `active`; the connect stack's config: its non-secret settings),
  since `pulumi state delete`, `pulumi import` and `refresh` change resources but not the outputs.
Anything else, including a state that cannot be read, runs the stack. The rule mirrors what the
engine would do: a stack it skips is one whose `up` would make no step and no API call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_TYPE = ":OrganizationConnectAccount"
CONFIG_TYPE = ":StripeConnectConfig"
HASH_OUTPUT = "fleetInputHash"
VERSION_OUTPUT = "fleetVersion"
CONNECT_FIELDS = {"publicKey": "public_key", "applicationFee": "application_fee", "returnUrl": "return_url",
                  "refreshUrl": "refresh_url"}
_SECRET_CONTEXT = b"spaceinvoices-fleet connect-stack fingerprint"


def version() -> str:
    """The code that made a state: this package and the Pulumi SDK (its default provider's version)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from .._version import __version__

    try:
        sdk = dist_version("pulumi")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        sdk = "unknown"
    return f"pulumi-spaceinvoices {__version__}, pulumi {sdk}"


def fingerprint(spec: dict[str, Any], secret: str | None = None, *, made_by: str | None = None) -> str:
    """The SHA-256 of what a stack declares. The Stripe secret key enters as an HMAC keyed by the key
    itself: a one-way digest of a random key, so the plain output reveals nothing of it, yet a
    rotated key changes the fingerprint (and so runs the connect stack)."""
    if spec.get("role") == "shard":
        canonical: dict[str, Any] = {"role": "shard", "organizations": sorted(
            [o["id"], bool(o["active"])] for o in spec["organizations"])}
    else:
        canonical = {"role": spec.get("role"), "shards": spec.get("shards"), "connect": spec.get("connect")}
    if secret is not None:
        canonical["secret"] = hmac.new(secret.encode("utf-8"), _SECRET_CONTEXT, hashlib.sha256).hexdigest()
    canonical["version"] = made_by or version()
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class StackState:
    """What one stack's checkpoint holds, as far as the fleet needs it."""

    exists: bool = True
    accounts: dict[str, str] = field(default_factory=dict)  # org id -> URN
    active: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # org id -> (input, output) `active`
    charges_enabled: dict[str, bool] = field(default_factory=dict)  # org id -> from the outputs
    configs: list[dict[str, Any]] = field(default_factory=list)  # StripeConnectConfig inputs (non-secret)
    outputs: dict[str, Any] = field(default_factory=dict)  # the stack's outputs
    pending_operations: int = 0
    awaiting_delete: int = 0
    others: int = 0  # resources the fleet never declares


def parse_state(deployment: dict[str, Any] | None) -> StackState:
    """A StackState from `pulumi stack export`'s deployment (None: the stack does not exist)."""
    if deployment is None:
        return StackState(exists=False)
    state = StackState(pending_operations=len(deployment.get("pending_operations") or []))
    for r in deployment.get("resources") or []:
        kind = r.get("type", "")
        if r.get("delete") or r.get("pendingReplacement"):
            state.awaiting_delete += 1
            continue
        inputs, outputs = r.get("inputs") or {}, r.get("outputs") or {}
        if kind == "pulumi:pulumi:Stack":
            state.outputs = outputs
        elif kind.startswith("pulumi:providers:"):
            continue
        elif kind.endswith(ACCOUNT_TYPE) and r.get("id"):
            org = str(outputs.get("organization_id") or r["id"]).lower()
            state.accounts[org] = r["urn"]
            state.active[org] = (inputs.get("active"), outputs.get("active"))
            state.charges_enabled[org] = outputs.get("charges_enabled") is True
        elif kind.endswith(CONFIG_TYPE):
            state.configs.append({k: inputs.get(k) for k in CONNECT_FIELDS.values()})
        else:
            state.others += 1
    return state


def _count(label: str, items: list[str]) -> list[str]:
    return [f"{label} {len(items)}"] if items else []


def _recorded(state: StackState, expected_hash: str, made_by: str) -> list[str]:
    """The checks every stack shares: it exists, finished, and was made from this input by this code."""
    if not state.exists:
        return ["new stack"]
    reasons = []
    if state.pending_operations:
        reasons.append(f"pending operations {state.pending_operations} (an interrupted run)")
    if state.awaiting_delete:
        reasons.append(f"resources awaiting deletion {state.awaiting_delete}")
    recorded_version = state.outputs.get(VERSION_OUTPUT)
    if recorded_version is None or state.outputs.get(HASH_OUTPUT) is None:
        reasons.append("no input fingerprint in the state")
    elif recorded_version != made_by:
        reasons.append(f"made by {recorded_version}, now {made_by}")
    if state.others:
        reasons.append(f"undeclared resources {state.others}")
    return reasons


def shard_reasons(spec: dict[str, Any], state: StackState, *, made_by: str | None = None) -> list[str]:
    """Why a shard must run ([] = it is unchanged and may be skipped)."""
    made_by = made_by or version()
    expected = fingerprint(spec, made_by=made_by)
    reasons = _recorded(state, expected, made_by)
    if not state.exists:
        return reasons
    declared = {o["id"]: bool(o["active"]) for o in spec["organizations"]}
    missing = [o for o in declared if o not in state.accounts]
    hash_matches = state.outputs.get(HASH_OUTPUT) == expected
    # The same input as the last finished up, yet an account is gone: the state was edited by hand.
    reasons += _count("missing from the state" if hash_matches else "added", missing)
    reasons += _count("removed", [o for o in state.accounts if o not in declared])
    changed = [o for o in declared if o in state.active and state.active[o] != (declared[o], declared[o])]
    reasons += _count("activated", [o for o in changed if declared[o]])
    reasons += _count("deactivated", [o for o in changed if not declared[o]])
    if not reasons and not hash_matches:
        reasons.append("state older than input")
    return reasons


def connect_reasons(spec: dict[str, Any], state: StackState, secret: str | None, *,
                    made_by: str | None = None) -> list[str]:
    """Why the connect stack must run ([] = unchanged). Compared: the settings in the fingerprint
    (publicKey, applicationFee, returnUrl, refreshUrl, the secret key's HMAC, the shard count) and
    the config resource's non-secret inputs; the secret key itself stays encrypted in the state."""
    made_by = made_by or version()
    if secret is None:
        return ["no Stripe secret key to compare"]
    expected = fingerprint(spec, secret, made_by=made_by)
    reasons = _recorded(state, expected, made_by)
    if not state.exists:
        return reasons
    declared = {CONNECT_FIELDS[k]: spec["connect"].get(k) for k in CONNECT_FIELDS}
    if len(state.configs) != 1:
        reasons.append(f"Connect configs in the state: {len(state.configs)}, declared 1")
    elif {k: v for k, v in state.configs[0].items()} != {
            k: (float(v or 0.0) if k == "application_fee" else v) for k, v in declared.items()}:
        reasons.append("Connect settings changed")
    if not reasons and state.outputs.get(HASH_OUTPUT) != expected:
        reasons.append("settings changed")
    return reasons
