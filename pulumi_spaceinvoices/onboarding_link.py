"""get_onboarding_link / get_onboarding_link_output: a fresh Stripe onboarding URL for an organization.

A link is single-use and expires after about five minutes; it is a secret (whoever holds it can
fill in the organization's Stripe details). When onboarding is already complete no link is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pulumi

from ._functions import call_as_output, client_for
from .errors import APIConnectionError, APIError, NotFoundError
from .fields import describe
from .validators import checked_object_id

if TYPE_CHECKING:
    from .client import SpaceInvoicesClient

LINK_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class GetOnboardingLinkResult:
    """Result of :func:`get_onboarding_link`."""

    organization_id: str = field(metadata=describe("The organization the link is for (24 hexadecimal characters)."))
    onboarding_complete: bool = field(metadata=describe(
        "True when the organization's charges are enabled; then ``url`` is None."))
    url: str | None = field(default=None, repr=False, metadata=describe(
        "Single-use onboarding URL (a secret).", secret=True))
    expires_at: str | None = field(default=None, metadata=describe(
        "Estimated expiry (UTC, ISO 8601): Stripe links last about five minutes."))


@dataclass(frozen=True)
class GetOnboardingLinkOutputResult:
    """Result of :func:`get_onboarding_link_output`: one Output per field, ``url`` secret."""

    organization_id: pulumi.Output[str]
    onboarding_complete: pulumi.Output[bool]
    url: pulumi.Output[str | None]
    expires_at: pulumi.Output[str | None]


def get_onboarding_link(
    organization_id: str, *, access_token: str | None = None, api_url: str | None = None
) -> GetOnboardingLinkResult:
    """A fresh onboarding URL for an organization whose Connect account exists (2 API calls).

    Raises InvalidInputError for a malformed id (before any request) and NotFoundError when the
    organization has no Connect account yet (create an OrganizationConnectAccount first).
    """
    return onboarding_link_with(client_for(access_token, api_url), checked_object_id("organization_id", organization_id))


def onboarding_link_with(api: SpaceInvoicesClient, org_id: str) -> GetOnboardingLinkResult:
    """What :func:`get_onboarding_link` does, with a given client (the onboarding endpoint has its own,
    paced at its share of the token's budget). ``org_id`` must be validated already."""
    try:
        account = api.get_connect_account(org_id)
        if account is None:
            from .client import account_path

            raise NotFoundError.missing(account_path(org_id), f"organization {org_id} has no Stripe Connect account "
                                        "yet; create an OrganizationConnectAccount for it first")
        if account.charges_enabled:
            return GetOnboardingLinkResult(organization_id=org_id, onboarding_complete=True)
        link = api.create_onboarding_link(org_id)
    except (APIError, APIConnectionError) as error:
        from .core import describe_failure  # pulumi.dynamic loads only when it is needed

        raise describe_failure("get_onboarding_link", f"for organization {org_id}", error) from None
    expires = (datetime.now(timezone.utc) + LINK_LIFETIME).isoformat(timespec="seconds").replace("+00:00", "Z")
    return GetOnboardingLinkResult(organization_id=org_id, onboarding_complete=False, url=link.url,
                                   expires_at=expires)


def get_onboarding_link_output(
    organization_id: pulumi.Input[str],
    *,
    access_token: pulumi.Input[str] | None = None,
    api_url: pulumi.Input[str] | None = None,
    opts: pulumi.InvokeOutputOptions | None = None,
) -> GetOnboardingLinkOutputResult:
    """The output form: unknown during preview (the API is never called then), ``url`` secret.

    Pass the resource's output (``account.organization_id``) so the link is made after the
    account exists.
    """
    token = pulumi.Output.unsecret(pulumi.Output.from_input(access_token)) if access_token is not None else None

    def fetch(org_id: str, token_value: str | None, url: str | None) -> GetOnboardingLinkResult:
        return get_onboarding_link(org_id, access_token=token_value, api_url=url)

    result = call_as_output(fetch, organization_id, token, api_url, opts=opts)
    return GetOnboardingLinkOutputResult(
        organization_id=result.apply(lambda r: r.organization_id),
        onboarding_complete=result.apply(lambda r: r.onboarding_complete),
        url=pulumi.Output.secret(result.apply(lambda r: r.url)),
        expires_at=result.apply(lambda r: r.expires_at),
    )

