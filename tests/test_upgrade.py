"""Upgrades, as Pulumi's providertest does them: a stack made by an earlier version of this package,
then run by the working tree, under the real `pulumi` CLI against the sandbox, with the API calls of
every step counted from the sandbox's request log.

The earlier versions are pinned by commit (OLD) and taken from the repository's own history with
`git archive`: the old package is put on PYTHONPATH for the CLI (the program and the dynamic-provider
process inherit it), and the old plugin is a `pulumi-resource-spaceinvoices` shim first on PATH that
runs it on this environment's interpreter (the dependencies are the same). Then, with neither, the
working tree (the installed package and console script) must find the stack as it left it:
`preview --expect-no-changes` with no call, `refresh` with no change and one read per resource, an
in-place update, and `destroy`, which deactivates.

Also here: the names a release may not break (ARCHITECTURE.md, "Compatibility"), pinned against
tests/data/public_names.json.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pulumi_spaceinvoices import organization_connect_account, stripe_connect_config
from tests.realengine import PROGRAMS, ROOT
from tests.support import provider_string

# The earlier versions every upgrade test starts from, by commit, and what each one is.
OLD = {
    "ee7ad32": "the first release of the dynamic providers",
    "6fff7be": "the first commit with the native plugin",
}
PUBLIC_NAMES = Path(__file__).resolve().parent / "data" / "public_names.json"
SECRET_KEY = "sk_test_UpgradeTests0000"
WEBHOOK_SECRET = "whsec_UpgradeTests0000"
SECRET_MARKER = "4dabf18193072939515e22adb298388d"  # the key of an encrypted value in `pulumi stack export`
CORES = (stripe_connect_config, organization_connect_account)
PROVIDERS = (stripe_connect_config.StripeConnectConfigProvider,
             organization_connect_account.OrganizationConnectAccountProvider)


# Loaded at start-up by every Python process that has the probe's folder on PYTHONPATH: it writes down
# where the import system finds the package (the path finder, which comes before the editable
# install's finder), so the test knows the old code ran in the program, the dynamic-provider process
# and the plugin, and not the working tree.
PROBE = """\
import importlib.machinery, sys

class _Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "pulumi_spaceinvoices":
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            with open({log!r}, "a") as log:
                log.write(f"{{spec.origin if spec else None}}\\n")
        return None

sys.meta_path.insert(0, _Probe())
"""


@dataclass(frozen=True)
class OldVersion:
    """One earlier version, extracted under a folder of the test session."""

    commit: str
    folder: Path  # holds pulumi_spaceinvoices/ as it was at `commit`
    probe: Path  # a sitecustomize that logs where each process under this version took the package from
    plugin: Path | None  # the `pulumi-resource-spaceinvoices` shim that runs its plugin, if it had one

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join([str(self.folder), str(self.probe)])

    def env(self, path: str) -> dict[str, str]:
        """What the CLI needs to run this version instead of the working tree (`path`: the PATH to go before)."""
        env = {"PYTHONPATH": self.pythonpath}
        if self.plugin is not None:
            env["PATH"] = os.pathsep.join([str(self.plugin.parent), path])
        return env

    def loaded(self) -> list[str]:
        """Where each process run with this version so far found `pulumi_spaceinvoices`, one line a process."""
        log = self.probe / "loaded.log"
        return log.read_text().splitlines() if log.exists() else []


def extract(commit: str, root: Path) -> OldVersion:
    """`git archive` of the package at `commit` into `root`, and the plugin shim if it had the plugin."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        what = OLD.get(commit, "an earlier version")
        pytest.fail(f"commit {commit} ({what}) is not in this clone's history: the upgrade tests take the old "
                    "version from it with `git archive`; clone with the full history (actions/checkout: "
                    "`fetch-depth: 0`, or `git fetch --unshallow`)", pytrace=False)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "pulumi_spaceinvoices"],
                             capture_output=True, check=True).stdout
    folder = root / commit
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Our own history, but the safe filter where this Python has it (3.10.12+, 3.11.4+, 3.12+).
        tar.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    probe = root / f"{commit}-probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE.format(log=str(probe / "loaded.log")))
    plugin = folder / "pulumi_spaceinvoices" / "plugin"
    if not plugin.is_dir():
        return OldVersion(commit, folder, probe, None)
    run = ("-m pulumi_spaceinvoices.plugin" if (plugin / "__main__.py").is_file()
           else "-c 'from pulumi_spaceinvoices.plugin.server import main; main()'")
    shim = root / f"{commit}-bin" / "pulumi-resource-spaceinvoices"
    shim.parent.mkdir()
    shim.write_text(f"#!/bin/sh\n# The plugin as it was at {commit}, on the tests' interpreter.\n"
                    f"PYTHONPATH='{folder}{os.pathsep}{probe}' exec '{sys.executable}' {run} \"$@\"\n")
    shim.chmod(0o755)
    return OldVersion(commit, folder, probe, shim)


