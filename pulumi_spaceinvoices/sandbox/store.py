"""SQLite data layer of the sandbox: accounts, tokens, organizations, Connect records, links, invoices.

One connection (a file path or ":memory:") guarded by one lock, so the server thread and test code can
use the same store at once. Methods return plain dicts with snake_case keys (booleans as bool, `custom`
as a dict) or None when the object does not exist; the HTTP layer turns them into wire shapes.
"""

from __future__ import annotations

import itertools
import json
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

SPACE_INVOICES_FEE = 0.15
"""The fee Space Invoices takes (0..1); set by the server, as in the doc page's example."""

_ALNUM = string.ascii_letters + string.digits
_OID_RANDOM = secrets.token_hex(5)
_OID_COUNTER = itertools.count(secrets.randbelow(1 << 24))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, email TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id), name TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS connect_configs (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE REFERENCES accounts(id),
    private_key TEXT NOT NULL, public_key TEXT NOT NULL, webhook_secret TEXT NOT NULL,
    connect_webhook_secret TEXT, active INTEGER NOT NULL, refresh_url TEXT, return_url TEXT,
    application_fee REAL, space_invoices_fee REAL NOT NULL, custom TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS org_accounts (
    id TEXT PRIMARY KEY, organization_id TEXT NOT NULL UNIQUE REFERENCES organizations(id),
    stripe_account_id TEXT NOT NULL, stripe_connect_id TEXT NOT NULL REFERENCES connect_configs(id),
    charges_enabled INTEGER NOT NULL, active INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS onboarding_links (
    token TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),
    created REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),
    shareable_id TEXT NOT NULL UNIQUE, number TEXT NOT NULL, amount REAL NOT NULL,
    currency TEXT NOT NULL, paid INTEGER NOT NULL DEFAULT 0, payment_intent_id TEXT,
    client_secret TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

CONNECT_FIELDS = (
    "private_key", "public_key", "connect_webhook_secret", "active", "refresh_url", "return_url",
    "application_fee", "custom",
)
"""Connect config fields a client may set (server-set fields are not in this list)."""

_BOOL_COLUMNS = ("active", "charges_enabled", "paid", "used")


def object_id() -> str:
    """A new 24-hex id laid out like a MongoDB ObjectId (time, process random, counter)."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_OID_RANDOM}{next(_OID_COUNTER) & 0xFFFFFF:06x}"


def random_alnum(length: int) -> str:
    """Random letters and digits, the alphabet of Stripe ids."""
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds and `Z`, the API's timestamp format."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def is_object_id(value: str) -> bool:
    """Whether `value` is a 24-hex id."""
    return len(value) == 24 and all(c in string.hexdigits for c in value)


class Store:
    """The sandbox's data, in SQLite. Thread-safe: every method holds one lock."""

    def __init__(self, db: str = ":memory:") -> None:
        self.db = db
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        if db != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:
            yield self._conn

    def _one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return _as_dict(row) if row is not None else None

    # Accounts and tokens

    def create_account(self, email: str) -> dict[str, Any]:
        """Create an account with one access token; returns {id, email, token, created_at}."""
        account = {"id": object_id(), "email": email, "created_at": now_iso()}
        with self._tx() as db:
            db.execute("INSERT INTO accounts VALUES (:id, :email, :created_at)", account)
        return {**account, "token": self.create_token(account["id"])}

    def create_token(self, account_id: str) -> str:
        """Issue another access token for an account (tokens are 64 hex characters)."""
        token = secrets.token_hex(32)
        with self._tx() as db:
            db.execute("INSERT INTO tokens VALUES (?, ?, ?)", (token, account_id, now_iso()))
        return token

    def revoke_token(self, token: str) -> None:
        """Make a token unknown."""
        with self._tx() as db:
            db.execute("DELETE FROM tokens WHERE token = ?", (token,))

    def account(self, account_id: str) -> dict[str, Any] | None:
        """An account by id."""
        return self._one("SELECT * FROM accounts WHERE id = ?", account_id)

    def account_for_token(self, token: str) -> str | None:
        """The id of the account a token belongs to, or None for an unknown token."""
        row = self._one("SELECT account_id FROM tokens WHERE token = ?", token)
        return row["account_id"] if row else None

    # Organizations

    def create_organization(self, account_id: str, name: str) -> str:
        """Create an organization in an account; returns its id."""
        org_id = object_id()
        with self._tx() as db:
            db.execute("INSERT INTO organizations VALUES (?, ?, ?, ?)", (org_id, account_id, name, now_iso()))
        return org_id

    def organization(self, org_id: str) -> dict[str, Any] | None:
        """An organization by id: {id, account_id, name, created_at}."""
        return self._one("SELECT * FROM organizations WHERE id = ?", org_id.lower())

    # Stripe Connect config (one per account)

    def connect_config(self, account_id: str) -> dict[str, Any] | None:
        """The account's Connect config, or None when Connect was never enabled."""
        return self._one("SELECT * FROM connect_configs WHERE account_id = ?", account_id)

    def enable_connect(self, account_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Create the account's Connect config from CONNECT_FIELDS; None if one already exists."""
        now = now_iso()
        row = {
            "connect_webhook_secret": None, "refresh_url": None, "return_url": None,
            "application_fee": None, "active": True, "custom": {},
            **{key: value for key, value in fields.items() if key in CONNECT_FIELDS},
            "id": object_id(), "account_id": account_id, "webhook_secret": "whsec_" + random_alnum(32),
            "space_invoices_fee": SPACE_INVOICES_FEE, "created_at": now, "updated_at": now,
        }
        with self._tx() as db:
            if db.execute("SELECT 1 FROM connect_configs WHERE account_id = ?", (account_id,)).fetchone():
                return None
            db.execute(
                "INSERT INTO connect_configs VALUES (:id, :account_id, :private_key, :public_key,"
                " :webhook_secret, :connect_webhook_secret, :active, :refresh_url, :return_url,"
                " :application_fee, :space_invoices_fee, :custom, :created_at, :updated_at)",
                {**row, "custom": json.dumps(row["custom"])},
            )
        return self.connect_config(account_id)

    def update_connect(self, account_id: str, **fields: Any) -> dict[str, Any] | None:
        """Change Connect config fields (CONNECT_FIELDS, plus webhook_secret and space_invoices_fee
        for out-of-band edits); returns the new record, or None when there is none."""
        allowed = {*CONNECT_FIELDS, "webhook_secret", "space_invoices_fee"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not a Connect config field: {', '.join(sorted(unknown))}")
        values = {key: json.dumps(value) if key == "custom" else value for key, value in fields.items()}
        values["updated_at"] = now_iso()
        assignments = ", ".join(f"{key} = :{key}" for key in values)
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE connect_configs SET {assignments} WHERE account_id = :account_id",
                {**values, "account_id": account_id},
            )
        return self.connect_config(account_id) if cursor.rowcount else None

    # Stripe Connect accounts (one per organization)

    def org_account(self, org_id: str) -> dict[str, Any] | None:
        """The organization's Connect account record, or None when not created yet."""
        return self._one("SELECT * FROM org_accounts WHERE organization_id = ?", org_id.lower())

    def org_account_by_id(self, record_id: str) -> dict[str, Any] | None:
        """A Connect account record by its own id, with the owning `account_id` added."""
        return self._one(
            "SELECT a.*, o.account_id FROM org_accounts a JOIN organizations o ON o.id = a.organization_id"
            " WHERE a.id = ?",
            record_id.lower(),
        )

    def count_org_accounts(self, org_id: str) -> int:
        """How many Connect account records the organization has (the API allows one)."""
        row = self._one("SELECT COUNT(*) AS n FROM org_accounts WHERE organization_id = ?", org_id.lower())
        return int(row["n"]) if row else 0

    def create_org_account(self, org_id: str, connect_id: str, *, active: bool = True) -> dict[str, Any] | None:
        """Create the organization's Connect account record; None if one already exists."""
        now = now_iso()
        with self._tx() as db:
            org_id = org_id.lower()
            if db.execute("SELECT 1 FROM org_accounts WHERE organization_id = ?", (org_id,)).fetchone():
                return None
            db.execute(
                "INSERT INTO org_accounts VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (object_id(), org_id, "acct_" + random_alnum(16), connect_id, active, now, now),
            )
        return self.org_account(org_id)

    def update_org_account(self, record_id: str, **fields: Any) -> dict[str, Any] | None:
        """Change `active` and/or `charges_enabled` of a record; returns it, or None if unknown."""
        unknown = set(fields) - {"active", "charges_enabled"}
        if unknown:
            raise ValueError(f"not a Connect account field: {', '.join(sorted(unknown))}")
        values = {**fields, "updated_at": now_iso()}
        assignments = ", ".join(f"{key} = :{key}" for key in values)
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE org_accounts SET {assignments} WHERE id = :id", {**values, "id": record_id.lower()}
            )
        return self.org_account_by_id(record_id) if cursor.rowcount else None

    def set_charges_enabled(self, org_id: str, enabled: bool) -> None:
        """Set `chargesEnabled` of the organization's account (what finishing onboarding does)."""
        record = self.org_account(org_id)
        if record is None:
            raise LookupError(f"organization {org_id} has no Stripe Connect account")
        self.update_org_account(record["id"], charges_enabled=enabled)

    # Onboarding links

    def create_link(self, org_id: str) -> str:
        """A new single-use onboarding link token for an organization."""
        token = secrets.token_urlsafe(24)
        with self._tx() as db:
            db.execute("INSERT INTO onboarding_links VALUES (?, ?, ?, 0)", (token, org_id.lower(), time.time()))
        return token

    def link(self, token: str) -> dict[str, Any] | None:
        """A link by token, with the organization's name and account id: {token, organization_id,
        created (epoch seconds), used, organization_name, account_id}."""
        return self._one(
            "SELECT l.*, o.name AS organization_name, o.account_id FROM onboarding_links l"
            " JOIN organizations o ON o.id = l.organization_id WHERE l.token = ?",
            token,
        )

    def complete_onboarding(self, token: str) -> bool:
        """Use a link: mark it used and enable charges. False if it was already used."""
        with self._tx() as db:
            row = db.execute("SELECT organization_id FROM onboarding_links WHERE token = ? AND used = 0", (token,))
            link = row.fetchone()
            if link is None:
                return False
            db.execute("UPDATE onboarding_links SET used = 1 WHERE token = ?", (token,))
            db.execute(
                "UPDATE org_accounts SET charges_enabled = 1, updated_at = ? WHERE organization_id = ?",
                (now_iso(), link["organization_id"]),
            )
        return True

    # Invoices

    def create_invoice(
        self, org_id: str, *, amount: float, currency: str = "EUR", number: str | None = None
    ) -> dict[str, Any]:
        """Create an unpaid invoice with a shareable id; the number defaults to YEAR-NNNNN."""
        shareable_id = secrets.token_urlsafe(18)
        with self._tx() as db:
            if number is None:
                (count,) = db.execute("SELECT COUNT(*) FROM invoices WHERE organization_id = ?", (org_id,)).fetchone()
                number = f"{datetime.now(timezone.utc).year}-{count + 1:05d}"
            db.execute(
                "INSERT INTO invoices (id, organization_id, shareable_id, number, amount, currency, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (object_id(), org_id.lower(), shareable_id, number, float(amount), currency, now_iso()),
            )
        invoice = self.invoice(shareable_id)
        assert invoice is not None
        return invoice

    def invoice(self, shareable_id: str) -> dict[str, Any] | None:
        """An invoice by shareable id (exact match)."""
        return self._one("SELECT * FROM invoices WHERE shareable_id = ?", shareable_id)

    def payment_intent(self, shareable_id: str) -> dict[str, Any] | None:
        """The invoice with its payment intent ids, creating them on first use."""
        intent_id = "pi_" + random_alnum(24)
        client_secret = f"{intent_id}_secret_{random_alnum(25)}"
        with self._tx() as db:
            db.execute(
                "UPDATE invoices SET payment_intent_id = ?, client_secret = ?"
                " WHERE shareable_id = ? AND payment_intent_id IS NULL",
                (intent_id, client_secret, shareable_id),
            )
        return self.invoice(shareable_id)

    def mark_paid(self, shareable_id: str) -> None:
        """Mark an invoice paid."""
        with self._tx() as db:
            db.execute("UPDATE invoices SET paid = 1 WHERE shareable_id = ?", (shareable_id,))

    # The demo seed, kept across restarts of a file database

    def seed_demo(self) -> dict[str, Any]:
        """An account with a token, one organization and one shareable invoice, created once per
        database: {account_id, token, organization_id, invoice_id, shareable_id}."""
        with self._lock:
            stored = self.meta("demo")
            if stored is not None:
                demo: dict[str, Any] = json.loads(stored)  # what this method stored, below
                return demo
            account = self.create_account("demo@example.com")
            org_id = self.create_organization(account["id"], "Demo Organization")
            invoice = self.create_invoice(org_id, amount=100.0, currency="EUR")
            demo = {
                "account_id": account["id"], "token": account["token"], "organization_id": org_id,
                "invoice_id": invoice["id"], "shareable_id": invoice["shareable_id"],
            }
            self.set_meta("demo", json.dumps(demo))
            return demo

    # Small key/value settings that must survive a restart

    def meta(self, key: str) -> str | None:
        """A stored value, or None."""
        row = self._one("SELECT value FROM meta WHERE key = ?", key)
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a value."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    record = dict(row)
    for key in _BOOL_COLUMNS:
        if key in record and record[key] is not None:
            record[key] = bool(record[key])
    if "custom" in record:
        record["custom"] = json.loads(record["custom"])
    return record
