"""Where each organization lives: shard stacks by jump consistent hashing of its id, and the moves a
change of the shard count needs (pure functions; no Pulumi here).

Jump consistent hashing (Lamping and Veach, 2014) sends a key to one of N buckets so that going from
N to N+1 moves only the keys that land in the new bucket, about 1/(N+1) of them; a plain
`hash % N` would move almost all. The key is the first 8 bytes of the id's SHA-256: ObjectIds start
with a timestamp, so the raw id is far from uniform.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONNECT_STACK = "connect"
SHARD_PREFIX = "shard-"
_SHARD = re.compile(r"^shard-(\d+)$")
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash of a 64-bit key into [0, buckets)."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def shard_of(org_id: str, shards: int) -> int:
    """The shard of an organization: stable for its id and the shard count, on every machine."""
    key = int.from_bytes(hashlib.sha256(org_id.lower().encode("ascii")).digest()[:8], "big")
    return jump_hash(key, shards)


def shard_stack(index: int) -> str:
    return f"{SHARD_PREFIX}{index:02d}"


def shard_index(stack: str) -> int | None:
    """The index of a shard stack's name (`shard-07` -> 7), None for any other stack."""
    match = _SHARD.match(stack)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Move:
    org_id: str
    source: str
    dest: str


def conflicts(states: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Organizations found in more than one stack's state: org id -> the stacks, sorted."""
    seen: dict[str, list[str]] = {}
    for stack, org_ids in states.items():
        for org_id in set(org_ids):
            seen.setdefault(org_id, []).append(stack)
    return {org: sorted(stacks) for org, stacks in seen.items() if len(stacks) > 1}


def plan_moves(states: Mapping[str, Iterable[str]], shards: int) -> list[Move]:
    """Every organization in a shard state that is not its shard's, moved there (listed or not: one
    dropped from the list is then deactivated by its own shard, as any removal)."""
    moves = []
    for stack, org_ids in sorted(states.items()):
        for org_id in sorted(org_ids):
            dest = shard_stack(shard_of(org_id, shards))
            if dest != stack:
                moves.append(Move(org_id, stack, dest))
    return moves
