"""A small GitHub Actions runner for tests: the jobs of a workflow file, run step by step on this
machine the way a fresh ubuntu-latest runner runs them, for the steps this project's workflows use.

- Each job gets a fresh runner folder: its own HOME, PULUMI_HOME, RUNNER_TEMP and workspace
  (GITHUB_WORKSPACE), and a PATH of the machine's tools without any `pulumi` or virtualenv on it.
- `actions/checkout`: a fresh copy of the repository folder given to the runner (see `Runner`); when
  that folder is a bare git repository (a remote), a clone of it at the pushed tag or branch (a pull
  request's: its branch) instead, depth 1 as in Actions (`fetch-depth: 0`: all of it), its `origin`
  that remote.
- `actions/setup-python`: a fresh `python3 -m venv` (its own python3 and pip), its bin first on PATH
  for the later steps. `python-version` is not honoured: the machine's Python is used.
- `actions/setup-node`, `actions/setup-go`: the machine's node and npm, or go, must be on PATH (the
  step fails otherwise); `node-version` and `go-version` are not honoured.
- `run:` steps: the script as written (expressions substituted first, as Actions does), run with
  Actions' default Linux shell `bash -e {0}` (or `bash --noprofile --norc -eo pipefail {0}` for
  `shell: bash`), in `working-directory` (default: the workspace).
- `pulumi/actions`: the CLI command it stands for: `pulumi login <cloud-url>` when set, then
  `pulumi preview` or `pulumi up --yes --skip-preview` (what its Automation API call runs) with
  `--stack <stack-name>`, `--refresh` for `refresh: true`, a `--policy-pack`/`--policy-pack-config`
  per line of `policyPacks`/`policyPackConfigs`, in `work-dir`; `comment-on-pr` is
  ignored (there is no pull request). Like the action, it puts the CLI on PATH for later steps; with
  no `command` that is all it does, after checking that the CLI is the `pulumi-version` asked for.
- Env: the workflow's, then the job's, then the step's `env:`, merged in that order. Expressions
  `${{ env.X }}`, `${{ secrets.X }}` (an unset secret is empty, as in Actions) and
  `${{ github.event_name }}`; `if:` may be `github.<event_name|repository|ref_type> == '...'`. The
  step environment has Actions' GITHUB_REF, GITHUB_REF_NAME, GITHUB_REF_TYPE, GITHUB_REPOSITORY (the
  `Runner`'s `github_repository`) and, for a tag, GITHUB_SHA. Anything else, and any input an action
  is given that this runner does not know, is an error: nothing is silently skipped.
- Events: a push to a branch or of a tag (`on.push.tags` globs), a pull request. `run(..., jobs=[...])`
  runs only the jobs named, as if the jobs they `need` had succeeded; without `jobs`, a workflow
  with `needs:` is refused (file order is run order here).
- `strategy.matrix` with one key (a list of values): one run of the job per value, `${{ matrix.KEY }}`
  substituted, at most `max-parallel` at once (default: all), each in a runner folder of its own;
  the results are named `JOB (VALUE)`. Every value runs to its end here (as with `fail-fast: false`),
  and each result says how it ended.

Unlike Actions, the log masks nothing, so a test can check that no secret reaches it at all.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
DEFAULT_SHELL = ["bash", "-e"]
BASH_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
PULUMI_INPUTS = {"command", "stack-name", "work-dir", "refresh", "cloud-url", "comment-on-pr", "pulumi-version",
                 "policyPacks", "policyPackConfigs"}
PASSED_THROUGH = ("LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")


class WorkflowError(Exception):
    """The workflow uses something this runner does not implement."""


@dataclass
class StepResult:
    name: str
    env: dict[str, str] = field(repr=False)
    """The step's environment beyond the runner's own: workflow, job and step env, resolved (secrets
    included, so it is left out of the repr that a failing assertion prints)."""
    returncode: int
    output: str = field(repr=False)
    seconds: float = 0.0
    ran: bool = True
    """False for a step whose `if:` was false (its returncode is then 0 and its output empty)."""


@dataclass
class JobResult:
    name: str
    ran: bool
    steps: list[StepResult] = field(default_factory=list)
    workspace: Path | None = None
    """GITHUB_WORKSPACE of the job's runner: what the steps left there stays for the test to see."""

    @property
    def ok(self) -> bool:
        return self.ran and all(step.returncode == 0 for step in self.steps)

    @property
    def log(self) -> str:
        return "".join(f"##[group]{step.name}\n{step.output}\n##[endgroup]\n" for step in self.steps)


