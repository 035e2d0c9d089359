"""The onboarding endpoint: what the signed entry URLs, ``refreshUrl`` and ``returnUrl`` lead to.

``spaceinvoices-onboarding serve`` runs it (uvicorn); :func:`create_app` mounts it into an ASGI app;
:class:`OnboardingEndpoint` is its framework-free core, for a Django or Flask view. Needs the
``onboarding`` extra (``pip install 'pulumi-spaceinvoices[onboarding]'``) for the ASGI parts only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import OnboardingEndpoint, Reply, Settings, Throttle, Visit

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["OnboardingEndpoint", "Reply", "Settings", "Throttle", "Visit", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # Starlette loads only for the ASGI app
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
