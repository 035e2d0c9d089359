"""The package schema of the plugin, derived from the core's declarations: names, types,
descriptions, required and secret properties come from the resource modules' Args and State
dataclasses and the functions' result dataclasses (``fields.describe`` on each field). Nothing here
names a property of the two resources; what only the plugin has (its onboarding-link resource, the
provider config, the invoke's arguments) is described here, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import onboarding_entry as entry_core
from .. import onboarding_link as link_core
from .. import organization_connect_account as account_core
from .. import payment_intent as payment_core
from .. import stripe_connect_config as connect_core
from .._version import __version__
from ..fields import Declared, ResourceFields, declared, docstring_parts, markdown, schema_type
from ._names import camel

PACKAGE = "spaceinvoices"
CONFIG_TOKEN = "accessToken"
CONFIG_API_URL = "apiUrl"
CONFIG_ONBOARDING_URL = "onboardingUrl"
CONFIG_SIGNING_KEY = "onboardingSigningKey"
REPOSITORY = "https://github.com/spaceinvoices/pulumi-spaceinvoices"


@dataclass(frozen=True)
class Field:
    """One property: its core (snake_case) name, schema type and description."""

    name: str
    type: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Member:
    """A resource or function of the schema, in the core's terms."""

    token: str
    description: str
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]  # every output key, inputs included
    required_inputs: frozenset[str]
    secrets: frozenset[str]  # core names, inputs and outputs
    required_outputs: frozenset[str] = frozenset()  # functions: the outputs always present

    @property
    def input_keys(self) -> list[str]:
        return [f.name for f in self.inputs]

    @property
    def output_keys(self) -> list[str]:
        return [f.name for f in self.outputs]


_SNAKE_WORD = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _markdown(text: str) -> str:
    """reST literals to Markdown, core names to schema names (``snake_case`` -> `snakeCase`)."""
    text = markdown(text)
    text = re.sub(r"\bNone\b", "null", text)
    return _SNAKE_WORD.sub(lambda m: camel(m.group(0)), text)


def _summary(cls: type) -> str:
    """A class docstring up to its Python example, as Markdown."""
    return _markdown(docstring_parts(cls)[0])


def _schema_fields(items: tuple[Declared, ...], names: list[str] | None = None) -> tuple[Field, ...]:
    """The declared fields (those named, in that order), as schema properties."""
    by_name = {item.name: item for item in items}
    chosen = [by_name[name] for name in names] if names is not None else list(items)
    return tuple(Field(item.name, schema_type(item.annotation), _markdown(item.prop.description)) for item in chosen)


def _secrets(items: tuple[Declared, ...]) -> frozenset[str]:
    return frozenset(item.name for item in items if item.prop.secret)


def _required(items: tuple[Declared, ...]) -> frozenset[str]:
    return frozenset(item.name for item in items if item.required)


def _resource(fields: ResourceFields, resource: type) -> Member:
    return Member(f"{PACKAGE}:index:{resource.__name__}", _summary(resource), _schema_fields(fields.inputs),
                  _schema_fields(fields.outputs), fields.required, _secrets(fields.outputs))


@cache
def stripe_connect_config() -> Member:
    return _resource(connect_core.DECLARED, connect_core.StripeConnectConfig)


@cache
def organization_connect_account() -> Member:
    return _resource(account_core.DECLARED, account_core.OrganizationConnectAccount)


LINK_DESCRIPTION = (
    "A fresh Stripe onboarding link for an organization whose `OrganizationConnectAccount` exists. "
    "A link is single-use and expires after about five minutes, so while onboarding is incomplete "
    "every `pulumi up` replaces the stored link with a new one (the resource shows as an update); "
    "`pulumi preview` never makes one (the link is unknown there). Once the organization finished "
    "onboarding no link is made, `url` is empty and the resource stops changing. Destroying it "
    "changes nothing in Space Invoices. Stripe: \"Don't email, text, or otherwise send account link URLs "
    "outside of your platform application\" (a mail scanner that opens one uses it up): send the "
    "`getOnboardingEntryUrl` URL instead, and keep raw links inside your application."
)


