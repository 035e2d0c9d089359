"""``python -m pulumi_spaceinvoices.plugin ENGINE``: the same as ``pulumi-resource-spaceinvoices``."""

from .server import main

main()
