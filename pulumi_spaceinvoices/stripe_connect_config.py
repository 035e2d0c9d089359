"""StripeConnectConfig: Stripe Connect enabled on the Space Invoices account (a singleton).

Order: inputs (the Args, each field declared once with its meaning and checks: ``fields.py``),
outputs (the State, which embeds the Args), what is derived from them, then the provider's check,
diff, create, read, update, delete, and last the resource class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from . import core
from . import validators as valid
from .errors import APIConnectionError, APIError, NotFoundError
from .fields import ResourceFields, describe

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .models import StripeConnect, StripeConnectFields

TOUCHED_AS = "stripe-connect"  # what `core.touch` remembers this resource's objects as
WHAT = "StripeConnectConfig"
# The resource id when the API leaves the record id out: the config is a singleton, so nothing is
# addressed by it (the OpenAPI document does not require `id`).
SINGLETON_ID = "stripe-connect"
_REDIRECT = "(http(s); https with live keys; no ``user:pass@``)"


@dataclass
class StripeConnectConfigArgs:
    """Inputs of :class:`StripeConnectConfig`, in dependency order (keys before URLs): each declared once."""

    private_key: pulumi.Input[str] = field(metadata=describe(
        "Stripe secret key (``sk_test_…``/``sk_live_…``) or restricted key (``rk_…``). Always stored as a secret.",
        secret=True, check=valid.stripe_secret_key))
    public_key: pulumi.Input[str] = field(metadata=describe(
        "Stripe publishable key (``pk_test_…``/``pk_live_…``), same mode as ``private_key``.",
        check=valid.stripe_publishable_key))
    application_fee: pulumi.Input[float] = field(metadata=describe(
        "Platform fee in percent of each payment, 0 to 99.",
        before=valid.percent_as_number, check=valid.percent_0_to_99))
    refresh_url: pulumi.Input[str] = field(metadata=describe(
        f"Where an expired or used onboarding link sends the user {_REDIRECT}.", check=valid.redirect_url))
    return_url: pulumi.Input[str] = field(metadata=describe(
        f"Where a finished onboarding sends the user {_REDIRECT}.", check=valid.redirect_url))
    connect_webhook_secret: pulumi.Input[str] | None = field(default=None, metadata=describe(
        "Signing secret (``whsec_…``) of your Stripe Connect webhook endpoint. Stored as a secret.",
        secret=True, unmanaged_when_unset=True, check=valid.webhook_signing_secret))
    active: pulumi.Input[bool] | None = field(default=None, metadata=describe(
        "Whether Connect is active; default true.", default=True))
    custom: pulumi.Input[Mapping[str, Any]] | None = field(default=None, metadata=describe(
        "Free-form JSON object kept with the config, in plain text (so no secrets); left unmanaged when not set.",
        unmanaged_when_unset=True, check=valid.plain_json_object))


@dataclass
class StripeConnectConfigState(StripeConnectConfigArgs):
    """Outputs of :class:`StripeConnectConfig`: every input, then what the API reports."""

    account_id: str | None = field(default=None, metadata=describe(
        "The Space Invoices account this config belongs to."))
    space_invoices_fee: float | None = field(default=None, metadata=describe(
        "Space Invoices' own fee (0 to 1), set by the server."))
    webhook_secret: str | None = field(default=None, metadata=describe(
        "Signing secret of the webhook Space Invoices registered (secret).", secret=True))
    created_at: str | None = field(default=None, metadata=describe(
        "When Connect was enabled (ISO 8601, as the API reports it)."))
    updated_at: str | None = field(default=None, metadata=describe(
        "When the config last changed (ISO 8601, as the API reports it)."))


DECLARED = ResourceFields(StripeConnectConfigArgs, StripeConnectConfigState)
INPUT_KEYS = DECLARED.input_keys
OUTPUT_ONLY_KEYS = DECLARED.output_only_keys
SECRET_INPUTS = DECLARED.secret_inputs
UNMANAGED_WHEN_UNSET = DECLARED.unmanaged_when_unset


def inputs_model() -> type[BaseModel]:
    """The pydantic model that validates the inputs (built on first use)."""
    return DECLARED.inputs_model()


def outputs_from(live: StripeConnect, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Complete outputs: every input and computed key, secrets kept when the API hides them."""
    return DECLARED.outputs_from(live, stored)


