"""Space Invoices Stripe Connect as Pulumi resources.

Resources: :class:`StripeConnectConfig`, :class:`OrganizationConnectAccount`. Functions:
:func:`get_onboarding_entry_url` / :func:`get_onboarding_entry_url_output` (the signed URL to send),
:func:`get_onboarding_link` / :func:`get_onboarding_link_output`, :func:`get_payment_intent` /
:func:`get_payment_intent_output`. The shared HTTP client is :class:`SpaceInvoicesClient`; every
error raised derives from :class:`SpaceInvoicesError`. The local sandbox server lives in
``pulumi_spaceinvoices.sandbox`` and is imported only when used.
"""

from __future__ import annotations

import os
import shutil
import sys
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._version import __version__


def _run_dynamic_providers_with_this_python() -> None:
    """Let the Pulumi engine start the dynamic-provider plugin with this interpreter.

    The plugin runs ``$PULUMI_PYTHON_CMD`` or else the ``python3`` on PATH. An Automation API script
    started as ``.venv/bin/python deploy.py`` (the virtualenv not activated) finds another python3
    there, one without this package, and the deployment dies with ``No module named 'pulumi'``. The
    engine is a child of this process, so naming this interpreter here is enough. Nothing changes
    when the user set PULUMI_PYTHON_CMD or a virtualenv, or when PATH already leads here.
    """
    if os.environ.get("PULUMI_PYTHON_CMD") or os.environ.get("PULUMI_RUNTIME_VIRTUALENV") or not sys.executable:
        return
    on_path = shutil.which("python3")
    if on_path is None or Path(on_path).parent != Path(sys.executable).parent:
        os.environ["PULUMI_PYTHON_CMD"] = sys.executable


_run_dynamic_providers_with_this_python()

if TYPE_CHECKING:
    from .client import SpaceInvoicesClient
    from .errors import (
        APIConnectionError,
        APIError,
        AuthenticationError,
        ConfigurationError,
        InvalidInputError,
        NotFoundError,
        RateLimitError,
        ServerError,
        SpaceInvoicesError,
        UnexpectedResponseError,
        ValidationError,
    )
    from .onboarding_entry import (
        GetOnboardingEntryUrlOutputResult,
        GetOnboardingEntryUrlResult,
        get_onboarding_entry_url,
        get_onboarding_entry_url_output,
    )
    from .onboarding_link import (
        GetOnboardingLinkOutputResult,
        GetOnboardingLinkResult,
        get_onboarding_link,
        get_onboarding_link_output,
    )
    from .organization_connect_account import OrganizationConnectAccount, OrganizationConnectAccountArgs
    from .payment_intent import (
        GetPaymentIntentOutputResult,
        GetPaymentIntentResult,
        get_payment_intent,
        get_payment_intent_output,
    )
    from .settings import DEFAULT_API_URL, TEST_API_URL
    from .stripe_connect_config import StripeConnectConfig, StripeConnectConfigArgs

# Loaded on first use, so `import pulumi_spaceinvoices` costs next to nothing beyond pulumi.
_EXPORTS = {
    "APIConnectionError": "errors",
    "APIError": "errors",
    "AuthenticationError": "errors",
    "ConfigurationError": "errors",
    "DEFAULT_API_URL": "settings",
    "GetOnboardingEntryUrlOutputResult": "onboarding_entry",
    "GetOnboardingEntryUrlResult": "onboarding_entry",
    "GetOnboardingLinkOutputResult": "onboarding_link",
    "GetOnboardingLinkResult": "onboarding_link",
    "GetPaymentIntentOutputResult": "payment_intent",
    "GetPaymentIntentResult": "payment_intent",
    "InvalidInputError": "errors",
    "NotFoundError": "errors",
    "OrganizationConnectAccount": "organization_connect_account",
    "OrganizationConnectAccountArgs": "organization_connect_account",
    "RateLimitError": "errors",
    "ServerError": "errors",
    "SpaceInvoicesClient": "client",
    "SpaceInvoicesError": "errors",
    "StripeConnectConfig": "stripe_connect_config",
    "StripeConnectConfigArgs": "stripe_connect_config",
    "TEST_API_URL": "settings",
    "UnexpectedResponseError": "errors",
    "ValidationError": "errors",
    "get_onboarding_entry_url": "onboarding_entry",
    "get_onboarding_entry_url_output": "onboarding_entry",
    "get_onboarding_link": "onboarding_link",
    "get_onboarding_link_output": "onboarding_link",
    "get_payment_intent": "payment_intent",
    "get_payment_intent_output": "payment_intent",
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "DEFAULT_API_URL",
    "GetOnboardingEntryUrlOutputResult",
    "GetOnboardingEntryUrlResult",
    "GetOnboardingLinkOutputResult",
    "GetOnboardingLinkResult",
    "GetPaymentIntentOutputResult",
    "GetPaymentIntentResult",
    "InvalidInputError",
    "NotFoundError",
    "OrganizationConnectAccount",
    "OrganizationConnectAccountArgs",
    "RateLimitError",
    "ServerError",
    "SpaceInvoicesClient",
    "SpaceInvoicesError",
    "StripeConnectConfig",
    "StripeConnectConfigArgs",
    "TEST_API_URL",
    "UnexpectedResponseError",
    "ValidationError",
    "__version__",
    "get_onboarding_entry_url",
    "get_onboarding_entry_url_output",
    "get_onboarding_link",
    "get_onboarding_link_output",
    "get_payment_intent",
    "get_payment_intent_output",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
