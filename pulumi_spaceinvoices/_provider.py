"""The former name of :mod:`pulumi_spaceinvoices.core`: the same module object under both names.

Nothing pickled or public names this module (dill pickles the provider classes of the resource
modules); it stays so code that imports or sets its names (the tests' ``_client``, the benchmarks)
keeps working against the one core.
"""

import sys

from . import core
from .core import *  # noqa: F403 - the names, for type checkers

sys.modules[__name__] = core
