"""The fleet's organizations: loaded from YAML, JSON or CSV (a file or stdin) and checked before
anything runs. Every problem names the entry (or CSV line) it is in."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..validators import is_object_id

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".csv": "csv"}
TRUE, FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}


class InputError(ValueError):
    """The organization list cannot be used; nothing has run."""


@dataclass(frozen=True)
class Organization:
    id: str
    """24 hexadecimal characters, lower case."""
    name: str | None = None
    active: bool = True


def load(source: str, fmt: str | None = None) -> list[Organization]:
    """The organizations in `source` (a path, or `-` for stdin), in the format of `fmt` or the file's
    extension (stdin: JSON when it starts with `[` or `{`, CSV when its first line starts with `id`,
    else YAML)."""
    if source == "-":
        text, label = sys.stdin.read(), "stdin"
        fmt = fmt or _sniff(text)
    else:
        path = Path(source)
        label = str(path)
        fmt = fmt or FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(f"{label}: unknown format {path.suffix or '(no extension)'!r}; use .yaml, .yml, .json "
                             "or .csv, or --format yaml|json|csv")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"{label}: cannot read it ({error.strerror})") from None
    if fmt not in ("yaml", "json", "csv"):
        raise InputError(f"unknown format {fmt!r}; use yaml, json or csv")
    return parse(text, fmt, label)


def parse(text: str, fmt: str, label: str = "input") -> list[Organization]:
    """Organizations from `text`; InputError for an invalid id, a duplicate or an empty list."""
    if fmt == "csv":
        entries = _csv_entries(text, label)
    else:
        try:
            data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as error:
            raise InputError(f"{label}: not valid {fmt.upper()} ({str(error).splitlines()[0]})") from None
        entries = _structured_entries(data, label)
    organizations: list[Organization] = []
    where_by_id: dict[str, str] = {}
    for where, entry in entries:
        org = _organization(entry, where)
        if org.id in where_by_id:
            raise InputError(f"organization {org.id} is listed twice: {where_by_id[org.id]} and {where}")
        where_by_id[org.id] = where
        organizations.append(org)
    if not organizations:
        raise InputError(f"{label}: the list of organizations is empty. Refusing: a fleet run with no organizations "
                         "would deactivate every account of the fleet (use `destroy` to do that on purpose)")
    return organizations


def _sniff(text: str) -> str:
    head = text.lstrip()
    if head[:1] in ("[", "{"):
        return "json"
    if re.match(r"^\s*\"?id\"?\s*(,|$)", head.splitlines()[0] if head else "", re.IGNORECASE):
        return "csv"
    return "yaml"


def _structured_entries(data: Any, label: str) -> list[tuple[str, Any]]:
    if isinstance(data, dict) and set(data) == {"organizations"}:
        data = data["organizations"]
    if data is None:
        return []
    if isinstance(data, list):
        return [(f"{label}: entry {i + 1}", entry) for i, entry in enumerate(data)]
    if isinstance(data, dict):  # multi-org's shape: name -> id, or name -> {id, active}
        return [(f"{label}: {name}", {"name": str(name), **(e if isinstance(e, dict) else {"id": e})})
                for name, e in data.items()]
    raise InputError(f"{label}: expected a list of organizations (ids, or {{id, name, active}}), "
                     f"or a mapping of name -> id")


def _csv_entries(text: str, label: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "id" not in fields or set(fields) - {"id", "name", "active"}:
        raise InputError(f"{label}: line 1 must be a header with the columns id and optionally name, active "
                         f"(got {', '.join(fields) or 'nothing'})")
    entries = []
    for row in reader:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        where = f"{label}: line {reader.line_num}"
        active = row.get("active", "")
        if active and active.lower() not in TRUE | FALSE:
            raise InputError(f"{where}: active must be true or false (got {active!r})")
        entries.append((where, {"id": row["id"], "name": row.get("name") or None,
                                **({"active": active.lower() in TRUE} if active else {})}))
    return entries


def _organization(entry: Any, where: str) -> Organization:
    entry = entry if isinstance(entry, dict) else {"id": entry}
    unknown = set(entry) - {"id", "name", "active"}
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; expected id, name, active")
    org_id, name, active = entry.get("id"), entry.get("name"), entry.get("active", True)
    if not isinstance(org_id, str):
        raise InputError(f"{where}: the organization id must be a string of 24 hexadecimal characters "
                         f"(got {org_id!r}; in YAML, quote it)")
    if not is_object_id(org_id.strip()):
        shown = org_id if len(org_id) <= 40 else org_id[:37] + "..."
        raise InputError(f"{where}: {shown!r} is not an organization id (24 hexadecimal characters)")
    if not isinstance(active, bool):
        raise InputError(f"{where}: active must be true or false (got {active!r})")
    return Organization(id=org_id.strip().lower(), name=None if name is None else str(name), active=active)
