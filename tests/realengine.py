"""The real Pulumi CLI for tests: found on PATH, run with a home, a state backend and a passphrase of
each test's own, on a copy of a program folder.

- `find_cli()`: the `pulumi` on PATH (`.ci/run` puts one there), or None.
- `require_cli()`: that path; where it is missing, a skip that says how to get it, or a failure
  under `CI=true` (CI must run this tier).
- `Workspace(root)`: PULUMI_HOME, a file backend and a passphrase under `root`; automatic plugin
  downloads off, so any attempt to fetch a plugin is an error the test sees. `env` is the
  environment for the CLI: this interpreter's folder first on PATH (the language host and the
  dynamic-provider plugin run `python3`), no Space Invoices settings inherited from the caller.
- `Workspace.project(folder)`: a copy of a program folder with a fresh stack `dev`; `Project.pulumi(...)`
  runs the CLI there, `Project.stack` is the same stack through the Automation API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = Path(__file__).resolve().parent / "programs"
PASSPHRASE = "real-engine-tests"
INSTALL_HINT = (
    "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/iac/download-install/), or on a "
    "machine without Pulumi's download site build it with "
    "`export PATH=\"$(bash scripts/pulumi-cli.sh):$PATH\"` (what .ci/run does)"
)


def find_cli() -> str | None:
    return shutil.which("pulumi")


def require_cli() -> str:
    cli = find_cli()
    if cli is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the real-engine tests, but {INSTALL_HINT}", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return cli


def cli_environment(cli: str, *, home: Path, backend: Path, passphrase: str,
                    extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to run `cli` in: this interpreter's folder and the CLI's first on PATH, a
    private PULUMI_HOME and file backend, plugin downloads off, nothing of the caller's Pulumi or
    Space Invoices settings (the benchmarks use it too)."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SPACEINVOICES_", "PULUMI_")) and k != "VIRTUAL_ENV"}
    return {
        **inherited,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(Path(cli).parent), os.environ.get("PATH", "")]),
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{backend}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "NO_COLOR": "1",
        **(extra or {}),
    }


class Workspace:
    """A private Pulumi home, file backend and passphrase under `root`."""

    def __init__(self, root: Path, *, extra_env: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.home = root / "pulumi-home"
        self.backend = root / "state"
        self.home.mkdir(parents=True, exist_ok=True)
        self.backend.mkdir(parents=True, exist_ok=True)
        self.env = cli_environment(require_cli(), home=self.home, backend=self.backend, passphrase=PASSPHRASE,
                                   extra=extra_env)

    def project(self, folder: Path | str, *, stack: str = "dev", config: Mapping[str, Any] | None = None,
                secrets: Iterable[str] = ()) -> Project:
        """A copy of `folder` (a program folder) under this workspace, with a new stack and its config."""
        source = Path(folder)
        target = self.root / "programs" / f"{source.name}-{stack}"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "Pulumi.*.yaml", "venv"))
        project = Project(self, target, stack)
        project.pulumi("stack", "init", stack)
        project.set_config(config or {}, secrets=secrets)
        return project


class Project:
    """One program folder and one of its stacks, driven by the real CLI."""

    def __init__(self, workspace: Workspace, folder: Path, stack: str) -> None:
        self.workspace = workspace
        self.folder = folder
        self.stack_name = stack
        self.env: dict[str, str] = {}  # this program's own additions to the workspace's environment

    def pulumi(self, *args: str, check: bool = True, env: Mapping[str, str] | None = None,
               input: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS --stack dev` in the program folder; output kept as text (stdout+stderr merged)."""
        # `--stack` goes before a `--` (after it, everything is a value).
        head, tail = (args[: args.index("--")], args[args.index("--"):]) if "--" in args else (args, ())
        stackless = head[:2] in (("stack", "init"), ("state", "move")) or head[:1] in (("package",), ("install",))
        stack = [] if stackless else ["--stack", self.stack_name]
        command = [require_cli(), *head, *stack, *tail]
        result = subprocess.run(
            command, cwd=self.folder, env={**self.workspace.env, **self.env, **(env or {})}, input=input, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"`pulumi {' '.join(args)}` exited {result.returncode}:\n{result.stdout}")
        return result

    def set_config(self, values: Mapping[str, Any], *, secrets: Iterable[str] = ()) -> None:
        """`pulumi config set` each value (non-strings as JSON, which `Config.get_object` reads);
        secrets through stdin, as a user pastes them, so they never reach a command line."""
        for key, value in values.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if key in set(secrets):
                self.pulumi("config", "set", "--secret", key, input=text)
            else:
                self.pulumi("config", "set", key, "--", text)

    def up(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", "--skip-preview", *args, **kwargs)

    def preview(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.pulumi("preview", *args, **kwargs)

    def refresh(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.pulumi("refresh", "--yes", "--skip-preview", *args, **kwargs)

    def destroy(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.pulumi("destroy", "--yes", "--skip-preview", *args, **kwargs)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets").stdout)

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The stack's checkpoint, as `pulumi stack export` writes it (secrets encrypted, each time
        with a new nonce, unless `show_secrets`)."""
        flags = ["--show-secrets"] if show_secrets else []
        return json.loads(self.pulumi("stack", "export", *flags).stdout)

    def resources(self, type_suffix: str = "", *, show_secrets: bool = False) -> list[dict[str, Any]]:
        resources = self.export(show_secrets=show_secrets)["deployment"].get("resources", [])
        return [r for r in resources if r["type"].endswith(type_suffix)]

    def state_text(self) -> str:
        """Everything the backend holds for this workspace, as text (checkpoints, backups, history)."""
        return "".join(p.read_text(errors="replace") for p in self.workspace.backend.rglob("*") if p.is_file())

    @property
    def stack(self) -> Any:
        """The same stack through the Automation API (a local program folder)."""
        from pulumi import automation as auto

        return auto.select_stack(
            stack_name=self.stack_name, work_dir=str(self.folder),
            opts=auto.LocalWorkspaceOptions(env_vars={**self.workspace.env, **self.env}, pulumi_home=str(self.workspace.home)),
        )
