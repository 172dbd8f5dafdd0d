"""Environments and access tokens, kept in the SQLite file beside the segments.

This is configuration, small and rarely written, so it stays in SQLite whatever store
holds the segments.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Optional

from .access import (
    BUILT_IN_ROLES,
    CUSTOM_ROLE,
    Principal,
    new_token,
    token_from_header,
    token_hash,
    token_id_of,
)
from .db import Database, now_ms
from .store import Environment

DEFAULT_PROJECT_KEY = "default"
DEFAULT_ENVIRONMENT_KEY = "production"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RegistryError(Exception):
    """A configuration command that cannot be done; the message says why."""


class AccessDenied(Exception):
    """No usable token: missing, malformed, unknown or revoked. The message never quotes it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it: everything but the token."""

    id: str
    role: str
    actions: frozenset[str]
    name: str
    created_at: int
    revoked_at: Optional[int]


@dataclass(frozen=True)
class Bootstrap:
    """What a first start created: shown once."""

    environment: Environment
    token_id: str
    token: str


class Registry:
    """Environments (client-side id -> project and environment keys) and tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers a query."""
        with self.db.read() as conn:
            conn.execute("SELECT 1 FROM tokens LIMIT 1").fetchall()

    # --- environments

    def bootstrap(self) -> Optional[Bootstrap]:
        """On an empty store, create the default environment and a writer token."""
        with self.db.write() as tx:
            has_environment = tx.execute("SELECT 1 FROM environments LIMIT 1")
            if has_environment.fetchone() is not None:
                return None
            if tx.execute("SELECT 1 FROM tokens LIMIT 1").fetchone() is not None:
                return None
            environment = Environment(
                # 24 hex digits, the shape of a LaunchDarkly client-side id
                secrets.token_hex(12),
                DEFAULT_PROJECT_KEY,
                DEFAULT_ENVIRONMENT_KEY,
            )
            _insert_environment(tx, environment)
            info, token = _insert_token(tx, "writer", frozenset(), "first start")
        return Bootstrap(environment, info.id, token)

    def add_environment(
        self, client_side_id: str, project_key: str, environment_key: str
    ) -> Environment:
        for label, value in (
            ("client-side id", client_side_id),
            ("project key", project_key),
            ("environment key", environment_key),
        ):
            if not _KEY.fullmatch(value):
                raise RegistryError(
                    f'{label} "{value}" must be 1 to 128 letters, digits, ".", "_" or '
                    '"-", starting with a letter or digit'
                )
        environment = Environment(client_side_id, project_key, environment_key)
        with self.db.write() as tx:
            if self._environment(tx, "client_side_id = ?", (client_side_id,)):
                raise RegistryError(
                    f'client-side id "{client_side_id}" is already added'
                )
            taken = self._environment(
                tx,
                "project_key = ? AND environment_key = ?",
                (project_key, environment_key),
            )
            if taken:
                raise RegistryError(
                    f'project "{project_key}" already has environment '
                    f'"{environment_key}" (client-side id "{taken.client_side_id}")'
                )
            _insert_environment(tx, environment)
        return environment

    def environment_by_client_id(self, client_side_id: str) -> Optional[Environment]:
        with self.db.read() as conn:
            return self._environment(conn, "client_side_id = ?", (client_side_id,))

    def environment_by_keys(
        self, project_key: str, environment_key: str
    ) -> Optional[Environment]:
        with self.db.read() as conn:
            return self._environment(
                conn,
                "project_key = ? AND environment_key = ?",
                (project_key, environment_key),
            )

    def list_environments(self) -> list[Environment]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT client_side_id, project_key, environment_key FROM environments "
                "ORDER BY project_key, environment_key"
            ).fetchall()
        return [Environment(*row) for row in rows]

    @staticmethod
    def _environment(
        conn: sqlite3.Connection, where: str, values: tuple
    ) -> Optional[Environment]:
        row = conn.execute(
            "SELECT client_side_id, project_key, environment_key FROM environments "
            f"WHERE {where}",
            values,
        ).fetchone()
        return None if row is None else Environment(*row)

    # --- tokens

    def create_token(
        self, role: str, actions: frozenset[str] = frozenset(), name: str = ""
    ) -> tuple[TokenInfo, str]:
        """A new token with a built-in role, or with role 'custom' and its actions."""
        if role != CUSTOM_ROLE and role not in BUILT_IN_ROLES:
            raise RegistryError(
                f'unknown role "{role}"; the roles are: ' + ", ".join(BUILT_IN_ROLES)
            )
        with self.db.write() as tx:
            return _insert_token(tx, role, actions, name)

    def list_tokens(self) -> list[TokenInfo]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
            ).fetchall()
        return [_token_info(row) for row in rows]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token (again is fine); its requests get 403 from now on."""
        with self.db.write() as tx:
            tx.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now_ms(), token_id),
            )
            row = tx.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)
            ).fetchone()
        if row is None:
            raise RegistryError(
                f'no token with id "{token_id}" (see: python -m service token list)'
            )
        return _token_info(row)

    def authenticate(self, authorization: Optional[str]) -> Principal:
        """The principal of an Authorization header; AccessDenied says what is wrong."""
        token = token_from_header(authorization)
        if token is None:
            raise AccessDenied(
                "missing_token",
                "missing access token: send it in the Authorization header "
                "(Authorization: <token>, or Authorization: Bearer <token>)",
            )
        token_id = token_id_of(token)
        row = None
        if token_id is not None:
            with self.db.read() as conn:
                row = conn.execute(
                    "SELECT hash, role, actions, revoked_at FROM tokens WHERE id = ?",
                    (token_id,),
                ).fetchone()
        # Look up by the public id, then compare the secret's hash in constant time.
        if row is None or not hmac.compare_digest(row[0], token_hash(token)):
            raise AccessDenied("invalid_token", "invalid access token")
        _, role, actions, revoked_at = row
        if revoked_at is not None:
            raise AccessDenied("revoked_token", "this access token has been revoked")
        if role != CUSTOM_ROLE:
            return Principal(token_id, role, BUILT_IN_ROLES[role])
        return Principal(token_id, role, frozenset(json.loads(actions)))


_TOKEN_COLUMNS = "id, role, actions, name, created_at, revoked_at"


def _token_info(row: tuple) -> TokenInfo:
    token_id, role, actions, name, created_at, revoked_at = row
    if role != CUSTOM_ROLE:
        allowed = BUILT_IN_ROLES.get(role, frozenset())
    else:
        allowed = frozenset(json.loads(actions))
    return TokenInfo(token_id, role, allowed, name, created_at, revoked_at)


def _insert_environment(tx: sqlite3.Connection, environment: Environment) -> None:
    tx.execute(
        "INSERT INTO environments (client_side_id, project_key, environment_key, "
        "created_at) VALUES (?, ?, ?, ?)",
        (
            environment.client_side_id,
            environment.project_key,
            environment.environment_key,
            now_ms(),
        ),
    )


def _insert_token(
    tx: sqlite3.Connection, role: str, actions: frozenset[str], name: str
) -> tuple[TokenInfo, str]:
    token_id, token = new_token()
    created_at = now_ms()
    actions_json = json.dumps(sorted(actions))
    tx.execute(
        "INSERT INTO tokens (id, hash, role, actions, name, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token_id, token_hash(token), role, actions_json, name, created_at),
    )
    info = _token_info((token_id, role, actions_json, name, created_at, None))
    return info, token
