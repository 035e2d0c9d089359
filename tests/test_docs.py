"""The documentation: README.md, docs/ (the site mkdocs.yml builds) and benchmarks/README.md (which the
site includes). Every code block a reader would copy is taken from a file the tests run, or is a
command whose program, files and flags exist; the rest (printed output) is listed here with what
checks it. Every page is in the site's nav, the site builds with --strict, and the README stays
short and gives the test command .ci/run runs. The generated reference (docs/reference/) is checked
by scripts/generate.py's own check in .ci/run, not here.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
GENERATED = DOCS / "reference"
README_MAX_LINES = 250


def checked_pages() -> list[Path]:
    """The hand-written pages whose code blocks are checked."""
    pages = [README, ROOT / "benchmarks" / "README.md"]
    pages += sorted(p for p in DOCS.rglob("*.md") if GENERATED not in p.parents)
    return pages


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    source: str | None  # the file named by a `<!-- from: path -->` line just above the fence

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")


FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
FROM = re.compile(r"^<!-- from: (?P<path>\S+) -->$")


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == m["fence"])
        above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        source = FROM.match(above)
        found.append(Block(page, i + 1, m["lang"], "\n".join(lines[i + 1:end]), source["path"] if source else None))
        i = end + 1
    return found


ALL_BLOCKS = [block for page in checked_pages() for block in blocks(page)]
SHELL = {"bash", "sh", "shell", "console"}

# Blocks that are neither taken from a tested file nor commands: printed output and diagrams,
# keyed by (page, first non-blank line), with what keeps each true.
TEXT_BLOCKS = {
    ("docs/onboarding.md", 'entry URL (mail) ──GET──> page with "Continue to Stripe"        no link made: previews and scanners use nothing'):
        "a diagram of the routes tests/test_onboarding_endpoint.py walks",
    ("docs/troubleshooting.md", "SpaceInvoicesError"):
        "the class tree of pulumi_spaceinvoices/errors.py (test_error_tree below)",
    ("docs/troubleshooting.md", "pulumi-python:dynamic/spaceinvoices:StripeConnectConfig (connect):"):
        "what tests/test_engine_errors.py asserts `pulumi up` prints for a rejected token",
    ("docs/policy-pack.md", "Policies:"):
        "the messages tests/test_policy.py asserts for each policy",
    ("docs/releases.md", "packages:"):
        "the Pulumi.yaml entry `pulumi package add` writes (tests/test_package_add.py reads it back)",
}


def block_id(block: Block) -> str:
    return f"{block.where} ({block.lang or 'no language'}: {block.first_line[:60]})"


def test_pages_have_blocks() -> None:
    assert len(ALL_BLOCKS) > 30, [b.where for b in ALL_BLOCKS]


# ------------------------------------------------------------------------ blocks from tested files

def in_order(needles: list[str], haystack: list[str]) -> str | None:
    """None when every needle is a line of the haystack, in order (lines stripped); else the first missing one."""
    position = 0
    for needle in needles:
        try:
            position = haystack.index(needle, position) + 1
        except ValueError:
            return needle
    return None


# Where examples may come from: programs and files the tests run.
TESTED_ROOTS = ("examples/", "tests/programs/", "sdk/")


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.source], ids=block_id)
def test_block_is_taken_from_a_tested_file(block: Block) -> None:
    assert block.source is not None and block.source.startswith(TESTED_ROOTS), \
        f"{block.where}: {block.source} is not a program the tests run (examples/, tests/programs/, sdk/)"
    source = ROOT / block.source
    assert source.is_file(), f"{block.where}: {block.source} does not exist"
    wanted = [line.strip() for line in block.text.splitlines() if line.strip()]
    have = [line.strip() for line in source.read_text().splitlines()]
    missing = in_order(wanted, have)
    assert missing is None, f"{block.where}: {missing!r} is not in {block.source} (in this order)"


# ------------------------------------------------------------------------------ shell commands

# The programs a command block may run. Ours are checked further: their files and flags exist.
KNOWN_PROGRAMS = {
    "bash", "cd", "cp", "curl", "export", "go", "grep", "npm", "pip", "pulumi", "python", "python3",
    "rm", "source", "spaceinvoices-fleet", "spaceinvoices-onboarding", "spaceinvoices-sandbox",
    ".venv/bin/python", ".venv/bin/pip", ".venv/bin/ruff", ".venv/bin/mypy", ".venv/bin/mkdocs",
}
# Where each of our commands' options are defined: every --flag a block gives must be there.
OUR_COMMANDS = {
    "spaceinvoices-fleet": ["pulumi_spaceinvoices/fleet"],
    "spaceinvoices-onboarding": ["pulumi_spaceinvoices/onboarding/cli.py"],
    "spaceinvoices-sandbox": ["pulumi_spaceinvoices/sandbox/cli.py"],
    "-m benchmarks": ["benchmarks/__main__.py"],
    "-m benchmarks.cli": ["benchmarks/cli.py", "benchmarks/_common.py"],
    "-m benchmarks.fleet": ["benchmarks/fleet.py", "benchmarks/_common.py"],
    "-m pulumi_spaceinvoices.policy": ["pulumi_spaceinvoices/policy"],
    ".venv/bin/mkdocs": [],  # mkdocs' own flags
}
REPO_PATH = re.compile(r"^(?:examples|scripts|tests|benchmarks|sdk|docs|\.ci)/[\w./-]*$")
OUTPUTS = ("benchmarks/results/",)  # what a command writes: need not exist before


def commands(text: str) -> list[str]:
    """The simple commands of a shell block: continuations joined, comments dropped, split at && | ;."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        code = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
        if code:
            logical.append(code)
    simple = []
    for line in logical:
        simple += [part.strip() for part in re.split(r"&&|\|\||[|;]", line) if part.strip()]
    return simple


