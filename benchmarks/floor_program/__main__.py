"""The engine's floor for the `cli` section: the multi-org program, unchanged, over providers that
do nothing (benchmarks/_noop.py). The section copies examples/multi-org/__main__.py beside this file
as `multi_org.py`; PYTHONPATH holds the repository, so `benchmarks._noop` imports here and in the
provider process."""

import runpy
from pathlib import Path

from benchmarks._noop import install

install()
runpy.run_path(str(Path(__file__).resolve().parent / "multi_org.py"), run_name="__main__")
