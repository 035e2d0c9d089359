"""Pydantic models of the Space Invoices wire format.

The only place that spells JSON keys: attributes are snake_case, aliases carry the API's camelCase.
Responses tolerate fields the server adds and leave out, where nothing depends on them, but take no
value of the wrong type; requests forbid unknown fields and omit unset ones. Secret fields are left
out of ``repr``.

Which answer fields are required follows the published OpenAPI document, corrected where the
client knows better (each one says why): a field is required only when something depends on it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, AliasGenerator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from .validators import is_object_id, looks_like_http_url

_aliases = AliasGenerator(alias=to_camel)

# Error types raised here; their messages are ours (the client shows them, and never pydantic's own).
OWN_ERRORS = frozenset({"object_id", "foreign_object", "http_url"})


def _object_id(value: str) -> str:
    """Ids the client keeps (in the state, or in a later URL) are 24-hex ObjectIds, nothing else."""
    if not is_object_id(value):
        raise PydanticCustomError("object_id", "is not a Space Invoices id (24 hexadecimal characters)")
    return value


def _http_url(value: str) -> str:
    """A URL the API made for people to open (an onboarding link): http(s) with a host."""
    if not looks_like_http_url(value):
        raise PydanticCustomError("http_url", "is not an http(s) URL")
    return value


ObjectId = Annotated[str, AfterValidator(_object_id)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class _Response(BaseModel):
    # Strict: "1" is not 1 and "true" is not true; NaN and Infinity are not numbers.
    model_config = ConfigDict(alias_generator=_aliases, populate_by_name=True, extra="ignore", strict=True,
                              allow_inf_nan=False, defer_build=True)


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=_aliases, populate_by_name=True, extra="forbid", defer_build=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StripeConnect(_Response):
    """Stripe Connect enabled on a Space Invoices account (one per account).

    The document requires ``privateKey`` and ``publicKey``, not ``id``. The config is a singleton,
    reached without its id, so an answer without one is still usable (an id that is there must be
    an ObjectId: it becomes the resource id). ``privateKey`` may be left out (the API hides
    secrets). ``publicKey`` is not a secret and the document requires it: an answer without it (or
    with an empty one) is not a config (a proxy's JSON, an error object answered with 200).
    """

    id: ObjectId | None = None
    account_id: str | None = None
    private_key: str | None = Field(default=None, repr=False)
    public_key: str = Field(min_length=1)
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
    """An organization's Stripe Connect account (one per organization).

    The document requires ``stripeAccountId``, ``stripeConnectId`` and ``organizationId``, not ``id``.
    Here it is the other way round: ``id`` is required (an ObjectId), since every change of the
    account is addressed by it (``PATCH /v1/stripe-connect/accounts/{id}``); the organization is the
    one asked for (validation context ``organization_id``), so an answer may leave it out but may not
    name another; the Stripe ids are only reported, so they may be missing.
    """

    id: ObjectId
    stripe_account_id: str | None = None
    stripe_connect_id: str | None = None
    organization_id: str | None = None
    charges_enabled: bool | None = None
    active: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("organization_id")
    @classmethod
    def _the_organization_asked_for(cls, value: str | None, info: ValidationInfo) -> str | None:
        asked = (info.context or {}).get("organization_id")
        if value is not None and asked is not None and value.lower() != asked.lower():
            raise PydanticCustomError("foreign_object", "names another organization than the one asked for")
        return value


class StripeConnectAccountFields(_Request):
    """Body of create (POST) and change (PATCH) of an organization's account."""

    active: bool | None = None


class OnboardingLink(_Response):
    """A single-use Stripe onboarding URL (a secret: it grants access to the onboarding form).
    It is handed to people to open, so it must be an http(s) URL."""

    url: HttpUrl = Field(repr=False)


class PaymentIntent(_Response):
    """The public "Pay now" data of an invoice. A checkout form needs the three ids (an empty one is
    as good as none); the document also requires ``currencyId``, which is only reported."""

    public_key: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    payment_intent_id: str = Field(min_length=1)
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


class ErrorAnswer(_Response):
    """An API error response: ``{"error": {...}}``. One of another shape is reported by its status."""

    error: ErrorBody


class TokenUser(_Response):
    """The answer of the token check: the token's user (the document lists no fields; all are kept)."""

    model_config = ConfigDict(extra="allow")
