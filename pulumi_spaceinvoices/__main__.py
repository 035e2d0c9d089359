"""``python -m pulumi_spaceinvoices ENGINE``: the native provider plugin, as ``pulumi-resource-spaceinvoices``.

This is what Pulumi's Python language host runs for the source-based plugin (PulumiPlugin.yaml).
"""

from .plugin.server import main

main()
