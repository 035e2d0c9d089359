"""`python -m pulumi_spaceinvoices.onboarding`: the same as `spaceinvoices-onboarding`."""

import sys

from .cli import main

sys.exit(main())
