"""One declaration per property: what a field means is data on the field, and everything else is derived.

A resource declares its inputs once, as the fields of its public Args dataclass, and its outputs as
a State dataclass that embeds (subclasses) the Args and adds what only the API reports. Each field
carries a :class:`Prop` in its ``metadata`` (``field(metadata=describe(...))``): its description,
whether it is secret, the value ``check`` fills in when it is unset, whether leaving it unset leaves
the server's value alone, and its checks (plain functions, see ``validators.py``). From these come:
the input and output key lists, the required/secret/default lists, the pydantic model ``check``
validates with, the outputs read from a wire model, the plugin's schema and the Python reference
pages. The functions' result dataclasses are declared the same way. The wire models (``models.py``)
stay the one place that spells JSON keys.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

KEY = "spaceinvoices"  # the metadata key of a field's Prop


@dataclass(frozen=True)
class Prop:
    """What a field means, beyond its name and type."""

    description: str  # one or two sentences; reST literals (``x``), snake_case names (the schema camelCases them)
    secret: bool = False  # stored as a secret; an output the API hides keeps its stored value
    default: Any = None  # what `check` fills in when the input is unset (None: nothing)
    unmanaged_when_unset: bool = False  # unset: the server's value is left alone (no diff, not sent)
    check: tuple[Callable[..., Any], ...] = ()  # pydantic after-validators: f(value) or f(value, info)
    before: tuple[Callable[..., Any], ...] = ()  # pydantic before-validators (run before the type check)
    wire: str | None = None  # the wire model's attribute it is read from, when it is not the field's name


def describe(description: str, *, secret: bool = False, default: Any = None, unmanaged_when_unset: bool = False,
             check: Callable[..., Any] | tuple[Callable[..., Any], ...] = (),
             before: Callable[..., Any] | tuple[Callable[..., Any], ...] = (),
             wire: str | None = None) -> dict[str, Prop]:
    """The ``metadata`` of a declared field: ``field(metadata=describe("…", secret=True))``."""
    return {KEY: Prop(" ".join(description.split()), secret, default, unmanaged_when_unset,
                      check if isinstance(check, tuple) else (check,),
                      before if isinstance(before, tuple) else (before,), wire)}


@dataclass(frozen=True)
class Declared:
    """One declared field: its name, type (as written) and meaning, and whether it must be given."""

    name: str
    annotation: str
    prop: Prop
    required: bool


@cache
def declared(cls: type) -> tuple[Declared, ...]:
    """The declared fields of a dataclass, in order (a State's: the Args' first)."""
    found = []
    for item in dataclasses.fields(cls):
        prop = item.metadata.get(KEY)
        if not isinstance(prop, Prop):
            raise TypeError(f"{cls.__name__}.{item.name} is not declared: field(metadata=describe(...))")
        required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        found.append(Declared(item.name, str(item.type), prop, required))
    return tuple(found)


@dataclass(frozen=True)
class ResourceFields:
    """A resource's declarations and what is derived from them."""

    args: type  # the public Args dataclass: the inputs
    state: type  # the Args embedded, plus the outputs only the API reports

    @property
    def inputs(self) -> tuple[Declared, ...]:
        return declared(self.args)

    @property
    def outputs(self) -> tuple[Declared, ...]:
        return declared(self.state)

    @property
    def input_keys(self) -> list[str]:
        return [f.name for f in self.inputs]

    @property
    def output_only_keys(self) -> list[str]:
        inputs = set(self.input_keys)
        return [f.name for f in self.outputs if f.name not in inputs]

    @property
    def required(self) -> frozenset[str]:
        return frozenset(f.name for f in self.inputs if f.required)

    @property
    def secret_inputs(self) -> list[str]:
        return [f.name for f in self.inputs if f.prop.secret]

    @property
    def secrets(self) -> list[str]:
        """Secret inputs and outputs, in declaration order."""
        return [f.name for f in self.outputs if f.prop.secret]

    @property
    def defaults(self) -> dict[str, Any]:
        return {f.name: f.prop.default for f in self.inputs if f.prop.default is not None}

    @property
    def unmanaged_when_unset(self) -> frozenset[str]:
        return frozenset(f.name for f in self.inputs if f.prop.unmanaged_when_unset)

    @cache  # noqa: B019 - the declarations live as long as the process
    def inputs_model(self) -> type[BaseModel]:
        """The pydantic model ``check`` validates with (``<Resource>Inputs``), built on first use: only
        the provider process checks inputs, so a program's ``import`` never loads pydantic. Every input
        optional (``check`` reports the missing ones itself), strict, no other key; each field's checks
        in declaration order, so a check may read the inputs declared before it (``info.data``)."""
        from typing import Annotated

        from pydantic import AfterValidator, BeforeValidator, ConfigDict, create_model

        definitions: dict[str, Any] = {}
        for item in self.inputs:
            validators = [*(BeforeValidator(f) for f in item.prop.before), *(AfterValidator(f) for f in item.prop.check)]
            optional = python_type(item.annotation) | None
            annotated: Any = Annotated  # subscripted with a tuple built here: type checkers cannot follow it
            definitions[item.name] = (annotated[tuple([optional, *validators])] if validators else optional, None)
        config = ConfigDict(extra="forbid", strict=True, defer_build=True)
        name = self.args.__name__.removesuffix("Args") + "Inputs"
        model: type[BaseModel] = create_model(name, __config__=config, **definitions)
        return model

    def outputs_from(self, live: Any, stored: Mapping[str, Any]) -> dict[str, Any]:
        """Every output, read from a wire model by name; a secret the API hides keeps its stored value."""
        outs = {}
        for item in self.outputs:
            value = getattr(live, item.prop.wire or item.name)
            outs[item.name] = kept_secret(value, stored.get(item.name)) if item.prop.secret else value
        return outs


def kept_secret(live: str | None, stored: Any) -> Any:
    """The API may return a secret in full, masked, or not at all: keep what we know then."""
    if live is None or any(mark in live for mark in ("*", "•", "…")):
        return stored
    return live


# The types a declared field may have (as written, inside pulumi.Input[...] / pulumi.Output[...] or
# bare), their Python type for checking and their type in the schema.
_TYPES: tuple[tuple[str, Any, dict[str, Any]], ...] = (
    ("Mapping", dict[str, Any], {"$ref": "pulumi.json#/Any"}),
    ("dict", dict[str, Any], {"$ref": "pulumi.json#/Any"}),
    ("bool", bool, {"type": "boolean"}),
    ("float", float, {"type": "number"}),
    ("str", str, {"type": "string"}),
)


def _type_row(annotation: str) -> tuple[str, Any, dict[str, Any]]:
    for row in _TYPES:
        if row[0] in annotation:
            return row
    raise TypeError(f"no property type for the annotation {annotation!r}")


def python_type(annotation: str) -> Any:
    return _type_row(annotation)[1]


def schema_type(annotation: str) -> dict[str, Any]:
    return dict(_type_row(annotation)[2])


_LITERAL = re.compile(r"``([^`]+)``")


def markdown(text: str) -> str:
    """A description's reST literals (``x``) as Markdown code."""
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def docstring_parts(obj: object) -> tuple[str, str]:
    """An object's docstring (read from the object, not its source) before ``Example::``, and the
    example's code, each dedented: what the schema and the reference pages describe a member with."""
    first, _, rest = (obj.__doc__ or "").partition("\n")
    text, _, example = f"{first.strip()}\n{textwrap.dedent(rest)}".partition("Example::")
    return text.strip(), textwrap.dedent(example).strip()