def _request_body(inputs: Mapping[str, Any], keys: list[str] | None = None) -> StripeConnectFields:
    """The enable/change body of the given inputs (all by default)."""
    from .models import StripeConnectFields

    keys = INPUT_KEYS if keys is None else keys
    return StripeConnectFields(**{key: inputs.get(key) for key in keys})


class StripeConnectConfigProvider(core.SpaceInvoicesProvider):
    """Dynamic provider of :class:`StripeConnectConfig`."""

    declared = DECLARED

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = core.changed_keys(INPUT_KEYS, olds, news, ignore_none=UNMANAGED_WHEN_UNSET)
        return DiffResult(changes=bool(changed), replaces=[], stables=["account_id", "created_at"],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        api = core.client()
        live = core.create_or_adopt(
            WHAT, read=api.get_stripe_connect, post=lambda: api.enable_stripe_connect(_request_body(props)),
            adopt=lambda _found: self._apply(props, INPUT_KEYS), already_exists="STRIPE_CONNECT_ALREADY_EXISTS",
            creating="enabling",
            adopting=lambda found: (f"{WHAT}: Stripe Connect is already enabled on this account (id "
                                    f"{found.id or 'not given'}); adopting it and applying the declared settings."))
        resource_id = live.id or SINGLETON_ID
        core.touch(TOUCHED_AS, resource_id)
        return CreateResult(resource_id, outputs_from(live, props))

    def _apply(self, props: Mapping[str, Any], keys: list[str]) -> StripeConnect:
        """PATCH the given inputs (the API answers 204), then read the new state."""
        from .client import CONNECT_PATH

        api = core.client()
        core.run_step("updating", WHAT, lambda: api.update_stripe_connect(_request_body(props, keys)))
        live = core.run_step("reading", WHAT, api.get_stripe_connect)
        if live is None:
            raise core.missing("updating", WHAT, CONNECT_PATH, "Stripe Connect vanished during the update")
        return live

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = core.run_step("reading", WHAT, core.client().get_stripe_connect, saved_settings=True)
        if live is None:
            return ReadResult(None, {})
        outs = outputs_from(live, props)
        # Refreshed inputs equal the declared ones when nothing drifted (so refresh reports no
        # change): an empty `custom` is the same as none. The engine keeps secret inputs secret.
        inputs = {key: outs[key] for key in INPUT_KEYS}
        inputs["custom"] = inputs["custom"] or None
        return ReadResult(live.id or id_ or SINGLETON_ID, outs, inputs=inputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        keys = core.changed_keys(INPUT_KEYS, olds, news, ignore_none=UNMANAGED_WHEN_UNSET)
        return UpdateResult(outputs_from(self._apply(news, keys or INPUT_KEYS), {**olds, **news}))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if core.touched(TOUCHED_AS, id_):
            core.log_info(f"{WHAT}: leaving Stripe Connect {id_} active: another resource created or adopted it "
                          "in this run (renamed without an alias, or replaced).")
            return
        try:
            core.client().update_stripe_connect(_request_body({"active": False}, ["active"]))
        except NotFoundError:
            return  # never enabled or already gone: nothing to deactivate
        except (APIConnectionError, APIError) as error:
            raise core.describe_failure("deactivating", WHAT, error, saved_settings=True) from None


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

    # The outputs' static types, for type checkers: StripeConnectConfigState declares them (meaning,
    # secrecy, order), and tests/test_fields.py holds these to it.
    private_key: pulumi.Output[str]
    public_key: pulumi.Output[str]
    application_fee: pulumi.Output[float]
    refresh_url: pulumi.Output[str]
    return_url: pulumi.Output[str]
    connect_webhook_secret: pulumi.Output[str | None]
    active: pulumi.Output[bool]
    custom: pulumi.Output[dict[str, Any] | None]
    account_id: pulumi.Output[str]
    space_invoices_fee: pulumi.Output[float]
    webhook_secret: pulumi.Output[str | None]
    created_at: pulumi.Output[str]
    updated_at: pulumi.Output[str]

    _secret_outputs: ClassVar[list[str]] = DECLARED.secrets

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
        core.let_registrations_start()
