"""The Space Invoices policy pack, shipped in the wheel: `PACK_DIR` is the folder to pass to
`pulumi preview --policy-pack` (`python -m pulumi_spaceinvoices.policy --path` prints it).

The pack itself is `pack/` (PulumiPolicy.yaml, its rules in pack/spaceinvoices_policy.py); it needs
`pulumi-policy` in the `python3` the CLI runs (`pip install 'pulumi-spaceinvoices[policy]'`).
"""

from __future__ import annotations

from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent / "pack"


def pack_path() -> str:
    """The policy pack's folder, for `--policy-pack`."""
    return str(PACK_DIR)
