"""MkDocs hooks for the documentation site (mkdocs.yml, `hooks:`); `mkdocs build --strict` runs them.

- docs/_index.md (the Pulumi Registry's name for a package's front page) is the site's home page.
- `<!-- include: benchmarks/README.md -->` puts that file's text in the page: the benchmark figures
  live in one file, read on GitHub and on the site alike.
- A relative link out of docs/ (`../examples/multi-org`, `../../tests/programs`) becomes a link to
  the file on GitHub, and the file must exist: a missing one fails the build. A link to
  benchmarks/README.md becomes one to the page that includes it, so its anchors are checked too.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/spaceinvoices/pulumi-spaceinvoices"
HOME = "_index.md"
INCLUDE = re.compile(r"^<!-- include: (\S+) -->$", re.M)
INCLUDED: dict[str, str] = {}  # a file out of docs/ -> the page that includes it (filled by on_files)
# [text](target) and [text]: target, outside code; the target up to a space or `)`.
LINK = re.compile(r"(\]\()([^)\s]+)(\))|^(\[[^\]]+\]:\s*)(\S+)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)


def on_files(files: Any, config: Any) -> Any:
    """docs/_index.md is served as the site's root page (index.html); each page's includes are noted."""
    home = files.get_file_from_path(HOME)
    if home is None:
        raise PluginError(f"docs/{HOME} is missing: it is the site's home page")
    home.dest_uri = "index.html"
    home.url = "./"
    INCLUDED.clear()
    for page in files.documentation_pages():
        for name in INCLUDE.findall(page.content_string):
            INCLUDED[name] = page.src_uri
    return files


def rebase(target: str, source: str, page: str) -> str:
    """A relative link of a file at `source` (path from the repository root), as seen from docs/`page`."""
    if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
        return target
    path, _, anchor = target.partition("#")
    if not path:
        return target
    repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
    if repo_path.startswith("docs/"):
        inner = repo_path.removeprefix("docs/")
        rel = posixpath.relpath(inner, posixpath.dirname(page) or ".")
        return rel + (f"#{anchor}" if anchor else "")
    if repo_path in INCLUDED:
        rel = posixpath.relpath(INCLUDED[repo_path], posixpath.dirname(page) or ".")
        return rel + (f"#{anchor}" if anchor else "")
    if repo_path.startswith("..") or not (ROOT / repo_path).exists():
        raise PluginError(f"{source}: the link {target!r} points at {repo_path}, which is not in the repository")
    kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
    return f"{REPOSITORY}/{kind}/main/{repo_path}" + (f"#{anchor}" if anchor else "")


def relink(markdown: str, source: str, page: str) -> str:
    """Every relative link of `markdown` (the text of `source`) rebased for docs/`page`, code left alone."""
    def fix(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return match.group(1) + rebase(match.group(2), source, page) + match.group(3)
        return match.group(4) + rebase(match.group(5), source, page)

    parts, last = [], 0
    for fence in FENCE.finditer(markdown):
        parts.append(LINK.sub(fix, markdown[last:fence.start()]))
        parts.append(fence.group(0))
        last = fence.end()
    parts.append(LINK.sub(fix, markdown[last:]))
    return "".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    src = page.file.src_uri

    def include(match: re.Match[str]) -> str:
        name = match.group(1)
        path = ROOT / name
        if not path.is_file():
            raise PluginError(f"docs/{src}: the included file {name} does not exist")
        text = path.read_text()
        text = re.sub(r"\A# [^\n]*\n", "", text)  # the page has its own title
        return relink(text, name, src)

    return INCLUDE.sub(include, relink(markdown, f"docs/{src}", src))
