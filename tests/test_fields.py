"""Each property is declared once (ARCHITECTURE.md, "Written once in"): a field added in only one place fails here.

The declarations are the Args and State dataclasses of the resource modules and the functions'
result dataclasses (``fields.describe`` on every field). What must follow them: the resource
classes' static annotations (Python needs them written for type checkers), the pydantic model
``check`` uses, the wire models (the one place that spells JSON keys), the plugin's schema, the
``*OutputResult`` classes and the generated Python reference pages.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from pulumi_spaceinvoices import fields, models, onboarding_entry, onboarding_link, payment_intent
from pulumi_spaceinvoices import organization_connect_account as account_module
from pulumi_spaceinvoices import stripe_connect_config as config_module
from pulumi_spaceinvoices.plugin import schema
from pulumi_spaceinvoices.plugin._names import camel

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = [
    pytest.param(config_module, config_module.StripeConnectConfig, models.StripeConnect, id="StripeConnectConfig"),
    pytest.param(account_module, account_module.OrganizationConnectAccount, models.StripeConnectAccount,
                 id="OrganizationConnectAccount"),
]
RESULTS = [
    (onboarding_entry.GetOnboardingEntryUrlResult, onboarding_entry.GetOnboardingEntryUrlOutputResult),
    (onboarding_link.GetOnboardingLinkResult, onboarding_link.GetOnboardingLinkOutputResult),
    (payment_intent.GetPaymentIntentResult, payment_intent.GetPaymentIntentOutputResult),
]
OUTPUT = re.compile(r"^pulumi\.Output\[(.*)\]$")


@pytest.mark.parametrize(("module", "resource", "answer"), RESOURCES)
def test_the_state_embeds_the_args_and_every_field_is_declared(module, resource, answer):
    declared = module.DECLARED
    assert issubclass(declared.state, declared.args)
    assert [f.name for f in declared.outputs][: len(declared.inputs)] == declared.input_keys
    assert declared.input_keys == [f.name for f in dataclasses.fields(declared.args)]
    assert all(f.prop.description.endswith(".") for f in declared.outputs), "every field says what it is, in a sentence"
    assert [f.name for f in declared.outputs] == module.INPUT_KEYS + module.OUTPUT_ONLY_KEYS


@pytest.mark.parametrize(("module", "resource", "answer"), RESOURCES)
def test_the_resource_class_annotates_exactly_the_declared_outputs_with_their_types(module, resource, answer):
    annotations = {name: text for name, text in resource.__annotations__.items() if not name.startswith("_")}
    declared = module.DECLARED.outputs
    assert list(annotations) == [f.name for f in declared], "the resource class's annotations follow the State"
    for item in declared:
        inner = OUTPUT.match(annotations[item.name])
        assert inner, f"{item.name}: annotate it as pulumi.Output[...]"
        assert fields.python_type(inner.group(1)) == fields.python_type(item.annotation), item.name
    assert getattr(resource, "_secret_outputs", []) == module.DECLARED.secrets


@pytest.mark.parametrize(("module", "resource", "answer"), RESOURCES)
def test_the_checked_model_and_the_wire_models_have_the_declared_fields(module, resource, answer):
    assert list(module.inputs_model().model_fields) == module.INPUT_KEYS
    read_from = {f.prop.wire or f.name for f in module.DECLARED.outputs}
    assert read_from <= set(answer.model_fields), "every output is read from the API's answer"
    if module is config_module:  # the request body is exactly the inputs, and the answer holds every output
        assert list(models.StripeConnectFields.model_fields) == module.INPUT_KEYS
        assert set(answer.model_fields) - read_from == {"id"}, "an answer field no output declares"
    else:
        assert set(models.StripeConnectAccountFields.model_fields) <= set(module.INPUT_KEYS)
        assert set(answer.model_fields) - read_from == set(), "an answer field no output declares"


@pytest.mark.parametrize(("module", "resource", "answer"), RESOURCES)
def test_the_schema_has_the_declared_properties_types_and_secrets(module, resource, answer):
    entry = schema.schema()["resources"][f"spaceinvoices:index:{resource.__name__}"]
    declared = module.DECLARED
    assert list(entry["inputProperties"]) == [camel(key) for key in declared.input_keys]
    assert list(entry["properties"]) == [camel(f.name) for f in declared.outputs]
    assert entry["requiredInputs"] == sorted(camel(key) for key in declared.required)
    assert {key for key, prop in entry["properties"].items() if prop.get("secret")} == {
        camel(key) for key in declared.secrets}
    for item in declared.outputs:
        prop = entry["properties"][camel(item.name)]
        assert {k: v for k, v in prop.items() if k in ("type", "$ref")} == fields.schema_type(item.annotation)


# Written out here, not read from fields: the schema check above compares the schema with
# fields.schema_type, the function the schema is built with, so the types themselves are pinned here.
@pytest.mark.parametrize(("annotation", "python", "in_schema"), [
    ("pulumi.Input[str]", str, {"type": "string"}),
    ("str | None", str, {"type": "string"}),
    ("pulumi.Input[bool] | None", bool, {"type": "boolean"}),
    ("float | None", float, {"type": "number"}),
    ("pulumi.Input[float]", float, {"type": "number"}),
    ("pulumi.Input[Mapping[str, Any]] | None", dict[str, Any], {"$ref": "pulumi.json#/Any"}),
    ("dict[str, Any] | None", dict[str, Any], {"$ref": "pulumi.json#/Any"}),
])
def test_each_declared_type_has_its_python_type_and_its_schema_type(annotation, python, in_schema):
    assert fields.python_type(annotation) == python
    assert fields.schema_type(annotation) == in_schema


def test_a_type_with_no_schema_type_is_refused():
    with pytest.raises(TypeError, match="no property type"):
        fields.schema_type("int | None")


@pytest.mark.parametrize(("result", "output_result"), RESULTS, ids=[r.__name__ for r, _ in RESULTS])
def test_each_function_result_is_declared_and_its_output_form_has_the_same_fields(result, output_result):
    declared = fields.declared(result)  # raises for a field without a declaration
    assert [f.name for f in declared] == [f.name for f in dataclasses.fields(output_result)]


def test_an_undeclared_field_is_refused():
    @dataclasses.dataclass
    class Args:
        named: str = dataclasses.field(metadata=fields.describe("Declared."))
        forgotten: str | None = None

    with pytest.raises(TypeError, match="Args.forgotten is not declared"):
        fields.declared(Args)


def test_the_python_reference_pages_are_the_generated_ones():
    from scripts.generate import kebab, python_pages

    folder = ROOT / "docs" / "reference" / "python"
    pages = python_pages()
    assert sorted(p.name for p in folder.glob("*.md")) == sorted(pages), "run python scripts/generate.py"
    for name, text in pages.items():
        assert (folder / name).read_text() == text, f"docs/reference/python/{name} is stale: run scripts/generate.py"
    for module, resource, _ in (p.values for p in RESOURCES):
        page = pages[f"{kebab(resource.__name__)}.md"]
        assert all(f"| `{key}` |" in page for key in module.INPUT_KEYS + module.OUTPUT_ONLY_KEYS)
