"""Child process of the `program` section: register N resources under the SDK's mocks.

`ours`: one StripeConnectConfig and N-1 OrganizationConnectAccounts. `bare`: N dynamic resources
with the same properties, an empty provider and no typed outputs: the SDK's own floor. Prints one
JSON line: seconds to import, seconds to register every resource and resolve its outputs, and
resident memory (VmRSS after import, VmHWM at the end). Run it as
`python -c "from benchmarks._program_child import main; main(N, kind)"`, so that the bare provider
is pickled by reference like ours.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

OUTPUT_KEYS = ("connect_account_id", "stripe_account_id", "stripe_connect_id", "charges_enabled", "created_at",
               "updated_at")


class BareProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["organization_id"], props)


class Bare(Resource):
    def __init__(self, name: str, organization_id: str, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"organization_id": organization_id, "active": True, **dict.fromkeys(OUTPUT_KEYS)}
        super().__init__(BareProvider(), name, props, opts)


class Echo(pulumi.runtime.Mocks):
    """What the engine answers for a dynamic resource: its inputs as outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return args.inputs.get("organization_id") or f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _ours(resources: int) -> pulumi.Output:
    from pulumi_spaceinvoices import OrganizationConnectAccount, StripeConnectConfig

    connect = StripeConnectConfig(
        "connect", private_key="sk_test_BENCHMARKsecret0123456789", public_key="pk_test_BENCHMARKpublic0123456789",
        application_fee=1.5, refresh_url="https://platform.example.com/refresh",
        return_url="https://platform.example.com/return",
    )
    opts = pulumi.ResourceOptions(depends_on=[connect])
    accounts = [OrganizationConnectAccount(f"org-{i}", organization_id=f"{i:024x}", opts=opts)
                for i in range(resources - 1)]
    return pulumi.Output.all(connect.id, *[a.charges_enabled for a in accounts])


def _bare(resources: int) -> pulumi.Output:
    items = [Bare(f"org-{i}", organization_id=f"{i:024x}") for i in range(resources)]
    return pulumi.Output.all(*[item.id for item in items])


def main(resources: int, kind: str = "ours") -> None:
    started = time.perf_counter()
    if kind == "ours":
        import pulumi_spaceinvoices.organization_connect_account  # noqa: F401 (timed import)
        import pulumi_spaceinvoices.stripe_connect_config  # noqa: F401
    imported = time.perf_counter() - started
    rss_after_import = _memory_mb("VmRSS")
    pulumi.runtime.set_mocks(Echo(), project="benchmarks", stack="program", preview=False)
    build = _ours if kind == "ours" else _bare

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        return build(resources)

    started = time.perf_counter()
    program()
    registered = time.perf_counter() - started
    print(json.dumps({"kind": kind, "resources": resources, "import_s": imported, "register_s": registered,
                      "rss_after_import_mb": rss_after_import, "peak_rss_mb": _memory_mb("VmHWM")}))
