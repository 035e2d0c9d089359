"""StripeConnectConfig: Stripe Connect enabled on the Space Invoices account (a singleton).

Order: inputs (args and their validation), outputs, then the provider's check, diff, create,
read, update, delete, and last the resource class.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import SplitResult, urlsplit

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from . import _provider as shared
from .errors import APIConnectionError, APIError, NotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationInfo

    from .models import StripeConnect, StripeConnectFields

KIND = "stripe-connect"
WHAT = "StripeConnectConfig"
# The resource id when the API leaves the record id out: the config is a singleton, so nothing is
# addressed by it (DESIGN section 2; the OpenAPI document does not require `id`).
SINGLETON_ID = "stripe-connect"


@dataclass
class StripeConnectConfigArgs:
    """Inputs of :class:`StripeConnectConfig`."""

    private_key: pulumi.Input[str]
    """Stripe secret key (``sk_test_…``/``sk_live_…``) or restricted key (``rk_…``). Always stored as a secret."""
    public_key: pulumi.Input[str]
    """Stripe publishable key (``pk_test_…``/``pk_live_…``), same mode as ``private_key``."""
    application_fee: pulumi.Input[float]
    """Platform fee in percent of each payment, 0 to 99."""
    refresh_url: pulumi.Input[str]
    """Where an expired or used onboarding link sends the user (http(s); https with live keys; no ``user:pass@``)."""
    return_url: pulumi.Input[str]
    """Where a finished onboarding sends the user (http(s); https with live keys; no ``user:pass@``)."""
    connect_webhook_secret: pulumi.Input[str] | None = None
    """Signing secret (``whsec_…``) of your Stripe Connect webhook endpoint. Stored as a secret."""
    active: pulumi.Input[bool] | None = None
    """Whether Connect is active; default true."""
    custom: pulumi.Input[Mapping[str, Any]] | None = None
    """Free-form JSON object kept with the config, in plain text (so no secrets); left unmanaged when not set."""


INPUT_KEYS = list(StripeConnectConfigArgs.__dataclass_fields__)
OUTPUT_ONLY_KEYS = ["account_id", "space_invoices_fee", "webhook_secret", "created_at", "updated_at"]
SECRET_INPUTS = ["private_key", "connect_webhook_secret"]
REQUIRED = frozenset({"private_key", "public_key", "application_fee", "refresh_url", "return_url"})
DEFAULTS = {"active": True}
# Optional inputs that, when not declared, leave whatever the server holds alone.
UNMANAGED_WHEN_UNSET = frozenset({"custom", "connect_webhook_secret"})
MAX_URL_LENGTH = 2048
MAX_CUSTOM_BYTES = 16 * 1024


KEY_MODE = re.compile(r"^(?:sk|rk|pk)_(test|live)_")
# Stripe keys are letters and digits after the prefix; redaction relies on that shape too.
SECRET_KEY = re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{4,247}")
PUBLISHABLE_KEY = re.compile(r"pk_(?:test|live)_[A-Za-z0-9]{4,247}")
MAX_WEBHOOK_SECRET_LENGTH = 256


def _mode(key: Any) -> str | None:
    """'test' or 'live' for a Stripe key, None for anything else."""
    match = KEY_MODE.match(key) if isinstance(key, str) else None
    return match.group(1) if match else None


NOT_A_URL = "must be an absolute http(s) URL such as https://example.com/stripe/return"
HOST_NAME = re.compile(r"[a-z0-9_.-]+")  # what urlsplit leaves of a host name (lower case)
# A host whose last label is a number is an IPv4 address to a browser ("0x7f.1", "2130706433").
NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
# Secrets that would otherwise sit in plain text in the state, inside `custom`.
SECRETS_IN_CUSTOM = (
    (re.compile(r"(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{4,}"), "a Stripe secret or restricted key (sk_…, rk_…)",
     "private_key"),
    (re.compile(r"whsec_[A-Za-z0-9]{4,}"), "a Stripe webhook signing secret (whsec_…)", "connect_webhook_secret"),
)


def _http_url(value: str) -> tuple[SplitResult | None, str]:
    """The parts of an absolute http(s) URL that browsers and Python read alike, or None and why not.

    The host is what Stripe sends the user to: where ``urlsplit`` and a browser (the WHATWG URL
    standard) could read it differently, the URL is refused rather than guessed at.
    """
    if any(c.isspace() or not c.isprintable() for c in value):
        return None, "must not contain spaces or control characters"
    if "\\" in value:
        return None, "must not contain backslashes: browsers read them as '/', which can change the host"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return None, NOT_A_URL
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, NOT_A_URL
    if "@" in parts.netloc:
        return None, ("must not have '@' before the host: it marks a user name or password, which would be "
                      "stored in plain text in the state, and makes the host easy to misread")
    if not _plain_host(parts.hostname, bracketed=parts.netloc.startswith("[")):
        return None, ("must name its host in plain ASCII (letters, digits, '-', '.'; xn--… for international "
                      "names) or as an IP address written in full: browsers read other hosts differently from Python")
    return parts, ""


def _plain_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:  # an IPv6 literal; zone ids ("%25eth0") are not allowed in URLs by browsers
        try:
            return "%" not in host and isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
        except ValueError:
            return False
    if not HOST_NAME.fullmatch(host):  # percent-encoding, non-ASCII (IDN look-alikes), ':' ...
        return False
    if NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        try:  # then only a dotted quad in plain decimal means the same to both
            return str(ipaddress.IPv4Address(host)) == host
        except ValueError:
            return False
    return True


def _secret_in(value: Any, where: str = "custom") -> tuple[str, str, str] | None:
    """(what, where, the input meant for it) for the first secret-shaped key or string in ``value``."""
    if isinstance(value, str):
        for shape, what, meant_for in SECRETS_IN_CUSTOM:
            if shape.search(value):
                return what, where, meant_for
        return None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, item in items:
        if isinstance(key, str) and (found := _secret_in(key, f"a key of {where}")):
            return found
        shown = repr(key) if len(repr(key)) <= 40 else repr(key)[:37] + "...'"
        if found := _secret_in(item, f"{where}[{shown}]"):
            return found
    return None


@cache
def inputs_model() -> type[BaseModel]:
    """The pydantic model that validates the inputs, built on first use: only the provider process
    checks inputs, so a program's `import` never loads pydantic."""
    from pydantic import BaseModel, ConfigDict, field_validator

    class StripeConnectConfigInputs(BaseModel):
        """Validation of the inputs; fields are in dependency order (keys before URLs)."""

        model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

        private_key: str | None = None
        public_key: str | None = None
        application_fee: float | None = None
        refresh_url: str | None = None
        return_url: str | None = None
        connect_webhook_secret: str | None = None
        active: bool | None = None
        custom: dict[str, Any] | None = None

        @field_validator("private_key")
        @classmethod
        def _private_key(cls, value: str) -> str:
            if value.startswith("pk_"):
                raise ValueError("looks like a publishable key; did you swap private_key and public_key?")
            if not SECRET_KEY.fullmatch(value):
                raise ValueError("must be a Stripe secret key (sk_test_…, sk_live_…) or restricted key (rk_test_…, rk_live_…)")
            return value

        @field_validator("public_key")
        @classmethod
        def _public_key(cls, value: str, info: ValidationInfo) -> str:
            if value.startswith(("sk_", "rk_")):
                raise ValueError("looks like a secret key; did you swap private_key and public_key?")
            if not PUBLISHABLE_KEY.fullmatch(value):
                raise ValueError("must be a Stripe publishable key (pk_test_… or pk_live_…)")
            private_mode = _mode(info.data.get("private_key"))
            if private_mode and private_mode != _mode(value):
                raise ValueError(f"is a {_mode(value)} key but private_key is a {private_mode} key; use keys of the same mode")
            return value

        @field_validator("application_fee", mode="before")
        @classmethod
        def _fee_is_number(cls, value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("must be a number (percent, 0 to 99)")
            return float(value)

        @field_validator("application_fee")
        @classmethod
        def _fee_range(cls, value: float) -> float:
            if not 0 <= value <= 99:
                raise ValueError(f"must be between 0 and 99 percent (got {value:g})")
            return value

        @field_validator("refresh_url", "return_url")
        @classmethod
        def _url(cls, value: str, info: ValidationInfo) -> str:
            if len(value) > MAX_URL_LENGTH:
                raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
            parts, why_not = _http_url(value)
            if parts is None:
                raise ValueError(why_not)
            live = "live" in (_mode(info.data.get("private_key")), _mode(info.data.get("public_key")))
            if live and parts.scheme != "https":
                raise ValueError("must use https: Stripe requires https redirect URLs with live keys")
            return value

        @field_validator("connect_webhook_secret")
        @classmethod
        def _webhook_secret(cls, value: str) -> str:
            if (not value.startswith("whsec_") or len(value) > MAX_WEBHOOK_SECRET_LENGTH or not value.isascii()
                    or not value.isprintable() or " " in value):
                raise ValueError("must be a Stripe webhook signing secret (whsec_…)")
            if value == "whsec_":
                raise ValueError("must have the secret itself after whsec_")
            return value

        @field_validator("custom")
        @classmethod
        def _custom(cls, value: dict[str, Any]) -> dict[str, Any]:
            try:
                size = len(json.dumps(value, allow_nan=False))  # NaN and Infinity are not JSON
            except (TypeError, ValueError, RecursionError):
                raise ValueError("must be a JSON object") from None
            if size > MAX_CUSTOM_BYTES:
                raise ValueError(f"must be at most {MAX_CUSTOM_BYTES} bytes as JSON")
            if found := _secret_in(value):
                what, where, meant_for = found
                raise ValueError(f"holds what looks like {what} in {where}: custom is stored in plain text in the "
                                 f"state, so it may not hold secrets (pass it as {meant_for}, which is kept secret)")
            coerced: dict[str, Any] = shared.coerce_numbers(value)  # a JSON object: still a dict
            return coerced

    return StripeConnectConfigInputs


def _secret(live: str | None, stored: Any) -> Any:
    """The API may return a secret in full, masked, or not at all: keep what we know then."""
    if live is None or any(mark in live for mark in ("*", "•", "…")):
        return stored
    return live


def outputs_from(live: StripeConnect, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Complete outputs: every input and computed key, secrets kept when the API hides them."""
    return {
        "private_key": _secret(live.private_key, stored.get("private_key")),
        "public_key": live.public_key,
        "application_fee": live.application_fee,
        "refresh_url": live.refresh_url,
        "return_url": live.return_url,
        "connect_webhook_secret": _secret(live.connect_webhook_secret, stored.get("connect_webhook_secret")),
        "active": live.active,
        "custom": live.custom,
        "account_id": live.account_id,
        "space_invoices_fee": live.space_invoices_fee,
        "webhook_secret": _secret(live.webhook_secret, stored.get("webhook_secret")),
        "created_at": live.created_at,
        "updated_at": live.updated_at,
    }


def _fields(inputs: Mapping[str, Any], keys: list[str] | None = None) -> StripeConnectFields:
    from .models import StripeConnectFields

    keys = INPUT_KEYS if keys is None else keys
    return StripeConnectFields(**{key: inputs.get(key) for key in keys})


class StripeConnectConfigProvider(shared.SpaceInvoicesProvider):
    """Dynamic provider of :class:`StripeConnectConfig`."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = shared.check_inputs(
            inputs_model(), news, defaults=DEFAULTS, required=REQUIRED,
            output_keys=frozenset(OUTPUT_ONLY_KEYS),
        )
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = shared.changed_keys(INPUT_KEYS, olds, news, ignore_none=UNMANAGED_WHEN_UNSET)
        return DiffResult(changes=bool(changed), replaces=[], stables=["account_id", "created_at"],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        api = shared.client()
        live = shared.run_step("reading", WHAT, api.get_stripe_connect)
        if live is None:
            live = self._enable(props)
        else:
            shared.log_info(f"{WHAT}: Stripe Connect is already enabled on this account (id {live.id or 'not given'}); "
                            "adopting it and applying the declared settings.")
            live = self._apply(props, INPUT_KEYS)
        resource_id = live.id or SINGLETON_ID
        shared.touch(KIND, resource_id)
        return CreateResult(resource_id, outputs_from(live, props))

    def _enable(self, props: dict[str, Any]) -> StripeConnect:
        api = shared.client()
        try:
            return api.enable_stripe_connect(_fields(props))
        except APIConnectionError as error:
            if not error.may_have_applied:
                raise shared.describe_failure("enabling", WHAT, error) from None
            # The answer was lost: find out whether the POST took effect before doing anything else.
            if shared.run_step("reading back", WHAT, api.get_stripe_connect) is None:
                return shared.run_step("enabling", WHAT, lambda: api.enable_stripe_connect(_fields(props)))
        except APIError as error:
            if error.code != "STRIPE_CONNECT_ALREADY_EXISTS":  # else: enabled concurrently; adopt it
                raise shared.describe_failure("enabling", WHAT, error) from None
        return self._apply(props, INPUT_KEYS)

    def _apply(self, props: Mapping[str, Any], keys: list[str]) -> StripeConnect:
        """PATCH the given inputs (the API answers 204), then read the new state."""
        api = shared.client()
        shared.run_step("updating", WHAT, lambda: api.update_stripe_connect(_fields(props, keys)))
        live = shared.run_step("reading", WHAT, api.get_stripe_connect)
        if live is None:
            raise shared.describe_failure("updating", WHAT, NotFoundError(
                status=404, method="GET", path="/v1/stripe-connect", message="Stripe Connect vanished during the update"))
        return live

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = shared.run_step("reading", WHAT, shared.client().get_stripe_connect, saved_settings=True)
        if live is None:
            return ReadResult(None, {})
        outs = outputs_from(live, props)
        # Refreshed inputs equal the declared ones when nothing drifted (so refresh reports no
        # change): an empty `custom` is the same as none. The engine keeps secret inputs secret.
        inputs = {key: outs[key] for key in INPUT_KEYS}
        inputs["custom"] = inputs["custom"] or None
        return ReadResult(live.id or id_ or SINGLETON_ID, outs, inputs=inputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        keys = shared.changed_keys(INPUT_KEYS, olds, news, ignore_none=UNMANAGED_WHEN_UNSET)
        return UpdateResult(outputs_from(self._apply(news, keys or INPUT_KEYS), {**olds, **news}))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if shared.touched(KIND, id_):
            shared.log_info(f"{WHAT}: leaving Stripe Connect {id_} active: another resource created or adopted it "
                            "in this run (renamed without an alias, or replaced).")
            return
        try:
            shared.client().update_stripe_connect(_fields({"active": False}, ["active"]))
        except NotFoundError:
            return  # never enabled or already gone: nothing to deactivate
        except (APIConnectionError, APIError) as error:
            raise shared.describe_failure("deactivating", WHAT, error, saved_settings=True) from None


class StripeConnectConfig(pulumi.dynamic.Resource, module="spaceinvoices", name="StripeConnectConfig"):
    """Stripe Connect enabled on your Space Invoices account (one per account).

    There is no DELETE in the API: destroying this resource deactivates Connect (``active: false``).
    If Connect is already enabled, creating this resource adopts it and applies the declared settings.

    Example::

        import pulumi
        from pulumi_spaceinvoices import StripeConnectConfig

        stripe = pulumi.Config("stripe")
        connect = StripeConnectConfig(
            "connect",
            private_key=stripe.require_secret("secretKey"),      # sk_test_…
            public_key=stripe.require("publishableKey"),         # pk_test_…
            application_fee=1.5,
            refresh_url="https://example.com/stripe/refresh",
            return_url="https://example.com/stripe/return",
        )
        pulumi.export("space_invoices_fee", connect.space_invoices_fee)
    """

    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]
    application_fee: pulumi.Output[float]
    refresh_url: pulumi.Output[str]
    return_url: pulumi.Output[str]
    connect_webhook_secret: pulumi.Output[str | None]
    active: pulumi.Output[bool]
    custom: pulumi.Output[dict[str, Any] | None]
    account_id: pulumi.Output[str]
    """The Space Invoices account this config belongs to."""
    space_invoices_fee: pulumi.Output[float]
    """Space Invoices' own fee (0 to 1), set by the server."""
    webhook_secret: pulumi.Output[str | None]
    """Signing secret of the webhook Space Invoices registered (secret)."""
    created_at: pulumi.Output[str]
    """When Connect was enabled (ISO 8601, as the API reports it)."""
    updated_at: pulumi.Output[str]
    """When the config last changed (ISO 8601, as the API reports it)."""

    _secret_outputs: ClassVar[list[str]] = [*SECRET_INPUTS, "webhook_secret"]

    def __init__(
        self,
        resource_name: str,
        args: StripeConnectConfigArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        args = args if args is not None else StripeConnectConfigArgs(**kwargs)
        props: dict[str, Any] = {**{key: getattr(args, key) for key in INPUT_KEYS}, **dict.fromkeys(OUTPUT_ONLY_KEYS)}
        for key in SECRET_INPUTS:
            if props[key] is not None:
                props[key] = pulumi.Output.secret(props[key])
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(additional_secret_outputs=self._secret_outputs), opts)
        super().__init__(StripeConnectConfigProvider(), resource_name, props, opts)
        shared.let_registrations_start()
