"""A Connect config and accounts for the policy pack's tests, every input from stack config.

Config (project namespace): `stripeSecretKey` (secret), `publicKey`, `applicationFee`, `refreshUrl`,
`returnUrl`, `accounts` (JSON: resource name -> organization id), `protect` (the accounts' option),
`secondConnect` (a second StripeConnectConfig, which the stack policy refuses).
"""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

config = pulumi.Config()


def connect(name: str) -> StripeConnectConfig:
    return StripeConnectConfig(
        name,
        private_key=config.require_secret("stripeSecretKey"),
        public_key=config.require("publicKey"),
        application_fee=config.require_float("applicationFee"),
        refresh_url=config.require("refreshUrl"),
        return_url=config.require("returnUrl"),
    )


main = connect("connect")
if config.get_bool("secondConnect"):
    connect("connect-again")

for name, organization_id in (config.get_object("accounts") or {}).items():
    OrganizationConnectAccount(
        name, organization_id=organization_id,
        opts=pulumi.ResourceOptions(depends_on=[main], protect=bool(config.get_bool("protect"))),
    )
