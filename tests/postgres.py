"""A PostgreSQL server for tests: Pulumi's self-managed (DIY) backend `postgres://…` on a real database.

`PostgresServer.start()` runs the PostgreSQL installed in `/usr/lib/postgresql/<major>/bin` (Debian's
and Ubuntu's layout; the newest of 14 to 17 found, or `SPACEINVOICES_TEST_PG_BIN`, which `.ci/run`
sets to the one it found or installed) as the `postgres` user when run as root (initdb and pg_ctl
refuse root; as anyone else, as that user) in a temporary folder of its own, listening on a
free loopback port only, with password authentication; `backend_url(database)` makes a database
and returns the URL Pulumi takes (`PULUMI_BACKEND_URL`). One server serves a whole test session;
`stop()` shuts it down and removes its folder. Under `CI=true` a missing PostgreSQL fails the test
that needs it; elsewhere it skips, saying what to install.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

MAJOR_VERSIONS = (17, 16, 15, 14)


def find_bin() -> Path:
    """The folder of initdb, pg_ctl and psql: SPACEINVOICES_TEST_PG_BIN, else the newest supported
    major version installed (the one named first in messages when there is none)."""
    if os.environ.get("SPACEINVOICES_TEST_PG_BIN"):
        return Path(os.environ["SPACEINVOICES_TEST_PG_BIN"])
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin") for major in MAJOR_VERSIONS]
    return next((folder for folder in candidates if (folder / "initdb").exists()), candidates[0])


BIN = find_bin()
USER = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str, timeout: float = 120) -> str:
    prefix = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
    result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"`{' '.join(command)}` exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.root = Path(tempfile.mkdtemp(prefix="spaceinvoices-pg-", dir="/tmp"))
        self.data = self.root / "data"

    @classmethod
    def start(cls) -> PostgresServer:
        if not (BIN / "initdb").exists():
            message = f"PostgreSQL 14 to 17 is not installed ({BIN}/initdb): apt-get install postgresql"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        server = cls()
        pwfile = server.root / "pwfile"
        pwfile.write_text(server.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(server.root, USER)
            shutil.chown(pwfile, USER)
        server.root.chmod(0o700)
        _as_postgres(str(BIN / "initdb"), "-D", str(server.data), "-U", USER, "--auth-host=scram-sha-256",
                     "--auth-local=trust", f"--pwfile={pwfile}", "-E", "UTF8")
        pwfile.unlink()
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(server.data), "-l", str(server.root / "log"), "-w", "start", "-o",
                     f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.root} -c max_connections=200")
        return server

    def sql(self, statement: str, database: str = "postgres") -> str:
        return _as_postgres(str(BIN / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", USER, "-d", database,
                            "-v", "ON_ERROR_STOP=1", "-Atc", statement)

    def backend_url(self, database: str) -> str:
        """A new database; the `postgres://` URL of it for PULUMI_BACKEND_URL (loopback, no TLS)."""
        self.sql(f'CREATE DATABASE "{database}"')
        return f"postgres://{USER}:{self.password}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop(self) -> None:
        try:
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
