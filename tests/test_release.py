"""Releases: one version everywhere, and the release workflow's job run as a runner runs it.

A commit of the repository (its tracked files as they are now, `tracked_tree`) is tagged v<version>
and pushed to a local bare remote, standing in for GitHub. The release job of
.github/workflows/release.yml then runs on a fresh runner (tests/actions_runner.py), once for this
module: it clones that tag, runs scripts/release.sh, and pushes the Go SDK's tag to the remote. The
tests check what it left: the wheel installed into a fresh virtualenv runs the quickstart under the
real CLI, the npm tarball is the SDK at the version, and `go` downloads the Go SDK at that version
from the release's module proxy folder and builds a program on it. The test job (the whole suite)
is not run here: it is checked to be the README's test command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2_grpc

from pulumi_spaceinvoices._version import __version__
from scripts.generate import CLI_VERSION
from tests.actions_runner import JobResult, Runner, base_python, load_workflow, machine_path
from tests.realengine import require_cli
from tests.support import RemoteSandbox, api_calls
from tests.test_examples import RUNNER_MACHINE, shown, tracked_tree

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
RELEASE_SCRIPT = ROOT / "scripts" / "release.sh"
GO_MODULE = "github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go"
TAG = f"v{__version__}"
# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
                    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
ARTIFACTS = [f"pulumi_spaceinvoices-{__version__}-py3-none-any.whl", f"pulumi_spaceinvoices-{__version__}.tar.gz",
             f"sdk-go-{TAG}.zip", f"spaceinvoices-pulumi-{__version__}.tgz"]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def readme_test_command() -> str:
    """The command README.md's first code block gives for running the whole test suite."""
    block = re.search(r"^```bash\n(.*?)^```$", (ROOT / "README.md").read_text(), re.M | re.S).group(1)
    [line] = [line for line in block.splitlines() if "test suite" in line]
    return line.split("#")[0].strip()