@pytest.fixture(scope="session")
def old_versions(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], OldVersion]:
    """`old_versions(commit)`: that commit, extracted the first time a test of the session asks for it."""
    root = tmp_path_factory.mktemp("old-versions")
    cache: dict[str, OldVersion] = {}

    def get(commit: str) -> OldVersion:
        if commit not in cache:
            cache[commit] = extract(commit, root)
        return cache[commit]

    return get


def calls(sandbox) -> Counter[str]:
    """Operations the sandbox served since the last clear (the pages a browser opens excluded)."""
    return Counter(r.operation for r in sandbox.requests() if not r.operation.startswith("page_"))


def done(output: str, verb: str) -> dict[str, str]:
    """This package's resources the CLI reports as `verb` (updated, deleted): type -> what follows (the diff)."""
    found = {}
    for line in output.splitlines():
        match = re.match(rf"\s*[-~+]+\s+(\S+) \S+ {verb} \([^)]*\)\s*(.*)$", line)
        if match and not match.group(1).startswith("pulumi:"):
            found[match.group(1)] = match.group(2).strip()
    return found


def default_and_explicit_providers(resources: list[dict[str, Any]]) -> dict[str, str]:
    """The provider resources in a checkpoint, urn -> id (a new id would mean a replaced provider)."""
    return {r["urn"]: r["id"] for r in resources if r["type"].startswith("pulumi:providers:")}


