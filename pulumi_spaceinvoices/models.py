"""Pydantic models of the Space Invoices wire format.

The only place that spells JSON keys: attributes are snake_case, aliases carry the API's camelCase.
Responses tolerate fields the server adds; requests forbid unknown fields and omit unset ones.
Secret fields are left out of ``repr``.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

_aliases = AliasGenerator(alias=to_camel)


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=_aliases, populate_by_name=True, extra="ignore", defer_build=True)


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=_aliases, populate_by_name=True, extra="forbid", defer_build=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StripeConnect(_Response):
    """Stripe Connect enabled on a Space Invoices account (one per account)."""

    id: str
    account_id: str | None = None
    private_key: str | None = Field(default=None, repr=False)
    public_key: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    connect_webhook_secret: str | None = Field(default=None, repr=False)
    active: bool | None = None
    refresh_url: str | None = None
    return_url: str | None = None
    application_fee: float | None = None
    space_invoices_fee: float | None = None
    custom: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class StripeConnectFields(_Request):
    """Body of enable (POST) and change (PATCH) of the Connect config; unset fields are not sent."""

    private_key: str | None = Field(default=None, repr=False)
    public_key: str | None = None
    application_fee: float | None = None
    refresh_url: str | None = None
    return_url: str | None = None
    connect_webhook_secret: str | None = Field(default=None, repr=False)
    active: bool | None = None
    custom: dict[str, Any] | None = None


class StripeConnectAccount(_Response):
    """An organization's Stripe Connect account (one per organization)."""

    id: str
    stripe_account_id: str | None = None
    stripe_connect_id: str | None = None
    organization_id: str
    charges_enabled: bool = False
    active: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None


class StripeConnectAccountFields(_Request):
    """Body of create (POST) and change (PATCH) of an organization's account."""

    active: bool | None = None


class OnboardingLink(_Response):
    """A single-use Stripe onboarding URL (a secret: it grants access to the onboarding form)."""

    url: str = Field(repr=False)


class PaymentIntent(_Response):
    """The public "Pay now" data of an invoice."""

    public_key: str
    client_secret: str = Field(repr=False)
    payment_intent_id: str
    amount: float | None = None
    currency_id: str | None = None


class ErrorDetail(_Response):
    path: str | None = None
    code: str | None = None
    message: str | None = None


class ErrorBody(_Response):
    """The ``error`` object of an API error response."""

    status_code: int | None = None
    name: str | None = None
    message: str | None = None
    code: str | None = None
    details: list[ErrorDetail] | None = None
