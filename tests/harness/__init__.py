"""Play the Pulumi engine's side so lifecycle tests run without the Pulumi CLI.

- `ProviderServer`: the SDK's real `python -m pulumi.dynamic` server in a subprocess, driven over
  gRPC like the engine's provider-plugin layer drives it.
- `Engine`: runs a program under the SDK's mocks, turns each dynamic resource registration into the
  engine's steps against a fresh `ProviderServer`, and keeps a checkpoint between runs.

Values are engine values: plain data with `Secret(value)` for secrets and `UNKNOWN` for values a
preview cannot know.
"""

from __future__ import annotations

from .engine import Engine, EngineError, RunResult, StateEntry, StepFailure
from .provider_server import (
    CheckFailure,
    DiffResult,
    ProviderCall,
    ProviderError,
    ProviderServer,
)
from .values import UNKNOWN, Secret, contains_secrets, contains_unknowns, strip_secrets

__all__ = [
    "UNKNOWN",
    "CheckFailure",
    "DiffResult",
    "Engine",
    "EngineError",
    "ProviderCall",
    "ProviderError",
    "ProviderServer",
    "RunResult",
    "Secret",
    "StateEntry",
    "StepFailure",
    "contains_secrets",
    "contains_unknowns",
    "strip_secrets",
]