def ours(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """This package's resources in a checkpoint, by type (the stack and the providers left out)."""
    return {r["type"]: r for r in resources if not r["type"].startswith("pulumi:")}


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values without the encrypted ones (a new nonce on every export)."""
    return {k: v for k, v in values.items() if not (isinstance(v, dict) and SECRET_MARKER in v)}


def pickled_globals(serialized: str) -> list[tuple[str, str]]:
    """The (module, name) pairs a pickled `__provider` names, each resolved in the working tree."""
    named: list[tuple[str, str]] = []

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            named.append((module, name))
            return super().find_class(module, name)

    provider = Recording(io.BytesIO(base64.b64decode(serialized))).load()
    assert type(provider) in PROVIDERS
    return named


@dataclass(frozen=True)
class Adapter:
    """What differs between the dynamic providers and the plugin: the program and the names in the state."""

    program: str
    settings: str  # the prefix of the program's `apiUrl` and `accessToken` config keys
    connect: str  # type tokens
    account: str
    connect_keys: tuple[str, ...]  # every property the working tree knows, as the state spells it
    account_keys: tuple[str, ...]
    fee: str  # the state's name of `applicationFee`

    def config(self, sandbox, account, org_id) -> dict[str, Any]:
        return {f"{self.settings}apiUrl": sandbox.url, f"{self.settings}accessToken": account.token,
                "stripeSecretKey": SECRET_KEY, "connectWebhookSecret": WEBHOOK_SECRET, "organizationId": org_id}

    @property
    def secrets(self) -> set[str]:
        return {f"{self.settings}accessToken", "stripeSecretKey", "connectWebhookSecret"}


def _adapters() -> dict[str, Adapter]:
    from pulumi_spaceinvoices.plugin.schema import schema

    native = {token: tuple(spec["properties"]) for token, spec in schema()["resources"].items()}
    connect, account = "spaceinvoices:index:StripeConnectConfig", "spaceinvoices:index:OrganizationConnectAccount"
    return {
        "dynamic": Adapter(
            "upgrade-dynamic", "spaceinvoices:",
            *(f"pulumi-python:{getattr(core, core.WHAT)._resource_type_name}" for core in CORES),
            *(("__provider", *core.INPUT_KEYS, *core.OUTPUT_ONLY_KEYS) for core in CORES), "application_fee"),
        "native": Adapter("upgrade-native", "", connect, account, native[connect], native[account], "applicationFee"),
    }


ADAPTERS = _adapters()


@pytest.mark.parametrize(("adapter", "commit"), [
    pytest.param("dynamic", "ee7ad32", id="dynamic-from-ee7ad32"),
    pytest.param("dynamic", "6fff7be", id="dynamic-from-6fff7be"),
    pytest.param("native", "6fff7be", id="native-from-6fff7be"),
])
def test_a_stack_made_by_an_earlier_version_keeps_working_after_the_upgrade(
        workspace, sandbox, account, org_id, old_versions, adapter, commit):
    kind = ADAPTERS[adapter]
    project = workspace.project(PROGRAMS / kind.program, config=kind.config(sandbox, account, org_id),
                                secrets=kind.secrets)
    old = old_versions(commit)

    # -- The stack, made by the old version.
    project.env = old.env(workspace.env["PATH"])
    before = len(old.loaded())
    sandbox.clear_requests()
    project.up()
    assert calls(sandbox) == {"get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
    loaded = old.loaded()[before:]
    # dynamic: the program and the provider process; native: the plugin (YAML runs no Python).
    assert len(loaded) >= (2 if adapter == "dynamic" else 1), loaded
    assert all(origin.startswith(f"{old.folder}{os.sep}") for origin in loaded), loaded
    made = ours(project.resources())
    providers = default_and_explicit_providers(project.resources())

    # What the working tree must still understand in that state: the type tokens, the property
    # names, the ids (the record id of the config, the organization id of an account) and, for the
    # dynamic providers, the module paths of the pickled `__provider`.
    assert set(made) == {kind.connect, kind.account}
    record = sandbox.store.connect_config(account.id)
    assert made[kind.connect]["id"] == record["id"] and made[kind.account]["id"] == org_id
    for token, known in ((kind.connect, kind.connect_keys), (kind.account, kind.account_keys)):
        assert set(made[token]["outputs"]) - set(known) == set(), f"{token}: properties the working tree lost"
        assert set(made[token]["inputs"]) - set(known) == set(), f"{token}: inputs the working tree lost"
    if adapter == "dynamic":
        for token, provider in zip((kind.connect, kind.account), PROVIDERS, strict=True):
            stored = made[token]["outputs"]["__provider"]
            assert pickled_globals(stored) == [(provider.__module__, provider.__qualname__)]
            assert stored == provider_string(provider()), "the working tree pickles the same bytes"

    # -- The working tree: no PYTHONPATH, the installed console script.
    project.env = {}
    runs = len(old.loaded())
    sandbox.clear_requests()
    project.preview("--expect-no-changes")
    assert calls(sandbox) == {}, "a preview after the upgrade calls nothing"

    project.refresh("--expect-no-changes")
    assert calls(sandbox) == {"get_connect": 1, "get_account": 1}, "refresh reads each resource once"
    after = ours(project.resources())
    for token in made:
        assert plain(after[token]["outputs"]) == plain(made[token]["outputs"]), f"{token}: refresh changed it"
        assert after[token]["id"] == made[token]["id"]
    sandbox.clear_requests()
    project.preview("--expect-no-changes")
    assert calls(sandbox) == {}, "the refreshed state is still what the program declares"

    project.set_config({"applicationFee": 2.5, "accountActive": False})
    sandbox.clear_requests()
    updated = project.up()
    assert done(updated.stdout, "updated") == {kind.connect: f"[diff: ~{kind.fee}]", kind.account: "[diff: ~active]"}
    assert "replaced" not in updated.stdout
    assert calls(sandbox) == {"update_connect": 1, "get_connect": 1, "update_account": 1, "get_account": 1}
    assert sandbox.store.connect_config(account.id)["application_fee"] == 2.5
    assert sandbox.store.org_account(org_id)["active"] is False
    state = ours(project.resources())
    assert {token: r["id"] for token, r in state.items()} == {token: r["id"] for token, r in made.items()}
    assert default_and_explicit_providers(project.resources()) == providers, "the provider is not replaced"
    if adapter == "dynamic":
        assert all(state[t]["outputs"]["__provider"] == made[t]["outputs"]["__provider"] for t in made)
    sandbox.clear_requests()
    project.preview("--expect-no-changes")
    assert calls(sandbox) == {}

    sandbox.clear_requests()
    destroyed = project.destroy()
    assert set(done(destroyed.stdout, "deleted")) == {kind.connect, kind.account}
    assert calls(sandbox) == {"update_connect": 1, "update_account": 1}, "delete deactivates: the API has no DELETE"
    assert sandbox.store.connect_config(account.id)["active"] is False
    assert sandbox.store.count_org_accounts(org_id) == 1
    assert ours(project.resources()) == {}
    assert len(old.loaded()) == runs, "after the upgrade nothing ran the old version"


def test_a_missing_old_commit_fails_with_what_to_do(tmp_path):
    with pytest.raises(pytest.fail.Exception) as failed:
        extract("0000000", tmp_path)
    assert "is not in this clone's history" in str(failed.value) and "fetch-depth: 0" in str(failed.value)


# -- The names a release may not break ---------------------------------------------------------------

def public_names() -> dict[str, Any]:
    """What the working tree exposes that lives on in users' programs and states, as the pinned file spells it."""
    from pulumi_spaceinvoices.plugin.schema import schema

    spec = schema()
    dynamic = {
        f"pulumi-python:{getattr(core, core.WHAT)._resource_type_name}": {
            "provider": f"{provider.__module__}.{provider.__qualname__}",
            "inputs": list(core.INPUT_KEYS),
            "outputs": list(core.INPUT_KEYS + core.OUTPUT_ONLY_KEYS),
        }
        for core, provider in zip(CORES, PROVIDERS, strict=True)
    }
    native: dict[str, Any] = {
        token: {"inputs": list(r["inputProperties"]), "outputs": list(r["properties"])}
        for token, r in spec["resources"].items()
    }
    native.update({
        token: {"inputs": list(f["inputs"]["properties"]), "outputs": list(f["outputs"]["properties"])}
        for token, f in spec["functions"].items()
    })
    native["pulumi:providers:spaceinvoices"] = {"inputs": list(spec["provider"]["inputProperties"]),
                                                "config": list(spec["config"]["variables"])}
    return {"dynamic": dynamic, "native": native}


def flatten(names: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in names.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found |= flatten(value, path + " / ")
        else:
            found |= {f"{path}: {item}" for item in ([value] if isinstance(value, str) else value)}
            found.add(path)
    return found


def test_type_tokens_provider_module_paths_and_property_names_are_the_pinned_ones():
    pinned = flatten(json.loads(PUBLIC_NAMES.read_text()))
    current = flatten(public_names())
    assert sorted(pinned - current) == [], (
        "a release may not remove or rename these (ARCHITECTURE.md, Compatibility): every user's program or "
        "state names them")
    assert sorted(current - pinned) == [], f"new public names: add them to {PUBLIC_NAMES.name}; from then on they stay"
