"""The Pulumi program every fleet stack runs (the runner writes a Pulumi.yaml whose __main__.py calls
`main()`). What a stack declares comes from the JSON file named by SPACEINVOICES_FLEET_INPUT: the
connect stack its StripeConnectConfig, a shard stack its organizations (resource name = the id, so a
resource keeps its URN wherever it is moved). The Stripe secret key comes from the environment
variable the file names, never from the file or the stack config. Each stack's last outputs are
the fingerprint of its input and the code's version (scope.py), which later runs compare to skip
a stack that holds exactly what it must declare."""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV_INPUT = "SPACEINVOICES_FLEET_INPUT"


def main() -> None:
    import pulumi

    from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig
    from pulumi_spaceinvoices.fleet.scope import HASH_OUTPUT, VERSION_OUTPUT, fingerprint, version

    spec = json.loads(Path(os.environ[ENV_INPUT]).read_text(encoding="utf-8"))
    if spec["role"] == "connect":
        connect = spec["connect"]
        secret = os.environ.get(connect["secretKeyEnv"])
        if not secret:
            raise RuntimeError(f"the Stripe secret key is not set: export {connect['secretKeyEnv']}")
        declared: list[pulumi.CustomResource] = [StripeConnectConfig(
            "connect",
            private_key=pulumi.Output.secret(secret),
            public_key=connect["publicKey"],
            application_fee=float(connect.get("applicationFee") or 0.0),
            return_url=connect.get("returnUrl") or "https://example.com/onboarding/return",
            refresh_url=connect.get("refreshUrl") or "https://example.com/onboarding/refresh",
        )]
        pulumi.export("shards", spec["shards"])
        digest = fingerprint(spec, secret)
    else:
        declared = [OrganizationConnectAccount(org["id"], organization_id=org["id"], active=org["active"])
                    for org in spec["organizations"]]
        pulumi.export("organizations", len(spec["organizations"]))
        digest = fingerprint(spec)
    # Recorded only once every resource has been created or updated: a failed step leaves it unset.
    pulumi.export(HASH_OUTPUT, pulumi.Output.all(*[r.id for r in declared]).apply(lambda _: digest))
    pulumi.export(VERSION_OUTPUT, version())
