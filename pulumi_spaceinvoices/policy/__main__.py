"""`python -m pulumi_spaceinvoices.policy [--path]`: prints the policy pack's folder, so a pipeline can
run `pulumi preview --policy-pack "$(python -m pulumi_spaceinvoices.policy --path)"`."""

from __future__ import annotations

import argparse

from pulumi_spaceinvoices.policy import pack_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_spaceinvoices.policy",
        description="Print the folder of the Space Invoices policy pack (for pulumi preview --policy-pack).")
    parser.add_argument("--path", action="store_true", help="print the pack's folder (the default)")
    parser.parse_args(argv)
    print(pack_path())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
