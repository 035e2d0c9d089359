"""OrganizationConnectAccount: one organization's Stripe Connect account and its onboarding status.

Order: inputs (args and their validation), outputs, then the provider's check, diff, create,
read, update, delete, and last the resource class. The resource id is the organization id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from . import _provider as shared
from .errors import APIConnectionError, APIError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .models import StripeConnectAccount

KIND = "organization-account"
WHAT = "OrganizationConnectAccount"
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


@dataclass
class OrganizationConnectAccountArgs:
    """Inputs of :class:`OrganizationConnectAccount`."""

    organization_id: pulumi.Input[str]
    """Space Invoices organization id (24 hexadecimal characters). Changing it replaces the resource."""
    active: pulumi.Input[bool] | None = None
    """Whether the organization's Connect account is active; default true."""


INPUT_KEYS = list(OrganizationConnectAccountArgs.__dataclass_fields__)
OUTPUT_ONLY_KEYS = ["connect_account_id", "stripe_account_id", "stripe_connect_id", "charges_enabled",
                    "created_at", "updated_at"]
REQUIRED = frozenset({"organization_id"})
DEFAULTS = {"active": True}


def validate_object_id(value: str) -> str:
    """A 24-hex id in lower case; anything else (path characters included) is refused."""
    if not OBJECT_ID.fullmatch(value):
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"must be a Space Invoices id of 24 hexadecimal characters (got {shown!r})")
    return value.lower()


def stored_id(name: str, value: Any) -> str:
    """An id taken from the state or from `get`, which `check` never saw: refused before it reaches a URL."""
    try:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return validate_object_id(value)
    except ValueError as error:
        raise InvalidInputError(name, str(error)) from None


