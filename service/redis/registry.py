"""Environments and tokens in Redis (store.Registry): shared by every process of one service.

With the rate limiter of ratelimit.py, two processes
over one Redis behave as one service: a token revoked through either is refused by both,
and a token's requests count against one limit wherever they land. Keys (P the prefix):

- P:environments                 set of client-side ids
- P:environment:ID               hash: project_key, environment_key, created_at
- P:environment_keys:PROJECT:ENV the client-side id of that pair (keys hold no ":")
- P:tokens                       set of token ids
- P:token:ID                     hash: hash (sha256 hex), role, actions (JSON), name,
                                 created_at, revoked_at (absent until revoked)
- P:registry_generation          counter: bumped by every change of tokens or
                                 environments, so serving processes clear their caches
- P:ratelimit:ID                 hash: start (ms), count; expires with its window
- P:write_probe                  the time (ms) of the last readiness check's write
"""

from __future__ import annotations

import json
import secrets
from typing import Optional

import redis
from redis.typing import EncodableT

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
    KEY,
    Bootstrap,
    Environment,
    RegistryError,
    check_environment_keys,
    now_ms,
)
from . import scripts
from .client import text, unavailable_on_failure


class RedisRegistry:
    """registry.Registry's interface, on Redis under a key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._bootstrap = client.register_script(scripts.BOOTSTRAP)
        self._add_environment = client.register_script(scripts.ADD_ENVIRONMENT)
        self._revoke = client.register_script(scripts.REVOKE)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        with unavailable_on_failure("a health check"):
            self.client.ping()

    def generation(self) -> int:
        """The counter every change of tokens or environments bumps."""
        with unavailable_on_failure("a read"):
            value = self.client.get(self._key("registry_generation"))
        return int(value or 0)

    def probe_write(self) -> None:
        """Raise StoreUnavailable unless Redis takes a write (not full, not read-only)."""
        with unavailable_on_failure("a readiness check"):
            self.client.set(self._key("write_probe"), now_ms(), px=60_000)

    # --- environments

    def bootstrap(self) -> Optional[Bootstrap]:
        """On an empty store, create the default environment and a writer token."""
        environment = Environment(
            secrets.token_hex(12), DEFAULT_PROJECT_KEY, DEFAULT_ENVIRONMENT_KEY
        )
        token_id, token = new_token()
        keys = [
            self._key("environments"),
            self._key("tokens"),
            self._key("environment", environment.client_side_id),
            self._environment_keys(
                environment.project_key, environment.environment_key
            ),
            self._key("token", token_id),
            self._key("registry_generation"),
        ]
        args: list[EncodableT] = [
            environment.client_side_id,
            environment.project_key,
            environment.environment_key,
            now_ms(),
            token_id,
            token_hash(token),
            "writer",
            "[]",
            "first start",
        ]
        with unavailable_on_failure("the first start"):
            created = self._bootstrap(keys=keys, args=args)
        return Bootstrap(environment, token_id, token) if created else None

    def _environment_keys(self, project_key: str, environment_key: str) -> str:
        return self._key("environment_keys", project_key, environment_key)

    def add_environment(
        self, client_side_id: str, project_key: str, environment_key: str
    ) -> Environment:
        check_environment_keys(client_side_id, project_key, environment_key)
        keys = [
            self._key("environments"),
            self._key("environment", client_side_id),
            self._environment_keys(project_key, environment_key),
            self._key("registry_generation"),
        ]
        with unavailable_on_failure("adding an environment"):
            reply = self._add_environment(
                keys=keys,
                args=[client_side_id, project_key, environment_key, now_ms()],
            )
        if reply[0] == b"taken_id":
            raise RegistryError(f'client-side id "{client_side_id}" is already added')
        if reply[0] == b"taken_keys":
            raise RegistryError(
                f'project "{project_key}" already has environment '
                f'"{environment_key}" (client-side id "{reply[1].decode()}")'
            )
        return Environment(client_side_id, project_key, environment_key)

    def environment_by_client_id(self, client_side_id: str) -> Optional[Environment]:
        with unavailable_on_failure("a read"):
            row = self.client.hmget(
                self._key("environment", client_side_id),
                "project_key",
                "environment_key",
            )
        project_key, environment_key = row
        if project_key is None or environment_key is None:
            return None
        return Environment(client_side_id, text(project_key), text(environment_key))

    def environment_by_keys(
        self, project_key: str, environment_key: str
    ) -> Optional[Environment]:
        if not (KEY.fullmatch(project_key) and KEY.fullmatch(environment_key)):
            return None  # such keys are never added, and ":" would confuse our keys
        with unavailable_on_failure("a read"):
            value = self.client.get(
                self._environment_keys(project_key, environment_key)
            )
        if value is None:
            return None
        return Environment(text(value), project_key, environment_key)

    def list_environments(self) -> list[Environment]:
        with unavailable_on_failure("a read"):
            ids = self.client.smembers(self._key("environments"))
        found = [self.environment_by_client_id(text(value)) for value in ids]
        environments = [environment for environment in found if environment]
        return sorted(environments, key=lambda e: (e.project_key, e.environment_key))

    # --- tokens

    def create_token(
        self, role: str, actions: frozenset[str] = frozenset(), name: str = ""
    ) -> tuple[TokenInfo, str]:
        """A new token with a built-in role, or with role 'custom' and its actions."""
        if role != CUSTOM_ROLE and role not in BUILT_IN_ROLES:
            raise RegistryError(
                f'unknown role "{role}"; the roles are: ' + ", ".join(BUILT_IN_ROLES)
            )
        token_id, token = new_token()
        created_at = now_ms()
        actions_json = json.dumps(sorted(actions))
        with unavailable_on_failure("creating a token"):
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(
                self._key("token", token_id),
                mapping={
                    "hash": token_hash(token),
                    "role": role,
                    "actions": actions_json,
                    "name": name,
                    "created_at": created_at,
                },
            )
            pipe.sadd(self._key("tokens"), token_id)
            pipe.incr(self._key("registry_generation"))
            pipe.execute()
        info = token_info((token_id, role, actions_json, name, created_at, None))
        return info, token

    def _token_row(self, token_id: str) -> Optional[dict[str, str]]:
        with unavailable_on_failure("a token lookup"):
            row = self.client.hgetall(self._key("token", token_id))
        if not row:
            return None
        return {text(name): text(value) for name, value in row.items()}

    def _info(self, token_id: str, row: dict[str, str]) -> TokenInfo:
        revoked_at = row.get("revoked_at")
        return token_info(
            (
                token_id,
                row["role"],
                row["actions"],
                row["name"],
                int(row["created_at"]),
                None if revoked_at is None else int(revoked_at),
            )
        )

    def list_tokens(self) -> list[TokenInfo]:
        with unavailable_on_failure("a read"):
            ids = sorted(
                text(value) for value in self.client.smembers(self._key("tokens"))
            )
        rows = [(token_id, self._token_row(token_id)) for token_id in ids]
        infos = [self._info(token_id, row) for token_id, row in rows if row]
        return sorted(infos, key=lambda info: (info.created_at, info.id))

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token (again is fine); its requests get 403 from now on."""
        with unavailable_on_failure("revoking a token"):
            found = self._revoke(
                keys=[self._key("token", token_id), self._key("registry_generation")],
                args=[now_ms()],
            )
        row = self._token_row(token_id) if found else None
        if row is None:
            raise RegistryError(
                f'no token with id "{token_id}" (see: python -m service token list)'
            )
        return self._info(token_id, row)

    def stored_token(self, token_id: str) -> Optional[StoredToken]:
        """What Redis keeps of a token, or None for an unknown id."""
        row = self._token_row(token_id)
        if row is None:
            return None
        role = row["role"]
        return StoredToken(
            token_id,
            row["hash"],
            role,
            role_actions(role, row["actions"]),
            "revoked_at" in row,
        )

    def authenticate(self, authorization: Optional[str]) -> Principal:
        """The principal of an Authorization header; AccessDenied says what is wrong."""
        return authenticate(authorization, self.stored_token)
