"""The native lifecycle program in each language (tests/programs/native-lifecycle/<language>), made
ready to run on the SDKs generated into sdk/: each toolchain step once per test session, then each
test's copy of a program only wired to it.

- yaml: nothing to build (the YAML host talks to the plugin directly).
- python: `pip install --no-deps` of sdk/python into a folder the program gets as PYTHONPATH.
- typescript: the program's package.json installed once; sdk/nodejs compiled with its TypeScript
  and installed as a packed tarball (as `npm publish` would ship it); each copy links that node_modules.
- go: the program built once against sdk/go (a `replace` to the copy's absolute path); each copy's
  Pulumi.yaml names that binary (`runtime.options.binary`), so no step compiles again.
"""

from __future__ import annotations

import json
import os
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
LANGUAGES = ("yaml", "python", "typescript", "go")


def run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"`{' '.join(command)}` exited {result.returncode}:\n{result.stdout}{result.stderr}")


class Toolchains:
    """What each language's program needs, built under `root` the first time it is asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.preparers: dict[str, Callable[[Project], None]] = {
            "yaml": lambda project: None, "python": self._python, "typescript": self._typescript, "go": self._go}

    def prepare(self, language: str, project: Project) -> None:
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
        deps = self.root / "typescript"
        deps.mkdir()
        shutil.copy(LIFECYCLE / "typescript" / "package.json", deps)
        run("npm", "install", "--no-audit", "--no-fund", cwd=deps)
        build = deps / "sdk-build"  # inside `deps`: compiles against the program's @pulumi/pulumi
        shutil.copytree(SDK / "nodejs", build)
        run(str(deps / "node_modules" / ".bin" / "tsc"), cwd=build)
        for name in ("package.json", "README.md"):
            shutil.copy(build / name, build / "bin")
        run("npm", "pack", "--pack-destination", str(deps), str(build / "bin"), cwd=deps)
        version = json.loads((build / "package.json").read_text())["version"]
        run("npm", "install", "--no-audit", "--no-fund", "--no-save", f"./spaceinvoices-pulumi-{version}.tgz", cwd=deps)
        return deps / "node_modules"

    def _typescript(self, project: Project) -> None:
        (project.folder / "node_modules").symlink_to(self.node_modules, target_is_directory=True)

    # -- Go ---------------------------------------------------------------------------------------------
    @cached_property
    def go_binary(self) -> Path:
        source = self.root / "go-program"
        shutil.copytree(LIFECYCLE / "go", source)
        run("go", "mod", "edit", "-replace", f"github.com/spaceinvoices/pulumi-spaceinvoices/sdk/go={SDK / 'go'}",
            cwd=source)
        binary = self.root / "go-program-binary"
        run("go", "build", "-o", str(binary), ".", cwd=source)
        return binary

    def _go(self, project: Project) -> None:
        program = project.folder / "Pulumi.yaml"
        text = program.read_text().replace("runtime: go\n", f"runtime:\n  name: go\n  options:\n    binary: {self.go_binary}\n")
        program.write_text(text)
