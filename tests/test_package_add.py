"""`pulumi package add <this repository>` in new Python, TypeScript and Go projects, and the same
package in a Pulumi YAML project, under the real CLI with plugin downloads off.

The repository is a source-based plugin package (PulumiPlugin.yaml, `runtime: python`): the Python
language host makes a virtualenv in the plugin's folder, pip-installs pyproject.toml's project into
it and runs the plugin from there, so nothing goes on PATH. `package add` generates the SDK in the
project's language and wires it in (requirements.txt, package.json, go.mod); the program then runs
preview, up, a no-change preview and destroy against the sandbox, with the calls counted and no
warning printed. The plugin's folder is a copy of the repository's files, as a user's clone is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pulumi_spaceinvoices._version import __version__
from tests.lifecycle import Step, run_steps
from tests.native_sdks import GO_MODULE, LIFECYCLE
from tests.realengine import PROGRAMS, ROOT, Project

pytestmark = pytest.mark.native

LANGUAGES = ("python", "typescript", "go", "yaml")
SECRET_KEY = "sk_test_PackageAdd0000"
CREATE_CALLS = {"get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
# What `package add` wires the generated SDK into, per language.
WIRED = {"python": ("requirements.txt", "sdks/spaceinvoices"),
         "typescript": ("package.json", '"@spaceinvoices/pulumi": "file:sdks/spaceinvoices"'),
         "go": ("go.mod", f"replace {GO_MODULE} => ./sdks/spaceinvoices")}
NO_LINK = "method Link not implemented"


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if "warning:" in line.lower()]


@pytest.fixture(scope="session")
def checkout(tmp_path_factory) -> Path:
    """The repository's files (tracked, and new ones not ignored) in a folder of their own."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    target = tmp_path_factory.mktemp("clone") / "pulumi-spaceinvoices"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def prepare(language: str, folder: Path) -> None:
    """What a new project of `language` has before `package add` (`pulumi new` would have made it)."""
    if language == "typescript":
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=folder, check=True, capture_output=True,
                       timeout=600)
    elif language == "go":
        for name in ("go.mod", "go.sum"):
            shutil.copy(LIFECYCLE / "go" / name, folder)
        subprocess.run(["go", "mod", "edit", f"-dropreplace={GO_MODULE}", f"-droprequire={GO_MODULE}"], cwd=folder,
                       check=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_package_add_of_this_repository_then_the_lifecycle_with_no_warning(
        workspace, sandbox, account, org_id, checkout, language):
    project = workspace.project(
        PROGRAMS / "package-add" / language,
        config={"spaceinvoices:apiUrl": sandbox.url, "spaceinvoices:accessToken": account.token,
                "stripeSecretKey": SECRET_KEY, "organizationId": org_id},
        secrets={"spaceinvoices:accessToken", "stripeSecretKey"},
    )
    prepare(language, project.folder)

    added = project.pulumi("package", "add", str(checkout), check=False)
    if language == "yaml" and NO_LINK in added.stdout:
        # pulumi-yaml v1.25.0 (the YAML host built here) has no Link RPC, which `package add` and
        # `pulumi install` end with; newer hosts have it. Write the entry it would have written; the
        # install then sets up the plugin's virtualenv and stops at the same Link, and nothing else.
        program = yaml.safe_load((project.folder / "Pulumi.yaml").read_text())
        (project.folder / "Pulumi.yaml").write_text(
            yaml.safe_dump({**program, "packages": {"spaceinvoices": str(checkout)}}, sort_keys=False))
        installed = project.pulumi("install", check=False)
        assert installed.returncode == 0 or installed.stdout.strip().splitlines()[-2:] == [
            f"error: installing `packages` from Pulumi.yaml: linking package: {NO_LINK}", "context canceled"], \
            installed.stdout
    else:
        assert added.returncode == 0 and "Added package" in added.stdout, added.stdout
        if language in WIRED:
            file, line = WIRED[language]
            assert line in (project.folder / file).read_text()
            assert (project.folder / "sdks" / "spaceinvoices").is_dir()
    assert yaml.safe_load((project.folder / "Pulumi.yaml").read_text())["packages"] == {"spaceinvoices": str(checkout)}
    assert (checkout / "venv" / "bin" / "python").exists(), "the plugin runs from its own virtualenv"

    def created(_):
        assert sandbox.store.org_account(org_id)["active"] is True
        assert sandbox.store.connect_config(account.id)["public_key"] == "pk_test_PackageAdd0000"
        assert project.outputs()["chargesEnabled"] is False

    def deactivated(_):
        assert sandbox.store.org_account(org_id)["active"] is False

    ran = run_steps(sandbox, project, [
        Step("preview", project.preview, calls={}),
        Step("up", project.up, calls=CREATE_CALLS, then=created),
        Step("no-change preview", lambda: project.preview("--expect-no-changes"), calls={}),
        Step("destroy", project.destroy, calls={"update_connect": 1, "update_account": 1}, then=deactivated),
    ])
    for output in (ran["preview"].stdout, ran["up"].stdout, ran["destroy"].stdout):
        assert warnings(output) == [], "the plugin from the package's source prints no warning"
        assert account.token not in output and SECRET_KEY not in output


def test_the_plugin_runs_from_source_as_python_m_pulumi_spaceinvoices(tmp_path):
    """What the language host starts (`python -m pulumi.run.plugin pulumi-spaceinvoices`, which runs
    the package's __main__) serves the provider: it prints the port the engine reads."""
    server = subprocess.Popen([sys.executable, "-m", "pulumi.run.plugin", "pulumi-spaceinvoices", "127.0.0.1:1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        assert port.isdigit() and int(port) > 0, server.stderr.read() if server.poll() is not None else port
    finally:
        server.kill()
        server.communicate()


def test_pulumi_package_commands_run_at_the_repository_root(workspace, checkout, tmp_path):
    """At the root of a clone, beside PulumiPlugin.yaml: docs/native-provider.md's `pulumi package get-schema <the
    repository's folder>`, and `gen-sdk`. The CLI refuses a folder with both PulumiPlugin.yaml and a
    Pulumi.yaml ("detected both"), which is why the quickstart's project is examples/quickstart."""
    assert (checkout / "PulumiPlugin.yaml").is_file() and not (checkout / "Pulumi.yaml").exists()
    assert (checkout / "examples" / "quickstart" / "Pulumi.yaml").is_file()
    root = Project(workspace, checkout, "unused")  # package commands name no stack

    printed = root.pulumi("package", "get-schema", ".").stdout
    # The schema follows what the first run prints while it installs the plugin's virtualenv.
    schema = json.loads(printed if printed.startswith("{") else printed[printed.index("\n{") + 1:])
    assert schema["name"] == "spaceinvoices" and schema["version"] == __version__
    assert {"spaceinvoices:index:StripeConnectConfig", "spaceinvoices:index:OrganizationConnectAccount",
            "spaceinvoices:index:OnboardingLink"} <= set(schema["resources"])

    # Every package command loads the project of the folder it runs in, whatever the package; this
    # one names the plugin on PATH, so nothing is installed a second time.
    plugin = shutil.which("pulumi-resource-spaceinvoices", path=workspace.env["PATH"])
    out = tmp_path / "sdk"
    root.pulumi("package", "gen-sdk", plugin, "--language", "python", "--out", str(out))
    assert list(out.rglob("organization_connect_account.py")), sorted(p.name for p in out.rglob("*"))
