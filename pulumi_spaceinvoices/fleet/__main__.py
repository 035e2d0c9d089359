"""`python -m pulumi_spaceinvoices.fleet`: the same as the `spaceinvoices-fleet` console script."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
