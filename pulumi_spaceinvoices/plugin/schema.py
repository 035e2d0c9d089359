"""The package schema of the plugin, derived from the core: names, types and descriptions come from
the resource modules' Args dataclasses, resource classes and function results (their field
docstrings), required and secret properties from the same modules' constants. Nothing here names a
property of the two resources; what only the plugin has (its onboarding-link resource, the provider
config, the invoke's argument) is described here, once.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import onboarding_entry as entry_core
from .. import onboarding_link as link_core
from .. import organization_connect_account as account_core
from .. import payment_intent as payment_core
from .. import stripe_connect_config as connect_core
from .._version import __version__
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
    spec: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Kind:
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


def _documented_fields(cls: type) -> dict[str, tuple[str, str]]:
    """``{field: (annotation source, docstring)}`` of a class whose annotated fields carry the
    docstring right below them (what the core's Args and resource classes do)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    found: dict[str, tuple[str, str]] = {}
    for index, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            following = body[index + 1] if index + 1 < len(body) else None
            doc = ""
            if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                doc = " ".join(following.value.value.split())
            found[node.target.id] = (ast.unparse(node.annotation), doc)
    return found


def _type_of(annotation: str) -> dict[str, Any]:
    if "Mapping" in annotation or "dict" in annotation:
        return {"$ref": "pulumi.json#/Any"}
    for python, schema_type in (("bool", "boolean"), ("float", "number"), ("str", "string")):
        if python in annotation:
            return {"type": schema_type}
    raise TypeError(f"no schema type for the annotation {annotation!r}")


_LITERAL = re.compile(r"``([^`]+)``")
_SNAKE_WORD = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _markdown(text: str) -> str:
    """reST literals to Markdown, core names to schema names (``snake_case`` -> `snakeCase`)."""
    text = _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
    text = re.sub(r"\bNone\b", "null", text)
    return _SNAKE_WORD.sub(lambda m: camel(m.group(0)), text)


def _summary(cls: type) -> str:
    """A class docstring up to its Python example, as Markdown."""
    doc = inspect.getdoc(cls) or ""
    return _markdown(doc.split("Example::", 1)[0].strip())


def _fields(names: list[str], *sources: type, extra: dict[str, str] | None = None) -> tuple[Field, ...]:
    """Fields named ``names``: the type from the first source that declares the field, the
    description from the first that documents it."""
    documented = [_documented_fields(source) for source in sources]
    fields = []
    for name in names:
        annotation = next(found[name][0] for found in documented if name in found)
        description = next((found[name][1] for found in documented if found.get(name, ("", ""))[1]), "")
        description = description or (extra or {}).get(name, "")
        fields.append(Field(name, _type_of(annotation), _markdown(description)))
    return tuple(fields)


@cache
def stripe_connect_config() -> Kind:
    core = connect_core
    inputs = _fields(core.INPUT_KEYS, core.StripeConnectConfigArgs)
    outputs = _fields([*core.INPUT_KEYS, *core.OUTPUT_ONLY_KEYS], core.StripeConnectConfigArgs,
                      core.StripeConnectConfig)
    return Kind(f"{PACKAGE}:index:StripeConnectConfig", _summary(core.StripeConnectConfig), inputs, outputs,
                core.REQUIRED, frozenset(core.StripeConnectConfig._secret_outputs))


@cache
def organization_connect_account() -> Kind:
    core = account_core
    inputs = _fields(core.INPUT_KEYS, core.OrganizationConnectAccountArgs)
    outputs = _fields([*core.INPUT_KEYS, *core.OUTPUT_ONLY_KEYS], core.OrganizationConnectAccountArgs,
                      core.OrganizationConnectAccount)
    return Kind(f"{PACKAGE}:index:OrganizationConnectAccount", _summary(core.OrganizationConnectAccount), inputs,
                outputs, core.REQUIRED, frozenset())


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
def onboarding_link_resource() -> Kind:
    result = link_core.GetOnboardingLinkResult
    inputs = _fields(["organization_id"], result)
    outputs = _fields(["organization_id", "onboarding_complete", "url", "expires_at"], result)
    return Kind(f"{PACKAGE}:index:OnboardingLink", LINK_DESCRIPTION, inputs, outputs,
                frozenset({"organization_id"}), frozenset({"url"}))


PAYMENT_INTENT_DESCRIPTION = (
    "The public \"Pay now\" data of a shared invoice: what a checkout form needs to take the payment. "
    "Needs no access token (the shareable id is the credential); `clientSecret` is a secret. Like "
    "every Pulumi function it runs during `pulumi preview` too when its argument is known (one GET)."
)
SHAREABLE_ID_DESCRIPTION = "The invoice's shareable id (letters, digits, `-` and `_`), as in its public link."


@cache
def get_payment_intent() -> Kind:
    result = payment_core.GetPaymentIntentResult
    outputs = _fields(["payment_intent_id", "public_key", "client_secret", "amount", "currency_id"], result)
    shareable = Field("shareable_id", {"type": "string"}, SHAREABLE_ID_DESCRIPTION)
    return Kind(f"{PACKAGE}:index:getPaymentIntent", PAYMENT_INTENT_DESCRIPTION, (shareable,), outputs,
                frozenset({"shareable_id"}), frozenset({"client_secret"}),
                frozenset({"payment_intent_id", "public_key", "client_secret"}))


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
def get_onboarding_entry_url() -> Kind:
    result = entry_core.GetOnboardingEntryUrlResult
    outputs = _fields(["organization_id", "url", "valid_until"], result)
    inputs = (_fields(["organization_id"], result)
              + tuple(Field(name, {"type": "string"}, text) for name, text in ENTRY_URL_INPUTS.items())
              + _fields(["valid_until"], result))
    return Kind(f"{PACKAGE}:index:getOnboardingEntryUrl", ENTRY_URL_DESCRIPTION, inputs, outputs,
                frozenset({"organization_id"}), frozenset({"url", "signing_key"}), frozenset({"organization_id", "url"}))


def resources() -> list[Kind]:
    return [stripe_connect_config(), organization_connect_account(), onboarding_link_resource()]


def functions() -> list[Kind]:
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
        spec = {**field.spec, "description": field.description}
        if field.name in secrets:
            spec["secret"] = True
        out[camel(field.name)] = spec
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


def _described(kind: Kind) -> str:
    found = IMPORT.get(kind.token.rsplit(":", 1)[1])
    if found is None:
        return kind.description
    name, example_id, note = found
    return (f"{kind.description}\n\n## Import\n\n{note}\n\n"
            f"```sh\n$ pulumi import {kind.token} {name} {example_id}\n```\n")


def _resource_spec(kind: Kind) -> dict[str, Any]:
    return {
        "description": _described(kind),
        "inputProperties": _properties(kind.inputs, kind.secrets),
        "requiredInputs": sorted(camel(name) for name in kind.required_inputs),
        "properties": _properties(kind.outputs, kind.secrets),
        "required": sorted(camel(name) for name in kind.required_inputs),
    }


def _function_spec(kind: Kind) -> dict[str, Any]:
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
        "resources": {kind.token: _resource_spec(kind) for kind in resources()},
        "functions": {kind.token: _function_spec(kind) for kind in functions()},
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
