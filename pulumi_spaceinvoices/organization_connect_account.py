"""OrganizationConnectAccount: one organization's Stripe Connect account and its onboarding status.

Order: inputs (the Args, each field declared once: ``fields.py``), outputs (the State, which
embeds the Args), what is derived from them, then the provider's check, diff, create, read,
update, delete, and last the resource class. The resource id is the organization id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from . import core
from .errors import APIConnectionError, APIError, NotFoundError
from .fields import ResourceFields, describe
from .validators import checked_object_id, validate_object_id

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .models import StripeConnectAccount

TOUCHED_AS = "organization-account"  # what `core.touch` remembers this resource's objects as
WHAT = "OrganizationConnectAccount"


@dataclass
class OrganizationConnectAccountArgs:
    """Inputs of :class:`OrganizationConnectAccount`, each declared once."""

    organization_id: pulumi.Input[str] = field(metadata=describe(
        "Space Invoices organization id (24 hexadecimal characters). Changing it replaces the resource.",
        check=validate_object_id))
    active: pulumi.Input[bool] | None = field(default=None, metadata=describe(
        "Whether the organization's Connect account is active; default true.", default=True))


@dataclass
class OrganizationConnectAccountState(OrganizationConnectAccountArgs):
    """Outputs of :class:`OrganizationConnectAccount`: every input, then what the API reports."""

    connect_account_id: str | None = field(default=None, metadata=describe(
        "Space Invoices' record id of the account (used to change it).", wire="id"))
    stripe_account_id: str | None = field(default=None, metadata=describe("The Stripe account id (``acct_…``)."))
    stripe_connect_id: str | None = field(default=None, metadata=describe(
        "Id of the StripeConnectConfig this account belongs to."))
    charges_enabled: bool | None = field(default=None, metadata=describe(
        "True once Stripe accepted the organization's details (onboarding complete)."))
    created_at: str | None = field(default=None, metadata=describe(
        "When the account was created (ISO 8601, as the API reports it)."))
    updated_at: str | None = field(default=None, metadata=describe(
        "When the account last changed (ISO 8601, as the API reports it)."))


DECLARED = ResourceFields(OrganizationConnectAccountArgs, OrganizationConnectAccountState)
INPUT_KEYS = DECLARED.input_keys
OUTPUT_ONLY_KEYS = DECLARED.output_only_keys


def inputs_model() -> type[BaseModel]:
    """The pydantic model that validates the inputs (built on first use)."""
    return DECLARED.inputs_model()


def outputs_from(live: StripeConnectAccount, organization_id: str) -> dict[str, Any]:
    """Complete outputs. The organization is the one asked for, never one read from the answer
    (the client refuses an answer that names another)."""
    outs = DECLARED.outputs_from(live, {})
    outs["organization_id"] = organization_id
    return outs


class OrganizationConnectAccountProvider(core.SpaceInvoicesProvider):
    """Dynamic provider of :class:`OrganizationConnectAccount`."""

    declared = DECLARED

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = core.changed_keys(INPUT_KEYS, olds, news)
        replaces = [key for key in changed if key == "organization_id"]
        return DiffResult(changes=bool(changed), replaces=replaces, stables=["connect_account_id"],
                          delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        org_id, active = props["organization_id"], props["active"]
        what = f"{WHAT} for organization {org_id}"
        api = core.client()

        def adopt(found: StripeConnectAccount | None) -> StripeConnectAccount:
            if found is None:  # created concurrently: read what the other run made
                found = core.run_step("reading", what, lambda: api.get_connect_account(org_id))
            if found is None:
                from .client import account_path

                raise core.missing("creating", what, account_path(org_id), "the account was reported but cannot be read")
            return self._bring_to(org_id, found, active, what)

        live = core.create_or_adopt(
            what, read=lambda: api.get_connect_account(org_id),
            post=lambda: api.create_connect_account(org_id, active=active), adopt=adopt,
            already_exists="STRIPE_CONNECT_ACCOUNT_ALREADY_EXISTS",
            adopting=lambda found: f"{what}: the account already exists ({found.id}); adopting it.")
        core.touch(TOUCHED_AS, org_id)
        return CreateResult(org_id, outputs_from(live, org_id))

    def _bring_to(self, org_id: str, live: StripeConnectAccount, active: bool, what: str) -> StripeConnectAccount:
        """PATCH ``active`` when it differs (204), then read the new state."""
        if live.active is active:
            return live
        api = core.client()
        core.run_step("updating", what, lambda: api.update_connect_account(live.id, active=active))
        fresh = core.run_step("reading", what, lambda: api.get_connect_account(org_id))
        return fresh or live

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        org_id = checked_object_id("organization_id", props.get("organization_id") or id_)
        live = core.run_step("reading", f"{WHAT} for organization {org_id}",
                             lambda: core.client().get_connect_account(org_id), saved_settings=True)
        if live is None:
            return ReadResult(None, {})
        outs = outputs_from(live, org_id)
        return ReadResult(org_id, outs, inputs={key: outs[key] for key in INPUT_KEYS})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        org_id = checked_object_id("organization_id", news["organization_id"])
        what = f"{WHAT} for organization {org_id}"
        record_id = olds.get("connect_account_id")
        record_id = checked_object_id("connect_account_id", record_id) if record_id else None
        from .client import account_path

        api = core.client()
        if not record_id:
            live = core.run_step("reading", what, lambda: api.get_connect_account(org_id))
            if live is None:
                raise core.missing("updating", what, account_path(org_id),
                                   "the account no longer exists; run `pulumi refresh` to recreate it")
            record_id = live.id
        core.run_step("updating", what, lambda: api.update_connect_account(record_id, active=news["active"]))
        live = core.run_step("reading", what, lambda: api.get_connect_account(org_id))
        if live is None:
            raise core.missing("updating", what, account_path(org_id), "the account vanished during the update")
        return UpdateResult(outputs_from(live, org_id))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        org_id = checked_object_id("organization_id", props.get("organization_id") or id_)
        record_id = props.get("connect_account_id")
        record_id = checked_object_id("connect_account_id", record_id) if record_id else None
        what = f"{WHAT} for organization {org_id}"
        if core.touched(TOUCHED_AS, org_id):
            core.log_info(f"{what}: leaving the account active: another resource created or adopted it in this "
                          "run (renamed without an alias, or replaced).")
            return
        api = core.client()
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
            raise core.describe_failure("deactivating", what, error, saved_settings=True) from None


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

    # The outputs' static types, for type checkers: OrganizationConnectAccountState declares them
    # (meaning, order), and tests/test_fields.py holds these to it.
    organization_id: pulumi.Output[str]
    active: pulumi.Output[bool]
    connect_account_id: pulumi.Output[str]
    stripe_account_id: pulumi.Output[str]
    stripe_connect_id: pulumi.Output[str]
    charges_enabled: pulumi.Output[bool]
    created_at: pulumi.Output[str]
    updated_at: pulumi.Output[str]

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
        core.let_registrations_start()
