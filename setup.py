"""Packaging for pulumi-spaceinvoices."""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "pulumi_spaceinvoices" / "_version.py").read_text(), re.M
).group(1)

SANDBOX = ["fastapi>=0.110", "uvicorn>=0.29"]

setup(
    name="pulumi-spaceinvoices",
    version=VERSION,
    description="Space Invoices Stripe Connect as Pulumi resources (dynamic providers), with a local sandbox",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["pulumi_spaceinvoices", "pulumi_spaceinvoices.*"]),
    package_data={"pulumi_spaceinvoices": ["py.typed", "pulumi-plugin.json"]},
    install_requires=["pulumi>=3.216", "requests>=2.31", "pydantic>=2.5"],
    extras_require={
        "sandbox": SANDBOX,
        "dev": SANDBOX
        + [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "openapi-core>=0.19",
            "hypothesis>=6.100",
            "pyyaml>=6",
            "playwright>=1.45",
            "ruff>=0.5",
        ],
    },
    entry_points={"console_scripts": [
        "spaceinvoices-sandbox=pulumi_spaceinvoices.sandbox.cli:main",
        # The native provider plugin: the engine finds pulumi-resource-<package> on PATH.
        "pulumi-resource-spaceinvoices=pulumi_spaceinvoices.plugin.server:main",
    ]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: System :: Systems Administration",
        "Development Status :: 4 - Beta",
    ],
)
