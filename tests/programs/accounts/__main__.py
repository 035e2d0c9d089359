"""One OrganizationConnectAccount, named `org-<id>`, per id in the stack config list `organizations`."""

from __future__ import annotations

import pulumi

from pulumi_spaceinvoices import OrganizationConnectAccount

for org_id in pulumi.Config().require_object("organizations"):
    OrganizationConnectAccount(f"org-{org_id}", organization_id=org_id)
