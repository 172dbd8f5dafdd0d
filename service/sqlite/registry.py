"""Environments and access tokens in the SQLite file, beside the segments (registry.Registry)."""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Optional

from ..access import (
    BUILT_IN_ROLES,
    CUSTOM_ROLE,
    Principal,
    StoredToken,
    TokenInfo,
    authenticate,
    new_token,
    role_actions,
    token_hash,
    token_info,
)
from ..store import (
    DEFAULT_ENVIRONMENT_KEY,
    DEFAULT_PROJECT_KEY,
    Bootstrap,
    Environment,
    RegistryError,
    check_environment_keys,
    now_ms,
)
from .database import Database


class SqliteRegistry:
    """Environments (client-side id -> project and environment keys) and tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers a query."""
        with self.db.read() as conn:
            conn.execute("SELECT 1 FROM tokens LIMIT 1").fetchall()

    def generation(self) -> int:
        """A counter every change of tokens or environments bumps (by triggers)."""
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM registry_generation").fetchone()
        return int(row[0])

    def probe_write(self) -> None:
        """Raise StoreUnavailable unless a write commits to the file and its log.

        It rewrites the schema version with the value it holds: a real commit (one
        page to the WAL, fsynced) that changes nothing a reader or a migration sees.
        """
        with self.db.write() as tx:
            version = int(tx.execute("PRAGMA user_version").fetchone()[0])
            tx.execute(f"PRAGMA user_version = {version}")

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
        check_environment_keys(client_side_id, project_key, environment_key)
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
        conn: sqlite3.Connection, where: str, values: tuple[str, ...]
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
        return [token_info(row) for row in rows]

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
        return token_info(row)

    def stored_token(self, token_id: str) -> Optional[StoredToken]:
        """What the file keeps of a token, or None for an unknown id."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT hash, role, actions, revoked_at FROM tokens WHERE id = ?",
                (token_id,),
            ).fetchone()
        if row is None:
            return None
        stored_hash, role, actions, revoked_at = row
        return StoredToken(
            token_id,
            stored_hash,
            role,
            role_actions(role, actions),
            revoked_at is not None,
        )

    def authenticate(self, authorization: Optional[str]) -> Principal:
        """The principal of an Authorization header; AccessDenied says what is wrong."""
        return authenticate(authorization, self.stored_token)


_TOKEN_COLUMNS = "id, role, actions, name, created_at, revoked_at"


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
    info = token_info((token_id, role, actions_json, name, created_at, None))
    return info, token