def source_text(paths: list[str]) -> str:
    text = ""
    for name in paths:
        path = ROOT / name
        for file in ([path] if path.is_file() else sorted(path.rglob("*.py"))):
            text += file.read_text()
    return text


def extras() -> set[str]:
    import tomllib

    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def check_command(command: str) -> list[str]:
    """What is wrong with one simple command of a block (empty: nothing)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value before the program
        words = words[1:]
    if not words:
        return []
    program = words[0]
    if program not in KNOWN_PROGRAMS:
        return [f"{program!r} is not a program the docs may run ({command})"]
    problems = []
    for word in words[1:]:
        if REPO_PATH.match(word) and not word.startswith(OUTPUTS) and not (ROOT / word).exists():
            problems.append(f"{word} does not exist ({command})")
    key = program
    if program in {"python", "python3", ".venv/bin/python"} and len(words) > 2 and words[1] == "-m":
        key = f"-m {words[2]}"
    if key in OUR_COMMANDS:
        defined = source_text(OUR_COMMANDS[key]) if OUR_COMMANDS[key] else None
        for word in words[1:]:
            flag = word.split("=")[0]
            if defined is not None and re.match(r"^--[a-z][\w-]*$", flag) and f'"{flag}"' not in defined:
                problems.append(f"{flag} is not an option of {key} ({command})")
    if program in {"pip", ".venv/bin/pip"} or words[1:3] == ["-m", "pip"]:
        for word in words:
            for extra in re.findall(r"\[([\w,]+)\]", word):
                unknown = set(extra.split(",")) - extras()
                if unknown:
                    problems.append(f"extras {sorted(unknown)} are not in pyproject.toml ({command})")
    return problems


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if not b.source and b.lang in SHELL], ids=block_id)
def test_shell_block_runs_known_commands(block: Block) -> None:
    problems = [p for command in commands(block.text) for p in check_command(command)]
    assert not problems, f"{block.where}: " + "; ".join(problems)


def test_the_shell_rule_refuses_what_it_should() -> None:
    assert check_command("spaceinvoices-fleet up orgs.yaml --shardz 3")
    assert check_command("bash examples/no-such/run.sh")
    assert check_command("make docs")
    assert check_command("pip install '.[nosuchextra]'")
    assert not check_command("PULUMI_SKIP_CHECKPOINTS=true pulumi up")
    assert commands("a \\\n  b && c | d # note\n# only a comment") == ["a    b", "c", "d"]


# ------------------------------------------------------------------------------- the rest

@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if not b.source and b.lang not in SHELL], ids=block_id)
def test_other_blocks_are_listed(block: Block) -> None:
    key = (str(block.page.relative_to(ROOT)), block.first_line)
    assert key in TEXT_BLOCKS, (
        f"{block.where}: a {block.lang or 'plain'} block that is not taken from a tested file: mark it "
        f"`<!-- from: <file> -->` with the program it comes from, or list it in TEXT_BLOCKS with what checks it")


def test_listed_blocks_exist() -> None:
    present = {(str(b.page.relative_to(ROOT)), b.first_line) for b in ALL_BLOCKS}
    assert set(TEXT_BLOCKS) <= present, sorted(set(TEXT_BLOCKS) - present)


def test_error_tree() -> None:
    from pulumi_spaceinvoices import errors

    [tree] = [b for b in ALL_BLOCKS if b.first_line == "SpaceInvoicesError"]
    names = set(re.findall(r"\b([A-Z]\w+Error)\b", tree.text))
    for name in names:
        assert issubclass(getattr(errors, name), errors.SpaceInvoicesError), name
    ours = {name for name, value in vars(errors).items()
            if isinstance(value, type) and issubclass(value, errors.SpaceInvoicesError)}
    assert sorted(ours - names) == [], "errors the tree leaves out"


# ------------------------------------------------------------------------ the site and the README

def nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_is_in_the_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["docs_dir"] == "docs"
    listed = nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(set(pages) - set(listed)) == [], "pages missing from mkdocs.yml's nav"
    assert len(listed) == len(set(listed)), "a page listed twice"
    assert listed[:2] == ["_index.md", "installation-configuration.md"], "the Pulumi Registry's two pages come first"
    assert "testing.md" in listed


def test_registry_front_matter() -> None:
    for name in ("_index.md", "installation-configuration.md"):
        text = (DOCS / name).read_text()
        front = yaml.safe_load(text.split("---\n")[1])
        assert {"title", "meta_desc", "layout"} <= set(front) and front["layout"] == "package", name
    index = (DOCS / "_index.md").read_text()
    for heading in ("## Installation", "## Example Usage", "## Configuration",
                    "### Python", "### TypeScript", "### Go", "### YAML"):
        assert f"\n{heading}\n" in index, heading


def test_configuration_lists_every_environment_variable() -> None:
    """Every SPACEINVOICES_* variable the package reads is in the overview's Configuration table."""
    from pulumi_spaceinvoices import settings

    index = (DOCS / "_index.md").read_text().split("## Configuration", 1)[1]
    names = set(re.findall(r"SPACEINVOICES_[A-Z_]+", (ROOT / "pulumi_spaceinvoices" / "settings.py").read_text()))
    names |= set(re.findall(r"SPACEINVOICES_[A-Z_]+", (ROOT / "pulumi_spaceinvoices" / "client.py").read_text()))
    assert settings.ENV_TOKEN in names
    assert sorted(n for n in names if n not in index) == []


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """What .ci/run runs: a broken link, a bad anchor or a missing page fails it."""
    from mkdocs.commands.build import build  # the docs extra (.ci/run installs it)
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    build(config)
    assert (tmp_path / "site" / "index.html").is_file()


def test_ci_builds_the_site_before_the_checks_exit() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    build = run.index("mkdocs build --strict")
    assert build < run.index('if [ "$until" = checks ]'), "tests/test_ci.py runs .ci/run until `checks`"
    assert "-e '.[dev,docs]'" in run


def test_readme_is_short_and_points_into_docs() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"^[a-z]+:", target):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    assert "[Testing](docs/testing.md)" in text


def test_readme_test_command_is_what_ci_runs() -> None:
    """The README's install lines and test command are .ci/run's, in the same order."""
    text = README.read_text().split("\n## Tests\n", 1)[1]
    [block] = [b for b in blocks(README) if b.text in text]
    run = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    wanted = [line.strip() for line in block.text.splitlines() if line.strip()]
    assert wanted[-1] == ".venv/bin/python -m pytest"
    assert in_order(wanted, run) is None


def test_no_pointers_out_of_the_repository() -> None:
    for page in checked_pages() + sorted((ROOT / "examples").glob("*/README.md")):
        text = page.read_text()
        assert "../shared" not in text and "DESIGN" not in text, page
