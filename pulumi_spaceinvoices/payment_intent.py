"""get_payment_intent / get_payment_intent_output: the public "Pay now" data of an invoice.

Needs no access token: the invoice's ``shareableId`` is the credential. ``client_secret`` lets a
browser confirm the payment, so the output form marks it secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi

from ._functions import call_as_output, client_for
from .errors import APIConnectionError, APIError, InvalidInputError
from .fields import describe

# Shareable ids are opaque tokens: letters, digits, '-' and '_' only, so nothing can alter the path.
SHAREABLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class GetPaymentIntentResult:
    """Result of :func:`get_payment_intent`."""

    payment_intent_id: str = field(metadata=describe("The Stripe payment intent id (``pi_…``)."))
    public_key: str = field(metadata=describe("The Stripe publishable key for the checkout form."))
    client_secret: str = field(repr=False, metadata=describe(
        "The payment intent's client secret (a secret).", secret=True))
    amount: float | None = field(default=None, metadata=describe("The amount to pay, in the invoice's currency."))
    currency_id: str | None = field(default=None, metadata=describe(
        "The invoice's currency (ISO 4217 code, e.g. ``EUR``)."))


@dataclass(frozen=True)
class GetPaymentIntentOutputResult:
    """Result of :func:`get_payment_intent_output`: one Output per field, ``client_secret`` secret."""

    payment_intent_id: pulumi.Output[str]
    public_key: pulumi.Output[str]
    client_secret: pulumi.Output[str]
    amount: pulumi.Output[float | None]
    currency_id: pulumi.Output[str | None]


def get_payment_intent(shareable_id: str, *, api_url: str | None = None) -> GetPaymentIntentResult:
    """The "Pay now" data of a shared invoice (1 API call, sent without an Authorization header)."""
    if not isinstance(shareable_id, str) or not SHAREABLE_ID.fullmatch(shareable_id):
        raise InvalidInputError("shareable_id", "must be an invoice's shareable id (letters, digits, '-' and '_')")
    try:
        intent = client_for(None, api_url).get_payment_intent(shareable_id)
    except (APIError, APIConnectionError) as error:
        from .core import describe_failure  # pulumi.dynamic loads only when it is needed

        raise describe_failure("get_payment_intent", f"for document {shareable_id}", error) from None
    return GetPaymentIntentResult(
        payment_intent_id=intent.payment_intent_id, public_key=intent.public_key,
        client_secret=intent.client_secret, amount=intent.amount, currency_id=intent.currency_id,
    )


def get_payment_intent_output(
    shareable_id: pulumi.Input[str], *, api_url: pulumi.Input[str] | None = None,
    opts: pulumi.InvokeOutputOptions | None = None,
) -> GetPaymentIntentOutputResult:
    """The output form: unknown during preview (creating a payment intent is not free of effects)."""
    result = call_as_output(lambda sid, url: get_payment_intent(sid, api_url=url), shareable_id, api_url, opts=opts)
    return GetPaymentIntentOutputResult(
        payment_intent_id=result.apply(lambda r: r.payment_intent_id),
        public_key=result.apply(lambda r: r.public_key),
        client_secret=pulumi.Output.secret(result.apply(lambda r: r.client_secret)),
        amount=result.apply(lambda r: r.amount),
        currency_id=result.apply(lambda r: r.currency_id),
    )
