"""The Space Invoices policy pack: what `pulumi preview --policy-pack <this folder>` runs.

The rules live in spaceinvoices_policy.py beside this file (the pack is self-contained, so
`pulumi policy publish` can upload the folder as it is).
"""

from __future__ import annotations

from spaceinvoices_policy import serve

serve()
