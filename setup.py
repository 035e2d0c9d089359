# A shim for tools that still look for setup.py (pip before 21.3 for editable installs, some scanners).
# pyproject.toml is the single source of truth: everything is declared there.
from setuptools import setup

setup()
