"""`count` OrganizationConnectAccounts in top-level code; at exit, how many times `asyncio.wait`
ran (the SDK's final wait polls its pending outputs with it, once per round) goes to `countFile`."""

from __future__ import annotations

import asyncio
import atexit
from pathlib import Path

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount

config = pulumi.Config()
polls = 0
original_wait = asyncio.wait


async def counting_wait(*args, **kwargs):
    global polls
    polls += 1
    return await original_wait(*args, **kwargs)


asyncio.wait = counting_wait
atexit.register(lambda: Path(config.require("countFile")).write_text(str(polls)))
for index in range(config.require_int("count")):
    OrganizationConnectAccount(f"org-{index}", organization_id=f"{0x644c214c6ee48100249d0000 + index:024x}")
