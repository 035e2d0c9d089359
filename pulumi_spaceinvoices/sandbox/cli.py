"""`spaceinvoices-sandbox`: run the local Space Invoices server until Ctrl-C.

On start it prints the base URL and a ready-to-use access token of a demo account (with one
organization and one shareable invoice) as `export` lines. With a file database the data, and so the
demo token, survive a restart.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType

from .control import SECRETS_MODES
from .server import Sandbox


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spaceinvoices-sandbox",
        description="A local Space Invoices (Stripe Connect API) server for tests and the quickstart.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on, 0 for a free one (default 8787)")
    parser.add_argument("--db", default=":memory:", help="SQLite file to keep data in, or :memory: (default)")
    parser.add_argument("--secrets", choices=SECRETS_MODES, default="full", help="how Connect secrets are returned")
    parser.add_argument("--rate-limit", type=int, default=100, help="requests per second per token, 0 = off")
    parser.add_argument(
        "--link-methods", default="POST,GET", help="verbs the onboarding-link endpoint answers (default POST,GET)"
    )
    parser.add_argument("--link-expiry", type=float, default=300.0, help="onboarding link lifetime in seconds")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox, print how to use it, serve until interrupted."""
    args = parse_args(argv)
    # A flag, not a threading.Event: the handler runs in the main thread, and Event.set() takes the
    # lock that the main thread may be holding inside Event.wait() at that instant (a deadlock seen
    # once under load: SIGTERM caught, the process never exited).
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    methods = [method.strip().upper() for method in args.link_methods.split(",") if method.strip()]
    try:
        sandbox = Sandbox(
            db=args.db, rate_limit=args.rate_limit, secrets=args.secrets, link_methods=methods,
            link_expiry_seconds=args.link_expiry, host=args.host, port=args.port,
        ).start()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"spaceinvoices-sandbox: {exc}", file=sys.stderr)
        return 1
    try:
        demo = sandbox.seed_demo()
        print(
            f"Space Invoices sandbox (a local test server) on {sandbox.url}\n"
            f"  database:          {args.db}\n"
            f"  demo account:      {demo.account_id}\n"
            f"  organization id:   {demo.organization_id}\n"
            f"  shareable invoice: {demo.shareable_id} (pay page: {sandbox.url}/sandbox/pay/{demo.shareable_id})\n"
            f"  admin API:         {sandbox.url}/_sandbox/\n"
            "\n"
            f"export SPACEINVOICES_API_URL={sandbox.url}\n"
            f"export SPACEINVOICES_ACCESS_TOKEN={demo.token}\n"
            "\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while not stopping:
            time.sleep(0.1)
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
