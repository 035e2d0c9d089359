"""`spaceinvoices-onboarding`: serve the onboarding endpoint, print an entry URL, or make a signing key.

    spaceinvoices-onboarding serve [--host 127.0.0.1] [--port 8080]
    spaceinvoices-onboarding url ORGANIZATION_ID [--valid-until YYYY-MM-DD]
    spaceinvoices-onboarding new-key

Settings come from the environment (or the flags): SPACEINVOICES_ONBOARDING_URL (the public base
URL), SPACEINVOICES_ONBOARDING_SIGNING_KEY, SPACEINVOICES_ACCESS_TOKEN, SPACEINVOICES_API_URL, and
for a key rotation SPACEINVOICES_ONBOARDING_PREVIOUS_KEY with SPACEINVOICES_ONBOARDING_PREVIOUS_KEY_UNTIL.
Exit codes: 0 done; 2 a setting is missing or wrong (the message names it).
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from ..errors import ConfigurationError, SpaceInvoicesError
from ..settings import ENV_ONBOARDING_URL
from .core import DEFAULT_LINK_INTERVAL, DEFAULT_REQUESTS_PER_SECOND, Settings

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spaceinvoices-onboarding", description=__doc__.splitlines()[0])
    commands = p.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the onboarding endpoint (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--base-url", help=f"the public base URL (default ${ENV_ONBOARDING_URL})")
    serve.add_argument("--requests-per-second", type=float, default=DEFAULT_REQUESTS_PER_SECOND,
                       help="this endpoint's share of the token's 100 requests/s "
                            f"(default {DEFAULT_REQUESTS_PER_SECOND:g}; SPACEINVOICES_RATE_FILE shares a fleet's schedule)")
    serve.add_argument("--link-interval", type=float, default=DEFAULT_LINK_INTERVAL,
                       help=f"seconds between two links for one organization (default {DEFAULT_LINK_INTERVAL:g})")
    serve.add_argument("--no-check", action="store_true",
                       help="skip the start-up check of the token and the Connect config (one API call)")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1)")
    url = commands.add_parser("url", help="print an organization's entry URL (a secret)")
    url.add_argument("organization_id")
    url.add_argument("--valid-until", help="last day the URL works (YYYY-MM-DD, UTC)")
    url.add_argument("--base-url", help=f"the public base URL (default ${ENV_ONBOARDING_URL})")
    commands.add_parser("new-key", help="print a new random signing key")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "new-key":
            print(secrets.token_urlsafe(48))
            return 0
        if args.command == "url":
            from ..onboarding_entry import get_onboarding_entry_url

            print(get_onboarding_entry_url(args.organization_id, base_url=args.base_url,
                                           valid_until=args.valid_until).url)
            return 0
        return serve(args)
    except SpaceInvoicesError as error:
        print(f"spaceinvoices-onboarding: {error}", file=sys.stderr)
        return 2


def serve(args: argparse.Namespace) -> int:
    settings = Settings.resolve(base_url=args.base_url, requests_per_second=args.requests_per_second,
                                link_interval=args.link_interval)
    if settings.access_token is None:
        raise ConfigurationError("No Space Invoices access token is set: export SPACEINVOICES_ACCESS_TOKEN.")
    if not args.no_check:
        check_connect_config(settings)

    import uvicorn

    from .app import create_app

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("pulumi_spaceinvoices.onboarding", "pulumi_spaceinvoices.onboarding.access"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("pulumi_spaceinvoices.onboarding").addHandler(handler)
    print(f"spaceinvoices-onboarding: serving {settings.base_url} on {args.host}:{args.port}", file=sys.stderr,
          flush=True)
    # uvicorn's own access log would print each URL with its query, i.e. the entry URLs' signatures.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False, log_level="warning",
                proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips, server_header=False)
    return 0


def check_connect_config(settings: Settings) -> None:
    """One GET: the token works, live keys get an https endpoint, and Stripe's round trip comes here."""
    from ..client import SpaceInvoicesClient

    with SpaceInvoicesClient(settings.access_token, api_url=settings.api_url) as api:
        config = api.get_stripe_connect()
    if config is None:
        print("spaceinvoices-onboarding: warning: Stripe Connect is not enabled on this account yet "
              "(declare a StripeConnectConfig).", file=sys.stderr)
        return
    live = config.public_key.startswith("pk_live_")
    host = urlsplit(settings.base_url).hostname or ""
    if live and not settings.base_url.startswith("https://"):
        raise ConfigurationError(
            f"The onboarding endpoint URL ({ENV_ONBOARDING_URL} / --base-url) must be https: the account's Stripe "
            "keys are live, and Stripe accepts only https return and refresh URLs in live mode.")
    if not live and not settings.base_url.startswith("https://") and host not in LOOPBACK:
        print("spaceinvoices-onboarding: warning: the endpoint is served over plain http; use https outside tests.",
              file=sys.stderr)
    for name, want, have in (("refreshUrl", f"{settings.base_url}/refresh", config.refresh_url),
                             ("returnUrl", f"{settings.base_url}/return", config.return_url)):
        if have != want:
            print(f"spaceinvoices-onboarding: warning: the Connect config's {name} is not {want}: Stripe will not "
                  "send people back here. Set it on the StripeConnectConfig.", file=sys.stderr)
