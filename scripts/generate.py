"""Regenerates everything made from the native provider's schema: `sdk/schema.json` (what
`pulumi package get-schema` prints for the plugin on PATH), the SDKs `pulumi package gen-sdk` writes
for Python, TypeScript and Go (`sdk/python`, `sdk/nodejs`, `sdk/go`), and the reference pages
(`docs/reference/`), and the reference pages of the dynamic providers (`docs/reference/python/`, from the
resource modules' declarations, `pulumi_spaceinvoices/fields.py`). .ci/run runs it, then fails if git sees
any change: what is checked in must be current.

    python scripts/generate.py     # needs `pulumi` (CLI_VERSION) and `pulumi-resource-spaceinvoices` on PATH
    python scripts/generate.py --cli-version   # prints CLI_VERSION (for .ci/run)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pulumi_spaceinvoices.fields import docstring_parts, markdown
from pulumi_spaceinvoices.plugin._names import snake

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdk"
REFERENCE = ROOT / "docs" / "reference"
LANGUAGES = ("python", "nodejs", "go")
# What gen-sdk writes changes between CLI releases: sdk/ is made by this one (the version .ci/run builds).
CLI_VERSION = "v3.274.1"
# The programs CI runs under the real CLI; their `example:` regions are the reference pages' examples.
PROGRAMS = ROOT / "tests" / "programs"
EXAMPLE_FILES = {"YAML": ["native-lifecycle/yaml/Pulumi.yaml", "native-read/Pulumi.yaml"],
                 "TypeScript": ["native-lifecycle/typescript/index.ts"], "Python": ["native-lifecycle/python/__main__.py"],
                 "Go": ["native-lifecycle/go/main.go"]}
FENCE = {"YAML": "yaml", "TypeScript": "typescript", "Python": "python", "Go": "go"}


def pulumi(*args: str, home: Path, cwd: Path) -> str:
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "NO_COLOR": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(["pulumi", *args], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"pulumi {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def generate_sdks(scratch: Path) -> dict[str, Any]:
    plugin = shutil.which("pulumi-resource-spaceinvoices", path=os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if plugin is None:
        sys.exit("pulumi-resource-spaceinvoices is not on PATH: pip install -e . first")
    home = scratch / "pulumi-home"
    version = pulumi("version", home=home, cwd=scratch).strip()
    if version != CLI_VERSION:
        sys.exit(f"sdk/ is generated with pulumi {CLI_VERSION}, and the pulumi on PATH is {version}: put that "
                 f"version first on PATH (PULUMI_CLI_VERSION={CLI_VERSION} bash scripts/pulumi-cli.sh "
                 "prints its folder)")
    schema_text = pulumi("package", "get-schema", plugin, home=home, cwd=scratch)
    schema = json.loads(schema_text)
    SDK.mkdir(exist_ok=True)
    (SDK / "schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    for language in LANGUAGES:
        out = scratch / "out"
        pulumi("package", "gen-sdk", str(SDK / "schema.json"), "--language", language, "--out", str(out),
               home=home, cwd=scratch)
        shutil.rmtree(SDK / language, ignore_errors=True)
        shutil.move(out / language, SDK / language)
        shutil.rmtree(out)
    return schema


# -- Reference pages --------------------------------------------------------------------------------

def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def kebab(name: str) -> str:
    return snake(name).replace("_", "-")


def type_of(spec: dict[str, Any]) -> str:
    if spec.get("$ref") == "pulumi.json#/Any":
        return "JSON object"
    return spec["type"]


def examples(member: str) -> list[tuple[str, str]]:
    """The `example: <member>` regions of the tested programs, as (language, code)."""
    found = []
    pattern = re.compile(rf"^[ \t]*(?:#|//) example: {member}\n(.*?)^[ \t]*(?:#|//) end example", re.M | re.S)
    for language, paths in EXAMPLE_FILES.items():
        text = "\n".join((PROGRAMS / path).read_text() for path in paths)
        match = pattern.search(text)
        if match:
            lines = match.group(1).rstrip().splitlines()
            indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
            found.append((language, "\n".join(line[indent:] for line in lines)))
    return found


def property_table(properties: dict[str, Any], required: list[str]) -> list[str]:
    rows = ["| Property | Type | Description |", "|---|---|---|"]
    for name, spec in properties.items():
        marks = [] if name not in required else ["required"]
        if spec.get("secret"):
            marks.append("secret")
        names = f"`{name}`<br>Python `{snake(name)}`, Go `{pascal(name)}`"
        kind = type_of(spec) + (f" ({', '.join(marks)})" if marks else "")
        rows.append(f"| {names} | {kind} | {spec['description']} |")
    return rows


def example_section(member: str) -> list[str]:
    found = examples(member)
    if not found:
        return []
    lines = ["## Example usage", "",
             f"From the programs CI runs under the real Pulumi CLI ([`{PROGRAMS.relative_to(ROOT)}`]"
             f"(../../{PROGRAMS.relative_to(ROOT)})), one per language.", ""]
    for language, code in found:
        lines += [f"### {language}", "", f"```{FENCE[language]}", code, "```", ""]
    return lines


def resource_page(token: str, spec: dict[str, Any]) -> str:
    name = token.rsplit(":", 1)[1]
    description, _, import_section = spec["description"].partition("\n## Import\n")
    inputs = spec["inputProperties"]
    outputs = {key: value for key, value in spec["properties"].items() if key not in inputs}
    lines = [f"# {name}", "", f"Resource `{token}` of the `spaceinvoices` native provider.", "",
             description.strip(), "", *example_section(name),
             "## Inputs", "", *property_table(inputs, spec.get("requiredInputs", [])), "",
             "## Outputs", "", "Every input is an output too, and:", "", *property_table(outputs, []), ""]
    if import_section:
        lines += ["## Import", "", import_section.strip(), ""]
    return "\n".join(lines)


def function_page(token: str, spec: dict[str, Any]) -> str:
    name = token.rsplit(":", 1)[1]
    lines = [f"# {name}", "", f"Function `{token}` of the `spaceinvoices` native provider (an invoke): "
             f"Python `{snake(name)}` / `{snake(name)}_output`, TypeScript `{name}` / `{name}Output`, Go "
             f"`{pascal(name)}` / `{pascal(name)}Output`.", "", spec["description"], "", *example_section(name),
             "## Arguments", "", *property_table(spec["inputs"]["properties"], spec["inputs"].get("required", [])),
             "", "## Result", "", *property_table(spec["outputs"]["properties"], spec["outputs"].get("required", [])),
             ""]
    return "\n".join(lines)


def provider_page(schema: dict[str, Any]) -> str:
    provider = schema["provider"]
    return "\n".join([
        "# Provider configuration", "",
        "Resource `pulumi:providers:spaceinvoices`: the stack's default provider reads the stack config "
        "`spaceinvoices:<property>`; an explicit provider takes the same properties as inputs.", "",
        provider["description"], "", *example_section("Provider"),
        "## Properties", "", *property_table(provider["inputProperties"], []), "",
        "The default provider, from stack config:", "",
        "```sh", "pulumi config set --secret spaceinvoices:accessToken <token>",
        "pulumi config set spaceinvoices:apiUrl https://api-test.spaceinvoices.com", "```", ""])


# -- The dynamic providers' (Python) reference pages, from the declarations ------------------------------

def python_type(annotation: str) -> str:
    from pulumi_spaceinvoices.fields import python_type as checked

    kind = checked(annotation)
    return "JSON object" if kind not in (str, float, bool) else kind.__name__


def declared_table(items: Any, *, inputs: bool) -> list[str]:
    rows = ["| Property | Type | Description |", "|---|---|---|"]
    for item in items:
        marks = ["required"] if inputs and item.required else []
        if item.prop.secret:
            marks.append("secret")
        if inputs and item.prop.default is not None:
            marks.append(f"default `{json.dumps(item.prop.default)}`")
        if inputs and item.prop.unmanaged_when_unset:
            marks.append("unset: left as the server has it")
        kind = python_type(item.annotation) + (f" ({', '.join(marks)})" if marks else "")
        rows.append(f"| `{item.name}` | {kind} | {markdown(item.prop.description)} |")
    return rows


def python_pages() -> dict[str, str]:
    """``{file name: Markdown}`` of docs/reference/python/: one page per dynamic resource and per function."""
    from pulumi_spaceinvoices import (
        onboarding_entry,
        onboarding_link,
        organization_connect_account,
        payment_intent,
        stripe_connect_config,
    )
    from pulumi_spaceinvoices.fields import declared

    pages: dict[str, str] = {}
    index = ["# Python (dynamic providers) reference", "",
             "Generated by `scripts/generate.py` from the declarations in the package (each property is declared "
             "once, on its Args or State dataclass: `pulumi_spaceinvoices/fields.py`). The native provider's "
             "pages are [one folder up](../README.md).", ""]
    for module, resource in ((stripe_connect_config, stripe_connect_config.StripeConnectConfig),
                             (organization_connect_account, organization_connect_account.OrganizationConnectAccount)):
        name = resource.__name__
        text, example = docstring_parts(resource)
        token = f"pulumi-python:dynamic/spaceinvoices:{name}"
        lines = [f"# {name}", "", f"`pulumi_spaceinvoices.{name}` (type `{token}`), inputs as keyword arguments "
                 f"or `{name}Args`.", "", markdown(text), "", "## Example usage", "", "```python", example, "```", "",
                 "## Inputs", "", *declared_table(module.DECLARED.inputs, inputs=True), "",
                 "## Outputs", "", "Every input is an output too, and:", "",
                 *declared_table([f for f in module.DECLARED.outputs if f.name in module.OUTPUT_ONLY_KEYS],
                                 inputs=False), ""]
        page = f"{kebab(name)}.md"
        pages[page] = "\n".join(lines)
        index.append(f"- Resource [{name}]({page})")
    for function, result in ((onboarding_entry.get_onboarding_entry_url, onboarding_entry.GetOnboardingEntryUrlResult),
                             (onboarding_link.get_onboarding_link, onboarding_link.GetOnboardingLinkResult),
                             (payment_intent.get_payment_intent, payment_intent.GetPaymentIntentResult)):
        name = function.__name__
        text, _ = docstring_parts(function)
        lines = [f"# {name}", "", f"`pulumi_spaceinvoices.{name}(...)` returns `{result.__name__}`; "
                 f"`{name}_output(...)` returns one Output per field.", "", markdown(text), "",
                 "## Result", "", *declared_table(declared(result), inputs=False), ""]
        page = f"{name.replace('_', '-')}.md"
        pages[page] = "\n".join(lines)
        index.append(f"- Function [{name}]({page})")
    pages["README.md"] = "\n".join(index) + "\n"
    return pages


def write_reference(schema: dict[str, Any]) -> None:
    pages = {"provider.md": provider_page(schema)}
    index = ["# `spaceinvoices` native provider reference", "",
             f"Generated by `scripts/generate.py` from the schema the plugin prints (`sdk/schema.json`, version "
             f"{schema['version']}). {schema['description']}", "",
             "- [Provider configuration](provider.md)"]
    for token, spec in schema["resources"].items():
        page = f"{kebab(token.rsplit(':', 1)[1])}.md"
        pages[page] = resource_page(token, spec)
        index.append(f"- Resource [{token.rsplit(':', 1)[1]}]({page})")
    for token, spec in schema["functions"].items():
        page = f"{kebab(token.rsplit(':', 1)[1])}.md"
        pages[page] = function_page(token, spec)
        index.append(f"- Function [{token.rsplit(':', 1)[1]}]({page})")
    index += ["", "The dynamic providers (`pip install`, Python programs): [their reference](python/README.md)."]
    pages["README.md"] = "\n".join(index) + "\n"
    pages.update({f"python/{page}": text for page, text in python_pages().items()})
    shutil.rmtree(REFERENCE, ignore_errors=True)
    (REFERENCE / "python").mkdir(parents=True)
    for page, text in pages.items():
        (REFERENCE / page).write_text(text)


def main() -> None:
    if sys.argv[1:] == ["--cli-version"]:
        print(CLI_VERSION)
        return
    with tempfile.TemporaryDirectory() as scratch:
        schema = generate_sdks(Path(scratch))
    write_reference(schema)
    print(f"wrote {SDK.relative_to(ROOT)}/ ({', '.join(LANGUAGES)}) and {REFERENCE.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
