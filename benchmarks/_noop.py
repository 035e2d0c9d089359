"""The engine's floor for the `cli` section: the multi-org program run with providers that do nothing.

`install()` puts a stand-in `pulumi_spaceinvoices` module (these classes) into `sys.modules`, so the
shipped multi-org program, run unchanged, registers the same resources with the same inputs,
dependencies and exports, but every Check, Diff, Create, Read, Update and Delete answers at once
without any HTTP. Create returns outputs of the same keys and sizes as the real ones, so the
checkpoint (and so the file backend's cost) is the same size. The providers live in this
importable module because dill pickles a provider class by reference: the provider process
imports `benchmarks._noop` (PYTHONPATH holds the repository) to run them.
"""

from __future__ import annotations

import hashlib
import sys
import types
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

# The program side of the real resources, kept: the floor is the same program shape, providers apart.
from pulumi_spaceinvoices.core import let_registrations_start

ACCOUNT_INPUTS = ("organization_id", "active")
ACCOUNT_OUTPUTS = ("connect_account_id", "stripe_account_id", "stripe_connect_id", "charges_enabled", "created_at",
                   "updated_at")
CONNECT_INPUTS = ("private_key", "public_key", "application_fee", "refresh_url", "return_url",
                  "connect_webhook_secret", "active", "custom")
CONNECT_OUTPUTS = ("account_id", "space_invoices_fee", "webhook_secret", "created_at", "updated_at")
STAMP = "2026-12-01T12:00:00.000Z"


def _hex24(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:24]


class _Noop(ResourceProvider):
    inputs: tuple[str, ...] = ()
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({key: news[key] for key in self.inputs if news.get(key) is not None}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in self.inputs if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, inputs={key: props[key] for key in self.inputs if key in props})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**olds, **news})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class NoopAccountProvider(_Noop):
    inputs = ACCOUNT_INPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        org_id = props["organization_id"]
        return CreateResult(org_id, {
            "organization_id": org_id, "active": props.get("active", True),
            "connect_account_id": _hex24("record" + org_id), "stripe_account_id": "acct_" + _hex24(org_id)[:16],
            "stripe_connect_id": _hex24("connect"), "charges_enabled": False, "created_at": STAMP,
            "updated_at": STAMP,
        })


class NoopConnectProvider(_Noop):
    inputs = CONNECT_INPUTS

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(_hex24("connect"), {
            **{key: props.get(key) for key in CONNECT_INPUTS}, "active": props.get("active", True),
            "account_id": _hex24("account"), "space_invoices_fee": 0.5, "webhook_secret": "whsec_" + "0" * 32,
            "created_at": STAMP, "updated_at": STAMP,
        })


class OrganizationConnectAccount(Resource):
    organization_id: pulumi.Output[str]
    charges_enabled: pulumi.Output[bool]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: Any) -> None:
        props = {**{key: inputs.get(key) for key in ACCOUNT_INPUTS}, **dict.fromkeys(ACCOUNT_OUTPUTS)}
        super().__init__(NoopAccountProvider(), resource_name, props, opts)
        let_registrations_start()


class StripeConnectConfig(Resource):
    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: Any) -> None:
        props = {**{key: inputs.get(key) for key in CONNECT_INPUTS}, **dict.fromkeys(CONNECT_OUTPUTS)}
        super().__init__(NoopConnectProvider(), resource_name, props, opts)
        let_registrations_start()


def get_onboarding_link_output(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("the engine floor runs with onboardingLinks: false")


def get_onboarding_entry_url_output(organization_id: Any, **_kwargs: Any) -> Any:
    """The shipped program's entry URL: one secret Output per organization, as the real function makes
    (it makes no call either; the signature here is a fixed stand-in)."""
    url = pulumi.Output.secret(pulumi.Output.from_input(organization_id).apply(
        lambda org: f"https://onboard.platform.example.com/o/{org}?sig=floor"))
    return types.SimpleNamespace(organization_id=organization_id, url=url, valid_until=None)


def install() -> None:
    """Stand in for `pulumi_spaceinvoices` in this process (the floor program's process only)."""
    stand_in = types.ModuleType("pulumi_spaceinvoices")
    stand_in.OrganizationConnectAccount = OrganizationConnectAccount  # type: ignore[attr-defined]
    stand_in.StripeConnectConfig = StripeConnectConfig  # type: ignore[attr-defined]
    stand_in.get_onboarding_link_output = get_onboarding_link_output  # type: ignore[attr-defined]
    stand_in.get_onboarding_entry_url_output = get_onboarding_entry_url_output  # type: ignore[attr-defined]
    sys.modules["pulumi_spaceinvoices"] = stand_in