@cache
def onboarding_link_resource() -> Member:
    """The link function's result as a resource: its argument, the organization, is the input."""
    result = declared(link_core.GetOnboardingLinkResult)
    return Member(f"{PACKAGE}:index:OnboardingLink", LINK_DESCRIPTION, _schema_fields(result, ["organization_id"]),
                  _schema_fields(result), frozenset({"organization_id"}), _secrets(result))


PAYMENT_INTENT_DESCRIPTION = (
    "The public \"Pay now\" data of a shared invoice: what a checkout form needs to take the payment. "
    "Needs no access token (the shareable id is the credential); `clientSecret` is a secret. Like "
    "every Pulumi function it runs during `pulumi preview` too when its argument is known (one GET)."
)
SHAREABLE_ID_DESCRIPTION = "The invoice's shareable id (letters, digits, `-` and `_`), as in its public link."


@cache
def get_payment_intent() -> Member:
    result = declared(payment_core.GetPaymentIntentResult)
    shareable = Field("shareable_id", {"type": "string"}, SHAREABLE_ID_DESCRIPTION)
    return Member(f"{PACKAGE}:index:getPaymentIntent", PAYMENT_INTENT_DESCRIPTION, (shareable,), _schema_fields(result),
                  frozenset({"shareable_id"}), _secrets(result), _required(result))


ENTRY_URL_DESCRIPTION = (
    "The signed entry URL of an organization's onboarding: what to send its admin instead of a raw Stripe "
    "link. It leads to the onboarding endpoint (`spaceinvoices-onboarding serve`), which shows a page and "
    "makes a fresh Stripe link only when the person presses its button. Made without any API call and the "
    "same on every run; it stops working when the signing key is rotated (after the endpoint's grace "
    "period) or after `validUntil`. Settings fall back to the provider's `onboardingUrl` and "
    "`onboardingSigningKey`."
)
ENTRY_URL_INPUTS = {
    "base_url": "The onboarding endpoint's public base URL (default: the provider's `onboardingUrl`).",
    "signing_key": "The key entry URLs are signed with, at least 32 bytes (default: the provider's "
                   "`onboardingSigningKey`).",
}


@cache
def get_onboarding_entry_url() -> Member:
    result = declared(entry_core.GetOnboardingEntryUrlResult)
    inputs = (_schema_fields(result, ["organization_id"])
              + tuple(Field(name, {"type": "string"}, text) for name, text in ENTRY_URL_INPUTS.items())
              + _schema_fields(result, ["valid_until"]))
    return Member(f"{PACKAGE}:index:getOnboardingEntryUrl", ENTRY_URL_DESCRIPTION, inputs, _schema_fields(result),
                  frozenset({"organization_id"}), _secrets(result) | {"signing_key"},
                  _required(result))


def resources() -> list[Member]:
    return [stripe_connect_config(), organization_connect_account(), onboarding_link_resource()]


def functions() -> list[Member]:
    return [get_payment_intent(), get_onboarding_entry_url()]


CONFIG = {
    CONFIG_TOKEN: {
        "type": "string", "secret": True,
        "description": "Space Invoices access token of the account this provider manages. Falls back to "
                       "the `SPACEINVOICES_ACCESS_TOKEN` environment variable.",
    },
    CONFIG_API_URL: {
        "type": "string",
        "description": "Base URL of the Space Invoices API (default `https://api.spaceinvoices.com`; the test "
                       "environment is `https://api-test.spaceinvoices.com`). Falls back to the "
                       "`SPACEINVOICES_API_URL` environment variable.",
    },
    CONFIG_ONBOARDING_URL: {
        "type": "string",
        "description": "Public base URL of the onboarding endpoint (`spaceinvoices-onboarding serve`), for "
                       "`getOnboardingEntryUrl`. Falls back to the `SPACEINVOICES_ONBOARDING_URL` environment variable.",
    },
    CONFIG_SIGNING_KEY: {
        "type": "string", "secret": True,
        "description": "The key onboarding entry URLs are signed with (at least 32 bytes; the onboarding endpoint "
                       "holds the same). Falls back to the `SPACEINVOICES_ONBOARDING_SIGNING_KEY` environment variable.",
    },
}