@cache
def inputs_model() -> type[BaseModel]:
    """The pydantic model that validates the inputs, built on first use: only the provider process
    checks inputs, so a program's `import` never loads pydantic."""
    from pydantic import BaseModel, ConfigDict, field_validator

    class OrganizationConnectAccountInputs(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

        organization_id: str | None = None
        active: bool | None = None

        _organization_id = field_validator("organization_id")(validate_object_id)

    return OrganizationConnectAccountInputs


def outputs_from(live: StripeConnectAccount, organization_id: str) -> dict[str, Any]:
    """Complete outputs. The organization is the one asked for, never one read from the answer
    (the client refuses an answer that names another)."""
    return {
        "organization_id": organization_id,
        "active": live.active,
        "connect_account_id": live.id,
        "stripe_account_id": live.stripe_account_id,
        "stripe_connect_id": live.stripe_connect_id,
        "charges_enabled": live.charges_enabled,
        "created_at": live.created_at,
        "updated_at": live.updated_at,
    }


class OrganizationConnectAccountProvider(shared.SpaceInvoicesProvider):
    """Dynamic provider of :class:`OrganizationConnectAccount`."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = shared.check_inputs(
            inputs_model(), news, defaults=DEFAULTS, required=REQUIRED,
            output_keys=frozenset(OUTPUT_ONLY_KEYS),
        )
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = shared.changed_keys(INPUT_KEYS, olds, news)
        replaces = [key for key in changed if key == "organization_id"]
        return DiffResult(changes=bool(changed), replaces=replaces, stables=["connect_account_id"],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        org_id = props["organization_id"]
        what = f"{WHAT} for organization {org_id}"
        api = shared.client()
        live = shared.run_step("reading", what, lambda: api.get_connect_account(org_id))
        if live is None:
            live = self._create(org_id, props["active"], what)
        else:
            shared.log_info(f"{what}: the account already exists ({live.id}); adopting it.")
            live = self._bring_to(org_id, live, props["active"], what)
        shared.touch(KIND, org_id)
        return CreateResult(org_id, outputs_from(live, org_id))

    def _create(self, org_id: str, active: bool, what: str) -> StripeConnectAccount:
        api = shared.client()
        try:
            return api.create_connect_account(org_id, active=active)
        except APIConnectionError as error:
            if not error.may_have_applied:
                raise shared.describe_failure("creating", what, error) from None
            # The answer was lost: read back before deciding to send the POST again.
            live = shared.run_step("reading back", what, lambda: api.get_connect_account(org_id))
            if live is None:
                return shared.run_step("creating", what, lambda: api.create_connect_account(org_id, active=active))
        except APIError as error:
            if error.code != "STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS":
                raise shared.describe_failure("creating", what, error) from None
            live = None  # created concurrently by another run: adopt it
        if live is None:
            live = shared.run_step("reading", what, lambda: api.get_connect_account(org_id))
        if live is None:
            raise shared.describe_failure("creating", what, NotFoundError(
                status=404, method="GET", path=f"/v1/organizations/{org_id}/stripe-connect/account",
                message="the account was reported but cannot be read"))
        return self._bring_to(org_id, live, active, what)

    def _bring_to(self, org_id: str, live: StripeConnectAccount, active: bool, what: str) -> StripeConnectAccount:
        """PATCH ``active`` when it differs (204), then read the new state."""
        if live.active is active:
            return live
        api = shared.client()
        shared.run_step("updating", what, lambda: api.update_connect_account(live.id, active=active))
        fresh = shared.run_step("reading", what, lambda: api.get_connect_account(org_id))
        return fresh or live

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org_id = stored_id("organization_id", props.get("organization_id") or id_)
        live = shared.run_step("reading", f"{WHAT} for organization {org_id}",
                               lambda: shared.client().get_connect_account(org_id), saved_settings=True)
        if live is None:
            return ReadResult(None, {})
        outs = outputs_from(live, org_id)
        return ReadResult(org_id, outs, inputs={key: outs[key] for key in INPUT_KEYS})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org_id = stored_id("organization_id", news["organization_id"])
        what = f"{WHAT} for organization {org_id}"
        record_id = olds.get("connect_account_id")
        record_id = stored_id("connect_account_id", record_id) if record_id else None
        api = shared.client()
        if not record_id:
            live = shared.run_step("reading", what, lambda: api.get_connect_account(org_id))
            if live is None:
                raise shared.describe_failure("updating", what, NotFoundError(
                    status=404, method="GET", path=f"/v1/organizations/{org_id}/stripe-connect/account",
                    message="the account no longer exists; run `pulumi refresh` to recreate it"))
            record_id = live.id
        shared.run_step("updating", what, lambda: api.update_connect_account(record_id, active=news["active"]))
        live = shared.run_step("reading", what, lambda: api.get_connect_account(org_id))
        if live is None:
            raise shared.describe_failure("updating", what, NotFoundError(
                status=404, method="GET", path=f"/v1/organizations/{org_id}/stripe-connect/account",
                message="the account vanished during the update"))
        return UpdateResult(outputs_from(live, org_id))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org_id = stored_id("organization_id", props.get("organization_id") or id_)
        record_id = props.get("connect_account_id")
        record_id = stored_id("connect_account_id", record_id) if record_id else None
        what = f"{WHAT} for organization {org_id}"
        if shared.touched(KIND, org_id):
            shared.log_info(f"{what}: leaving the account active: another resource created or adopted it in this "
                            "run (renamed without an alias, or replaced).")
            return
        api = shared.client()
        try:
            if not record_id:
                live = api.get_connect_account(org_id)
                if live is None:
                    return
                record_id = live.id
            api.update_connect_account(record_id, active=False)
        except NotFoundError:
            return  # already gone: nothing to deactivate
        except (APIConnectionError, APIError) as error:
            raise shared.describe_failure("deactivating", what, error, saved_settings=True) from None


class OrganizationConnectAccount(pulumi.dynamic.Resource, module="spaceinvoices", name="OrganizationConnectAccount"):
    """One organization's Stripe Connect account, with its onboarding status.

    The resource id is the organization id. There is no DELETE in the API: destroying the resource
    deactivates the account (``active: false``). If the organization already has an account,
    creating the resource adopts it. ``charges_enabled`` turns true once the organization finishes
    Stripe onboarding: run ``pulumi refresh`` to see it.

    Example::

        import pulumi
        from pulumi_spaceinvoices import OrganizationConnectAccount, get_onboarding_link_output

        account = OrganizationConnectAccount("acme", organization_id="644c214c6ee48100249d5d7a")
        link = get_onboarding_link_output(account.organization_id)  # made once the account exists
        pulumi.export("acme_onboarding_url", link.url)           # a secret
        pulumi.export("acme_charges_enabled", account.charges_enabled)
    """

    organization_id: pulumi.Output[str]
    active: pulumi.Output[bool]
    connect_account_id: pulumi.Output[str]
    """Space Invoices' record id of the account (used to change it)."""
    stripe_account_id: pulumi.Output[str]
    """The Stripe account id (``acct_…``)."""
    stripe_connect_id: pulumi.Output[str]
    """Id of the StripeConnectConfig this account belongs to."""
    charges_enabled: pulumi.Output[bool]
    """True once Stripe accepted the organization's details (onboarding complete)."""
    created_at: pulumi.Output[str]
    """When the account was created (ISO 8601, as the API reports it)."""
    updated_at: pulumi.Output[str]
    """When the account last changed (ISO 8601, as the API reports it)."""

    def __init__(
        self,
        resource_name: str,
        args: OrganizationConnectAccountArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        args = args if args is not None else OrganizationConnectAccountArgs(**kwargs)
        props: dict[str, Any] = {**{key: getattr(args, key) for key in INPUT_KEYS}, **dict.fromkeys(OUTPUT_ONLY_KEYS)}
        super().__init__(OrganizationConnectAccountProvider(), resource_name, props, opts)
        shared.let_registrations_start()