def load_workflow(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in workflow:  # YAML 1.1 reads a bare `on:` key as the boolean true
        workflow["on"] = workflow.pop(True)
    return workflow


def actions_glob(pattern: str) -> re.Pattern[str]:
    """A branch or tag filter of `on:` as a regular expression (`*`: anything but `/`; `**`: anything)."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join({"**": ".*", "*": "[^/]*"}.get(part, re.escape(part)) for part in parts) + r"\Z")


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".git"))


def machine_path() -> list[str]:
    """The machine's PATH without any folder that holds a `pulumi` or is a virtualenv's bin: a
    runner starts with neither."""
    parts = []
    for part in os.environ.get("PATH", "").split(os.pathsep):
        folder = Path(part)
        if part and not (folder / "pulumi").exists() and not (folder.parent / "pyvenv.cfg").exists():
            parts.append(part)
    return parts


def base_python() -> str:
    """The machine's own Python (not a virtualenv's, not a version-manager shim)."""
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise WorkflowError(f"no python3 under {sys.base_prefix}")


class Runner:
    """Runs a workflow's jobs for one event.

    `repository` is the folder `actions/checkout` copies (the pushed tree), `cli_dir` the folder of
    the `pulumi` that `pulumi/actions` installs, `secrets` the repository's secrets (every job may
    reference any of them, as in Actions), `root` where runner folders are made, `env` extra
    machine environment every step sees (the runner's own configuration, such as pip's),
    `github_repository` the `owner/name` the workflow runs in (`github.repository`)."""

    def __init__(self, workflow: dict[str, Any], *, repository: Path, cli_dir: str, secrets: Mapping[str, str],
                 root: Path, env: Mapping[str, str] | None = None, timeout: float = 600,
                 github_repository: str = "local/repository") -> None:
        self.workflow = workflow
        self.repository = repository
        self.cli_dir = cli_dir
        self.secrets = dict(secrets)
        self.root = root
        self.env = dict(env or {})
        self.timeout = timeout
        self.github_repository = github_repository
        self.github: dict[str, str] = {}  # the `github` context of the run under way

    # ------------------------------------------------------------------ expressions and conditions

    def _substitute(self, text: Any, event: str, env: Mapping[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1)
            context, _, name = expression.partition(".")
            if context == "env" and re.fullmatch(r"\w+", name):
                return env.get(name, "")
            if context == "secrets" and re.fullmatch(r"\w+", name):
                return self.secrets.get(name, "")
            if expression == "github.event_name":
                return event
            raise WorkflowError(f"expression not supported by the test runner: ${{{{ {expression} }}}}")

        return EXPRESSION.sub(value, str(text))

    def _resolve_env(self, block: Mapping[str, Any] | None, event: str, env: Mapping[str, str]) -> dict[str, str]:
        return {name: self._substitute(text, event, env) for name, text in (block or {}).items()}

    def _condition(self, condition: Any, event: str) -> bool:
        if condition is None:
            return True
        match = re.fullmatch(r"\s*(?:\$\{\{)?\s*github\.(event_name|repository|ref_type)\s*==\s*'([\w./-]+)'\s*"
                             r"(?:\}\})?\s*", str(condition))
        if match is None:
            raise WorkflowError(f"`if:` not supported by the test runner: {condition}")
        context = {**self.github, "event_name": event}
        return context[match.group(1)] == match.group(2)

    def triggered_by(self, event: str, branch: str, tag: str | None = None) -> bool:
        """Whether the workflow runs on `event` to `branch`, or for a push of `tag`."""
        trigger = (self.workflow.get("on") or {}).get(event)
        if trigger is None:
            return False
        trigger = trigger or {}
        if tag is not None:
            return event == "push" and any(actions_glob(p).match(tag) for p in trigger.get("tags", []))
        if "tags" in trigger and "branches" not in trigger:
            return False  # a tags-only push trigger: no branch push runs it
        return any(actions_glob(p).match(branch) for p in trigger.get("branches", ["**"]))

    # --------------------------------------------------------------------------------------- jobs

    def run(self, event: str, *, branch: str = "main", tag: str | None = None,
            jobs: list[str] | None = None) -> dict[str, JobResult]:
        """The jobs of the workflow for `event` on `branch` (or a push of `tag`), in file order; a
        job whose `if:` is false, or that `jobs` leaves out, is reported as not run."""
        if not self.triggered_by(event, branch, tag):
            raise WorkflowError(f"the workflow does not run on {event} of {tag or branch}")
        unknown = set(jobs or ()) - set(self.workflow["jobs"])
        if unknown:
            raise WorkflowError(f"no such jobs: {sorted(unknown)}")
        ref = f"refs/tags/{tag}" if tag is not None else f"refs/heads/{branch}"
        self.github = {"ref": ref, "ref_name": tag or branch, "ref_type": "tag" if tag is not None else "branch",
                       "repository": self.github_repository}
        results = {}
        for name, job in self.workflow["jobs"].items():
            if jobs is None and "needs" in job:
                raise WorkflowError(f"job {name}: `needs:` is supported only with `jobs=`, which says what runs")
            selected = jobs is None or name in jobs
            if not (selected and self._condition(job.get("if"), event)):
                results[name] = JobResult(name, ran=False)
            elif "strategy" in job:
                results.update(self._run_matrix(name, job, event))
            else:
                results[name] = self._run_job(name, job, event)
        return results

    def _run_matrix(self, name: str, job: Mapping[str, Any], event: str) -> dict[str, JobResult]:
        from concurrent.futures import ThreadPoolExecutor

        strategy = dict(job["strategy"])
        matrix = dict(strategy.pop("matrix", None) or {})
        if set(strategy) - {"max-parallel", "fail-fast"} or len(matrix) != 1:
            raise WorkflowError(f"job {name}: only a one-key `strategy.matrix` (with max-parallel) is supported")
        (key, values), = matrix.items()
        pattern = re.compile(r"\$\{\{\s*matrix\." + re.escape(key) + r"\s*\}\}")

        def one(value: Any) -> JobResult:
            text = json.dumps({k: v for k, v in job.items() if k != "strategy"})
            instance = json.loads(pattern.sub(lambda _: json.dumps(str(value))[1:-1], text))
            return self._run_job(f"{name} ({value})", instance, event)

        with ThreadPoolExecutor(max_workers=int(strategy.get("max-parallel", len(values)))) as pool:
            return {result.name: result for result in pool.map(one, values)}

    def _run_job(self, name: str, job: Mapping[str, Any], event: str) -> JobResult:
        folder = re.sub(r"[^\w.-]+", "-", name).strip("-")
        runner = self.root / f"runner-{event}-{folder}"
        if runner.exists():
            shutil.rmtree(runner)
        home, temp = runner / "home", runner / "temp"
        workspace = runner / "work" / self.repository.name
        for folder in (home, temp, workspace):
            folder.mkdir(parents=True)
        machine = {
            **{key: os.environ[key] for key in PASSED_THROUGH if key in os.environ},
            **{key: value for key, value in os.environ.items() if key.startswith("PIP_")},
            **self.env,
            "HOME": str(home),
            # The CLI finds its home through the OS user database, not $HOME: a runner's is fresh.
            "PULUMI_HOME": str(home / ".pulumi"),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REF": self.github["ref"],
            "GITHUB_REF_NAME": self.github["ref_name"],
            "GITHUB_REF_TYPE": self.github["ref_type"],
            "GITHUB_REPOSITORY": self.github["repository"],
            "RUNNER_TEMP": str(temp),
        }
        if self.github["ref_type"] == "tag" and (self.repository / "HEAD").exists():
            machine["GITHUB_SHA"] = self._git("rev-parse", f"{self.github['ref']}^{{commit}}").strip()
        path = machine_path()
        result = JobResult(name, ran=True, workspace=workspace)
        workflow_env = self._resolve_env(self.workflow.get("env"), event, {})
        job_env = {**workflow_env, **self._resolve_env(job.get("env"), event, workflow_env)}
        for index, step in enumerate(job["steps"]):
            step_env = {**job_env, **self._resolve_env(step.get("env"), event, job_env)}
            label = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
            if not self._condition(step.get("if"), event):
                result.steps.append(StepResult(label, step_env, 0, "", ran=False))
                continue
            environment = {**machine, **step_env, "PATH": os.pathsep.join(path)}
            started = time.monotonic()
            if "uses" in step:
                action, _, _ = step["uses"].partition("@")
                inputs = {key: self._substitute(value, event, step_env) for key, value in (step.get("with") or {}).items()}
                run = self._action(action, inputs, workspace, environment, path, temp)
            else:
                script = temp / f"step-{index}.sh"
                script.write_text(self._substitute(step["run"], event, step_env), encoding="utf-8")
                shell = {None: DEFAULT_SHELL, "bash": BASH_SHELL}.get(step.get("shell"))
                if shell is None:
                    raise WorkflowError(f"shell not supported by the test runner: {step['shell']}")
                cwd = workspace / self._substitute(step.get("working-directory", "."), event, step_env)
                run = self._process([*shell, str(script)], cwd, environment)
            result.steps.append(StepResult(label, step_env, run.returncode, run.stdout, time.monotonic() - started))
            if run.returncode != 0:
                break
        return result

    def _git(self, *args: str) -> str:
        """git in the repository given to the runner (the remote of a clone)."""
        return subprocess.run(["git", "-C", str(self.repository), *args], capture_output=True, text=True,
                              check=True).stdout

    def _process(self, command: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=cwd, env=dict(env), text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=self.timeout, stdin=subprocess.DEVNULL)

    # ------------------------------------------------------------------------------------ actions

    def _action(self, action: str, inputs: Mapping[str, str], workspace: Path, env: dict[str, str],
                path: list[str], temp: Path) -> subprocess.CompletedProcess[str]:
        handlers: dict[str, Callable[..., subprocess.CompletedProcess[str]]] = {
            "actions/checkout": self._checkout,
            "actions/setup-python": self._setup_python,
            "actions/setup-node": self._setup_tools("node-version", "node", "npm"),
            "actions/setup-go": self._setup_tools("go-version", "go"),
            "pulumi/actions": self._pulumi,
        }
        if action not in handlers:
            raise WorkflowError(f"action not supported by the test runner: {action}")
        return handlers[action](inputs, workspace, env, path, temp)

    def _checkout(self, inputs: Mapping[str, str], workspace: Path, env: dict[str, str], path: list[str],
                  temp: Path) -> subprocess.CompletedProcess[str]:
        if set(inputs) - {"fetch-depth"}:
            raise WorkflowError(f"actions/checkout inputs not supported by the test runner: {sorted(inputs)}")
        shutil.rmtree(workspace)
        if not (self.repository / "HEAD").exists():  # a folder, not a git repository
            if inputs:
                raise WorkflowError("actions/checkout: fetch-depth needs a git repository given to the runner")
            copy_tree(self.repository, workspace)
            return subprocess.CompletedProcess([], 0, f"checked out a fresh copy of {self.repository.name}\n")
        depth = [] if inputs.get("fetch-depth", "1") == "0" else ["--depth", inputs.get("fetch-depth", "1")]
        clone = self._process(["git", "clone", "--quiet", *depth, "--branch", self.github["ref_name"],
                               f"file://{self.repository}", str(workspace)], workspace.parent, env)
        return subprocess.CompletedProcess(clone.args, clone.returncode, clone.stdout + (
            f"checked out {self.github['ref']} of {self.repository.name}\n" if clone.returncode == 0 else ""))

    def _setup_python(self, inputs: Mapping[str, str], workspace: Path, env: dict[str, str], path: list[str],
                      temp: Path) -> subprocess.CompletedProcess[str]:
        if set(inputs) - {"python-version"}:
            raise WorkflowError(f"actions/setup-python inputs not supported: {sorted(set(inputs) - {'python-version'})}")
        python = temp.parent / "python"
        made = self._process([base_python(), "-m", "venv", str(python)], workspace, env)
        if made.returncode == 0:
            path.insert(0, str(python / "bin"))
        return made

    def _setup_tools(self, version_input: str, *tools: str) -> Callable[..., subprocess.CompletedProcess[str]]:
        def setup(inputs: Mapping[str, str], workspace: Path, env: dict[str, str], path: list[str],
                  temp: Path) -> subprocess.CompletedProcess[str]:
            if set(inputs) - {version_input}:
                raise WorkflowError(f"inputs not supported by the test runner: {sorted(set(inputs) - {version_input})}")
            found = {tool: shutil.which(tool, path=os.pathsep.join(path)) for tool in tools}
            missing = [tool for tool, where in found.items() if where is None]
            if missing:
                return subprocess.CompletedProcess([], 1, f"not on this machine's PATH: {', '.join(missing)}\n")
            return subprocess.CompletedProcess([], 0, "".join(f"using {where}\n" for where in found.values()))

        return setup

    def _pulumi(self, inputs: Mapping[str, str], workspace: Path, env: dict[str, str], path: list[str],
                temp: Path) -> subprocess.CompletedProcess[str]:
        unknown = set(inputs) - PULUMI_INPUTS
        if unknown:
            raise WorkflowError(f"pulumi/actions inputs not supported by the test runner: {sorted(unknown)}")
        if self.cli_dir not in path:
            path.insert(0, self.cli_dir)
        env = {**env, "PATH": os.pathsep.join(path)}
        cwd = workspace / inputs.get("work-dir", ".")
        if "command" not in inputs:  # the action then only installs the CLI
            if set(inputs) - {"pulumi-version"}:
                raise WorkflowError(f"pulumi/actions without a command takes only pulumi-version: {sorted(inputs)}")
            version = self._process(["pulumi", "version"], cwd, env)
            wanted = inputs.get("pulumi-version", "").removeprefix("v")
            if version.returncode == 0 and wanted and version.stdout.strip().removeprefix("v") != wanted:
                return subprocess.CompletedProcess(version.args, 1, f"pulumi-version {wanted} asked for, and this "
                                                   f"runner's CLI is {version.stdout.strip()}\n")
            return version
        if "pulumi-version" in inputs:
            raise WorkflowError("pulumi/actions: pulumi-version is supported only without a command")
        output = ""
        if inputs.get("cloud-url"):
            login = self._process(["pulumi", "login", inputs["cloud-url"]], cwd, env)
            output += login.stdout
            if login.returncode != 0:
                return subprocess.CompletedProcess(login.args, login.returncode, output)
        command = {"preview": ["preview"], "up": ["up", "--yes", "--skip-preview"]}.get(inputs.get("command", ""))
        if command is None:
            raise WorkflowError(f"pulumi/actions command not supported by the test runner: {inputs.get('command')}")
        command = ["pulumi", *command, "--stack", inputs["stack-name"], "--non-interactive"]
        if inputs.get("refresh", "false").lower() == "true":
            command.append("--refresh")
        # Multiline lists, as the action reads them (getMultilineInput): one flag per non-empty line.
        for key, flag in (("policyPacks", "--policy-pack"), ("policyPackConfigs", "--policy-pack-config")):
            for line in inputs.get(key, "").splitlines():
                if line.strip():
                    command += [flag, line.strip()]
        run = self._process(command, cwd, env)
        return subprocess.CompletedProcess(run.args, run.returncode, output + run.stdout)