def _properties(fields: tuple[Field, ...], secrets: frozenset[str]) -> dict[str, Any]:
    out = {}
    for field in fields:
        prop = {**field.type, "description": field.description}
        if field.name in secrets:
            prop["secret"] = True
        out[camel(field.name)] = prop
    return out


# How `pulumi import` finds an existing object (the registry's "Import" section, kept in the description).
IMPORT = {
    "StripeConnectConfig": (
        "connect", "stripe-connect",
        "An account has one Connect config, so any id imports it. The code `pulumi import` writes leaves "
        "the secret inputs empty (it never prints a secret): set them from secret config.",
    ),
    "OrganizationConnectAccount": ("acme", "<organizationId>", "The id is the organization's id."),
}


def _described(kind: Member) -> str:
    found = IMPORT.get(kind.token.rsplit(":", 1)[1])
    if found is None:
        return kind.description
    name, example_id, note = found
    return (f"{kind.description}\n\n## Import\n\n{note}\n\n"
            f"```sh\n$ pulumi import {kind.token} {name} {example_id}\n```\n")


def _resource_entry(kind: Member) -> dict[str, Any]:
    return {
        "description": _described(kind),
        "inputProperties": _properties(kind.inputs, kind.secrets),
        "requiredInputs": sorted(camel(name) for name in kind.required_inputs),
        "properties": _properties(kind.outputs, kind.secrets),
        "required": sorted(camel(name) for name in kind.required_inputs),
    }


def _function_entry(kind: Member) -> dict[str, Any]:
    return {
        "description": kind.description,
        "inputs": {"properties": _properties(kind.inputs, kind.secrets),
                   "required": sorted(camel(name) for name in kind.required_inputs)},
        "outputs": {"properties": _properties(kind.outputs, kind.secrets),
                    "required": [camel(f.name) for f in kind.outputs if f.name in kind.required_outputs]},
    }


@cache
def schema() -> dict[str, Any]:
    """The package schema (https://www.pulumi.com/docs/iac/using-pulumi/extending-pulumi/schema/)."""
    return {
        "name": PACKAGE,
        "displayName": "Space Invoices",
        "version": __version__,
        "description": "Space Invoices' Stripe Connect: the account's Connect config, one Connect account per "
                       "organization, onboarding links and invoice payment data.",
        "keywords": ["pulumi", "spaceinvoices", "stripe", "category/utility", "kind/native"],
        "license": "Apache-2.0",
        "publisher": "pulumi-spaceinvoices",
        "config": {"variables": CONFIG},
        "provider": {
            "description": "The provider for one Space Invoices account. Declare one per account (for example "
                           "test and live) and pass it as a resource option to manage several in one stack.",
            "inputProperties": CONFIG,
            "properties": CONFIG,
        },
        "resources": {kind.token: _resource_entry(kind) for kind in resources()},
        "functions": {kind.token: _function_entry(kind) for kind in functions()},
        "repository": REPOSITORY,
        # Generated SDKs are whole packages (pyproject.toml, package.json, go.mod) at the schema's version.
        "meta": {"supportPack": True},
        "language": {
            "python": {"packageName": "pulumi_spaceinvoices_native"},
            "nodejs": {"packageName": "@spaceinvoices/pulumi"},
            "go": {"importBasePath": f"{REPOSITORY.removeprefix('https://')}/sdk/go/spaceinvoices"},
        },
    }


def schema_json() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"