def changelog_versions() -> list[str]:
    """The versions CHANGELOG.md has a section for, newest first (an `[Unreleased]` one is not a version)."""
    return re.findall(r"^## \[(\d[^\]]*)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)


def changelog_section(version: str) -> str:
    text = (ROOT / "CHANGELOG.md").read_text()
    body = text.split(f"\n## [{version}] ", 1)[1].split("\n", 1)[1]
    return re.split(r"^## |^\[[^\]]+\]: ", body, maxsplit=1, flags=re.M)[0]


@dataclass
class Release:
    job: JobResult
    remote: Path
    commit: str

    @property
    def dist(self) -> Path:
        return self.job.workspace / "dist"

    def artifact(self, name: str) -> Path:
        return self.dist / name


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """The release job, run once for a tag v<version> pushed to a local bare remote."""
    root = tmp_path_factory.mktemp("release")
    tree = tracked_tree(root / "tree")
    identity = ["-c", "user.name=Release Test", "-c", "user.email=release@example.com"]
    git("init", "--quiet", cwd=tree)
    git("add", "--all", cwd=tree)
    git(*identity, "commit", "--quiet", "-m", f"Release {__version__}", cwd=tree)
    git(*identity, "tag", "--annotate", "-m", TAG, TAG, cwd=tree)
    remote = root / "remote.git"
    git("clone", "--quiet", "--bare", str(tree), str(remote), cwd=root)
    # The runner's caches are this machine's (pip's and npm's), as setup-python's and setup-node's
    # `cache:` would give a runner; everything else is fresh per job.
    machine = {**RUNNER_MACHINE, "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
               "npm_config_cache": str(Path.home() / ".npm")}
    runner = Runner(load_workflow(WORKFLOW), repository=remote, cli_dir=str(root / "no-cli"), secrets={},
                    root=root, env=machine, github_repository="someone/pulumi-spaceinvoices")
    jobs = runner.run("push", tag=TAG, jobs=["release"])
    assert not jobs["test"].ran
    job = jobs["release"]
    assert job.ok, job.log
    return Release(job, remote, git("rev-parse", f"{TAG}^{{commit}}", cwd=tree).strip())


@pytest.fixture(scope="module")
def wheel_checkout(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a user of the wheel has: the quickstart's files (examples/quickstart with its
    Pulumi.yaml, no package source) and a fresh `.venv` with only the release's wheel
    installed, with its sandbox extra, from the package index as pip resolves it."""
    root = tmp_path_factory.mktemp("wheel-user")
    shutil.copytree(ROOT / "examples" / "quickstart", root / "examples" / "quickstart",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([base_python(), "-m", "venv", str(root / ".venv")], check=True)
    wheel = release.artifact(ARTIFACTS[0])
    installed = subprocess.run([str(root / ".venv" / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                f"pulumi-spaceinvoices[sandbox] @ {wheel.as_uri()}"], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


def plugin_info_version(plugin: Path) -> str:
    """The version a plugin binary reports in GetPluginInfo, what the engine asks it first."""
    process = subprocess.Popen([str(plugin), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the plugin printed {port!r} instead of its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            return provider_pb2_grpc.ResourceProviderStub(channel).GetPluginInfo(empty_pb2.Empty(), timeout=30).version
    finally:
        process.send_signal(signal.SIGINT)  # how the engine stops a plugin
        process.wait(timeout=30)


# ------------------------------------------------------------------------------ the workflow file


def test_the_release_workflow_runs_on_version_tags_and_its_test_job_is_the_readme_s_test_command(tmp_path):
    workflow = load_workflow(WORKFLOW)
    runner = Runner(workflow, repository=tmp_path, cli_dir="", secrets={}, root=tmp_path)
    assert runner.triggered_by("push", "main", TAG) and runner.triggered_by("push", "main", "v1.0.0")
    assert not runner.triggered_by("push", "main"), "a push to main releases nothing"
    assert not runner.triggered_by("push", "main", f"sdk/go/{TAG}"), "the Go tag the job pushes starts no release"

    test, release = workflow["jobs"]["test"], workflow["jobs"]["release"]
    assert release["needs"] == "test"
    assert test["steps"][-1]["run"].split("#")[0].strip() == readme_test_command() == "bash .ci/run"
    [cli] = [step for step in test["steps"] if step.get("uses", "").startswith("pulumi/actions@")]
    assert cli["with"] == {"pulumi-version": CLI_VERSION.removeprefix("v")}, "the CLI that sdk/ is generated with"
    assert [step["uses"].split("@")[0] for step in release["steps"] if "uses" in step] == [
        "actions/checkout", "actions/setup-python", "actions/setup-node", "actions/setup-go"]


# ---------------------------------------------------------------------------------- the release job


def test_the_release_job_builds_the_artifacts_pushes_the_go_tag_and_leaves_publishing_to_upstream(release):
    steps = {step.name: step for step in release.job.steps}
    assert [name for name, step in steps.items() if not step.ran] == ["Publish the GitHub release"], (
        "a fork (github.repository is another) builds everything and publishes no release")
    assert sorted(path.name for path in release.dist.iterdir() if path.is_file()) == ARTIFACTS
    assert steps["Build the artifacts"].output.count("PASSED") == 2  # twine check --strict, wheel and sdist

    # The Go SDK's tag, on the remote, at the released commit.
    tags = git("ls-remote", "--tags", str(release.remote), cwd=release.remote)
    assert f"{release.commit}\trefs/tags/sdk/go/{TAG}\n" in tags

    # What the publish step would attach: its file patterns, expanded in the job's workspace.
    publish = load_workflow(WORKFLOW)["jobs"]["release"]["steps"][-1]
    patterns = re.findall(r"dist/\S+", publish["run"])
    attached = subprocess.run(["bash", "-c", f"printf '%s\\n' {' '.join(patterns)}"], cwd=release.job.workspace,
                              capture_output=True, text=True, check=True).stdout.split()
    assert sorted(Path(name).name for name in attached) == ARTIFACTS
    notes = (release.job.workspace.parent.parent / "temp" / "notes.md").read_text()
    assert notes == changelog_section(__version__) and "### Added" in notes


def test_the_release_script_refuses_a_tag_that_is_not_the_version_before_building_anything(tmp_path):
    refused = subprocess.run(["bash", str(RELEASE_SCRIPT), str(tmp_path / "out"), "v9.9.9"], capture_output=True,
                             text=True)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"release.sh: the tag v9.9.9 does not match the version in pulumi_spaceinvoices/_version.py ({__version__}):"
        f" tag {TAG}, or change the version and regenerate")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("version", "change", "said"), [
    ("1.0.0rc1", None, "pulumi_spaceinvoices/_version.py says '1.0.0rc1'; a release version is MAJOR.MINOR.PATCH"),
    ("1.0.0", "README.md", "tracked files differ from the commit"),
])
def test_the_release_script_refuses_a_version_that_is_not_semver_and_uncommitted_changes(tmp_path, version, change,
                                                                                          said):
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "pulumi_spaceinvoices").mkdir()
    shutil.copy(RELEASE_SCRIPT, repo / "scripts")
    (repo / "pulumi_spaceinvoices" / "_version.py").write_text(f'__version__ = "{version}"\n')
    (repo / "README.md").write_text("committed\n")
    git("init", "--quiet", cwd=repo)
    git("add", "--all", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "x", cwd=repo)
    if change:
        (repo / change).write_text("changed\n")
    refused = subprocess.run(["bash", "scripts/release.sh", str(tmp_path / "out")], cwd=repo, capture_output=True,
                             text=True)
    assert refused.returncode == 1 and said in refused.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------ one version


def test_every_place_a_version_appears_agrees(release, wheel_checkout):
    assert SEMVER.fullmatch(__version__), f"{__version__} is not a semantic version"
    assert changelog_versions()[0] == __version__, "CHANGELOG.md's newest section is the version"

    with zipfile.ZipFile(release.artifact(ARTIFACTS[0])) as wheel:
        metadata = wheel.read(f"pulumi_spaceinvoices-{__version__}.dist-info/METADATA").decode()
    assert re.search(r"^Version: (.+)$", metadata, re.M).group(1) == __version__
    with tarfile.open(release.artifact(ARTIFACTS[1])) as sdist:
        pkg_info = sdist.extractfile(f"pulumi_spaceinvoices-{__version__}/PKG-INFO").read().decode()
    assert re.search(r"^Version: (.+)$", pkg_info, re.M).group(1) == __version__

    sdk = ROOT / "sdk"
    assert json.loads((sdk / "schema.json").read_text())["version"] == __version__
    assert re.search(r'^VERSION = "(.+)"$', (sdk / "python" / "setup.py").read_text(), re.M).group(1) == __version__
    assert json.loads((sdk / "nodejs" / "package.json").read_text())["version"] == __version__
    for plugin_json in (sdk / "python" / "pulumi_spaceinvoices_native" / "pulumi-plugin.json",
                        sdk / "go" / "spaceinvoices" / "pulumi-plugin.json"):
        assert json.loads(plugin_json.read_text())["version"] == __version__, plugin_json
    assert set(re.findall(r'semver\.MustParse\("(.+?)"\)', (
        sdk / "go" / "spaceinvoices" / "internal" / "pulumiUtilities.go").read_text())) == {__version__}

    # The plugin the wheel installs reports it to the engine, and its schema (what gen-sdk reads) says it.
    plugin = wheel_checkout / ".venv" / "bin" / "pulumi-resource-spaceinvoices"
    assert plugin_info_version(plugin) == __version__
    with zipfile.ZipFile(release.artifact(f"sdk-go-{TAG}.zip")) as go_zip:
        assert {name.split("/sdk/go@", 1)[1].split("/")[0] for name in go_zip.namelist()} == {TAG}


def test_the_wheel_and_sdist_hold_the_package_the_plugin_and_the_changelog_and_no_partial_tests(release):
    with zipfile.ZipFile(release.artifact(ARTIFACTS[0])) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"pulumi_spaceinvoices-{__version__}.dist-info/entry_points.txt").decode()
        metadata = wheel.read(f"pulumi_spaceinvoices-{__version__}.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines() and "License-File: LICENSE" in metadata
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert {"pulumi_spaceinvoices/py.typed", "pulumi_spaceinvoices/pulumi-plugin.json",
            "pulumi_spaceinvoices/plugin/server.py", "pulumi_spaceinvoices/sandbox/app.py",
            f"pulumi_spaceinvoices-{__version__}.dist-info/licenses/LICENSE",  # pyproject's license-files
            # the policy pack's folder, which `--policy-pack` takes as it is installed
            *(f"pulumi_spaceinvoices/policy/pack/{name}" for name in (
                "PulumiPolicy.yaml", "__main__.py", "spaceinvoices_policy.py", "requirements.txt"))} <= names
    assert "pulumi-resource-spaceinvoices = pulumi_spaceinvoices.plugin.server:main" in entry_points
    assert "spaceinvoices-sandbox = pulumi_spaceinvoices.sandbox.cli:main" in entry_points
    with tarfile.open(release.artifact(ARTIFACTS[1])) as sdist:
        top = {name.split("/")[1] for name in sdist.getnames() if name.count("/") >= 1}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "pulumi_spaceinvoices"} <= top
    assert "tests" not in top


# ------------------------------------------------------------------------------- each artifact works


def test_the_wheel_in_a_fresh_virtualenv_runs_the_quickstart_under_the_real_cli(wheel_checkout, tmp_path):
    """examples/quickstart/run.sh as a user of the wheel runs it: its `.venv` has the wheel (not an
    editable checkout), which run.sh takes as installed; its sandbox is the wheel's command."""
    cli_dir = str(Path(require_cli()).parent)
    venv_python = wheel_checkout / ".venv" / "bin" / "python"
    where = subprocess.run([str(venv_python), "-c", "import sys, pulumi_spaceinvoices as p; print(p.__file__); "
                            "print(*sys.path, sep='\\n')"], capture_output=True, text=True, check=True,
                           cwd=wheel_checkout).stdout.splitlines()
    assert Path(where[0]).is_relative_to(wheel_checkout / ".venv" / "lib"), where[0]
    assert not any(entry.startswith(str(ROOT)) for entry in where[1:]), "no checkout on sys.path"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SPACEINVOICES_"))
              and k != "VIRTUAL_ENV"},
           "PATH": os.pathsep.join([cli_dir, *machine_path()]), "PULUMI_HOME": str(tmp_path / "pulumi-home"),
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}

    def run_sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "examples/quickstart/run.sh", *args], cwd=wheel_checkout, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, stdin=subprocess.DEVNULL)

    try:
        up = run_sh()
        assert up.returncode == 0, shown(up.stdout)
        assert "pulumi-spaceinvoices and its sandbox are already installed in .venv" in up.stdout
        assert "charges_enabled      false" in up.stdout
        log = (wheel_checkout / ".pulumi-state" / "sandbox.log").read_text()
        url = re.search(r"^export SPACEINVOICES_API_URL=(\S+)$", log, re.M).group(1)
        # The entry URL is made with no call (the wheel's onboarding endpoint runs beside the sandbox).
        assert api_calls(RemoteSandbox(url), pages=True) == {
            "get_connect": 1, "enable_connect": 1, "get_account": 1, "create_account": 1}
    finally:
        stopped = run_sh("stop")
    assert "Stopped the sandbox" in stopped.stdout and "Stopped the onboarding endpoint" in stopped.stdout, \
        stopped.stdout


