"""The native provider: ``pulumi-resource-spaceinvoices``, a Pulumi provider plugin (package
``spaceinvoices``) that serves the same resource logic as the dynamic providers to every Pulumi
language, ``pulumi import`` and explicit provider instances.

- ``schema``: the package schema, derived from the core modules' fields and docstrings.
- ``provider``: the engine's requests translated to the core (the dynamic providers' classes) and back.
- ``server``: the gRPC server and console script; this package's errors as one line.

Nothing here is imported by ``import pulumi_spaceinvoices``.
"""

from __future__ import annotations
