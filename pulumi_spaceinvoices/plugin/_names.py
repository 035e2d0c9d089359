"""camelCase on the wire of the plugin (schema, engine), snake_case in the core: one rule for both ways."""

from __future__ import annotations

import re

_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    """``organizationId`` -> ``organization_id``."""
    return _UPPER.sub("_", name).lower()


def camel(name: str) -> str:
    """``organization_id`` -> ``organizationId``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
