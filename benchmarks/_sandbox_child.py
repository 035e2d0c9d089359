"""Child process of the `cli` section: the sandbox in a process of its own.

`python -m benchmarks._sandbox_child ORGS IDS_FILE [LATENCY] [RATE_LIMIT]` starts a sandbox on a
free port of 127.0.0.1 with the rate limit (default 100/s per token) and the added latency (default
20 ms), creates one account and ORGS organizations straight in its store (not through HTTP, so
creating 10,000 takes a second), writes their ids to IDS_FILE (one a line), prints one JSON line
`{"url", "token", "account_id", "pid"}` and serves until stdin closes or SIGTERM.

A process of its own, not a thread of the benchmark: the uvicorn event loop and SQLite then hold
their own GIL and their own CPU time (read from /proc, reported apart), and nothing the sandbox
does can slow the benchmark's process sampler or be mistaken for the provider's cost. The
benchmark drives it through the admin API (`/_sandbox/requests`, `/_sandbox/faults`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str]) -> int:
    orgs, ids_file = int(argv[0]), Path(argv[1])
    latency = float(argv[2]) if len(argv) > 2 else 0.020
    rate_limit = int(argv[3]) if len(argv) > 3 else 100

    from pulumi_spaceinvoices.sandbox import Sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox = Sandbox(rate_limit=rate_limit, host="127.0.0.1", port=0).start()
    try:
        account = sandbox.create_account(email="bench-cli@example.com")
        ids = [sandbox.create_organization(account.id, f"Fleet {i}") for i in range(orgs)]
        ids_file.write_text("".join(f"{org_id}\n" for org_id in ids), encoding="utf-8")
        sandbox.set_latency(latency)
        print(json.dumps({"url": sandbox.url, "token": account.token, "account_id": account.id,
                          "pid": os.getpid()}), flush=True)

        def watch_stdin() -> None:
            sys.stdin.read()  # returns when the parent closes the pipe (or dies)
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        stop.wait()
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