def test_the_npm_tarball_is_the_typescript_sdk_at_the_version(release):
    with tarfile.open(release.artifact(f"spaceinvoices-pulumi-{__version__}.tgz")) as tarball:
        package = json.load(tarball.extractfile("package/package.json"))
        names = set(tarball.getnames())
    assert (package["name"], package["version"]) == ("@spaceinvoices/pulumi", __version__)
    assert package["pulumi"] == {"resource": True, "name": "spaceinvoices", "version": __version__}
    assert {"package/index.js", "package/index.d.ts", "package/stripeConnectConfig.js",
            "package/onboardingLink.d.ts"} <= names


GO_PROGRAM = """package main

import (
\t"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
\t"github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go/spaceinvoices"
)

func main() {
\tpulumi.Run(func(ctx *pulumi.Context) error {
\t\t_, err := spaceinvoices.NewOrganizationConnectAccount(ctx, "acme", &spaceinvoices.OrganizationConnectAccountArgs{
\t\t\tOrganizationId: pulumi.String("644c214c6ee48100249d5d7a"),
\t\t})
\t\treturn err
\t})
}
"""


def test_go_downloads_the_sdk_at_the_tag_s_version_from_the_release_and_a_program_builds_on_it(release, tmp_path):
    """The release's goproxy/ folder as the only GOPROXY: `go mod download` of the SDK at the version
    (go checks the zip and computes its hash), from the tag sdk/go/vX.Y.Z of the released commit;
    then a program on the module as downloaded builds. The download goes to a module cache of its
    own: in the machine's, the module would stay and later runs would never ask the release for it.
    The program's other modules come from the machine's cache (the lifecycle program's go.mod and
    go.sum, as tests/native_sdks.py builds it), so its build is mostly cached."""
    env = {**os.environ, "GOPROXY": f"file://{release.dist / 'goproxy'},off", "GOMODCACHE": str(tmp_path / "mod"),
           "GOFLAGS": "-modcacherw", "GONOSUMDB": GO_MODULE, "GOWORK": "off", "GOTOOLCHAIN": "local"}
    downloaded = subprocess.run(["go", "mod", "download", "-json", f"{GO_MODULE}@{TAG}"], cwd=tmp_path, env=env,
                                capture_output=True, text=True)
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    module = json.loads(downloaded.stdout)
    assert module["Version"] == TAG and module["Sum"].startswith("h1:")
    assert module["Origin"] == {"VCS": "git", "URL": "https://github.com/spaceinvoices/pulumi-spaceinvoices",
                                "Subdir": "sdk/go", "Hash": release.commit, "Ref": f"refs/tags/sdk/go/{TAG}"}
    assert Path(module["Zip"]).read_bytes() == release.artifact(f"sdk-go-{TAG}.zip").read_bytes()
    shipped = {str(path.relative_to(module["Dir"])) for path in Path(module["Dir"]).rglob("*") if path.is_file()}
    tagged = git("ls-tree", "-r", "--name-only", release.commit, "sdk/go", cwd=release.remote).split()
    # The go command adds the repository's LICENSE to a module that has none of its own.
    assert shipped == {name.removeprefix("sdk/go/") for name in tagged} | {"LICENSE"}

    program = tmp_path / "program"
    program.mkdir()
    lifecycle = ROOT / "tests" / "programs" / "native-lifecycle" / "go"
    for name in ("go.mod", "go.sum"):
        shutil.copy(lifecycle / name, program)
    (program / "main.go").write_text(GO_PROGRAM)
    build_env = {k: v for k, v in os.environ.items() if k not in ("GOPROXY", "GOMODCACHE", "GOWORK")}
    for command in (["go", "mod", "edit", "-module", "example.com/pin", f"-require={GO_MODULE}@{TAG}",
                     f"-replace={GO_MODULE}={module['Dir']}"], ["go", "build", "-o", "pin", "."]):
        built = subprocess.run(command, cwd=program, env={**build_env, "GOWORK": "off"}, capture_output=True,
                               text=True, timeout=600)
        assert built.returncode == 0, built.stdout + built.stderr
    assert (program / "pin").stat().st_size > 0
