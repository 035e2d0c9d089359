"""`python -m pulumi_spaceinvoices.sandbox`: same as the `spaceinvoices-sandbox` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
