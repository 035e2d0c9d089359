"""The native provider's programs in each language (tests/programs/native-*), made ready to run on
the SDKs generated into sdk/: each toolchain step once per test session, then each test's copy of a
program only wired to it.

- yaml: nothing to build (the YAML host talks to the plugin directly).
- python: `pip install --no-deps` of sdk/python into a folder the program gets as PYTHONPATH.
- typescript: sdk/nodejs packed by scripts/pack-nodejs-sdk.sh (docs/native-provider.md's way) and installed
  with the program's package.json, once; each copy links that node_modules.
- go: a `replace` of the SDK's module by sdk/go's absolute path. The lifecycle program is built
  once and each copy's Pulumi.yaml names that binary (`runtime.options.binary`), so no step
  compiles again; any other program (`prepare_source`) gets the lifecycle program's go.mod and
  go.sum (the same dependencies, kept in one place) and is compiled by the Go host, as a user's is.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from tests.realengine import PROGRAMS, Project

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdk"
LIFECYCLE = PROGRAMS / "native-lifecycle"
# The lifecycle programs' provider signs entry URLs: these settings, with the key a secret config value.
ENTRY_URL_CONFIG = {"onboardingUrl": "https://onboard.platform.example.com",
                    "onboardingSigningKey": "native-lifecycle-signing-key-0123456789abcdef"}
ENTRY_URL_SECRETS = {"onboardingSigningKey"}
LANGUAGES = ("yaml", "python", "typescript", "go")
GO_MODULE = "github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go"


def run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"`{' '.join(command)}` exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def use_sdk(go_program: Path) -> None:
    """Point a Go program's `replace` of the SDK module at sdk/go (the checked-in one is relative)."""
    run("go", "mod", "edit", "-replace", f"{GO_MODULE}={SDK / 'go'}", cwd=go_program)


class Toolchains:
    """What each language's program needs, built under `root` the first time it is asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.preparers: dict[str, Callable[[Project], None]] = {
            "yaml": lambda project: None, "python": self._python, "typescript": self._typescript, "go": self._go}

    def prepare(self, language: str, project: Project) -> None:
        """Wire a copy of a program in `language` to its toolchain (in Go: the lifecycle program, prebuilt)."""
        self.preparers[language](project)

    def prepare_source(self, language: str, project: Project) -> None:
        """Wire a copy of another program, whose code changes, to its toolchain."""
        if language == "go":
            for name in ("go.mod", "go.sum"):
                shutil.copy(LIFECYCLE / "go" / name, project.folder)
            use_sdk(project.folder)
        else:
            self.preparers[language](project)

    # -- Python ---------------------------------------------------------------------------------------
    @cached_property
    def python_site(self) -> Path:
        source, site = self.root / "python-sdk", self.root / "python-site"
        shutil.copytree(SDK / "python", source)  # built outside the repository: no build/ left in sdk/
        run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(source), cwd=self.root)
        return site

    def _python(self, project: Project) -> None:
        project.env["PYTHONPATH"] = str(self.python_site)

    # -- TypeScript -----------------------------------------------------------------------------------
    @cached_property
    def node_modules(self) -> Path:
        tarball = run("bash", str(ROOT / "scripts" / "pack-nodejs-sdk.sh"), str(self.root / "nodejs-sdk"),
                      cwd=self.root).strip()  # docs/native-provider.md's way
        deps = self.root / "typescript"
        deps.mkdir()
        shutil.copy(LIFECYCLE / "typescript" / "package.json", deps)
        run("npm", "install", "--no-audit", "--no-fund", cwd=deps)
        run("npm", "install", "--no-audit", "--no-fund", "--no-save", tarball, cwd=deps)
        return deps / "node_modules"

    def _typescript(self, project: Project) -> None:
        (project.folder / "node_modules").symlink_to(self.node_modules, target_is_directory=True)

    # -- Go ---------------------------------------------------------------------------------------------
    @cached_property
    def go_binary(self) -> Path:
        source = self.root / "go-program"
        shutil.copytree(LIFECYCLE / "go", source)
        use_sdk(source)
        binary = self.root / "go-program-binary"
        run("go", "build", "-o", str(binary), ".", cwd=source)
        return binary

    def _go(self, project: Project) -> None:
        program = project.folder / "Pulumi.yaml"
        text = program.read_text().replace("runtime: go\n", f"runtime:\n  name: go\n  options:\n    binary: {self.go_binary}\n")
        program.write_text(text)
