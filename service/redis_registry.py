"""Environments, tokens and the rate limit in Redis: shared by every process of one service.

The same interface as registry.Registry and ratelimit.RateLimiter, so that two processes
over one Redis behave as one service: a token revoked through either is refused by both,
and a token's requests count against one limit wherever they land. Keys (P the prefix):

- P:environments                 set of client-side ids
- P:environment:ID               hash: project_key, environment_key, created_at
- P:environment_keys:PROJECT:ENV the client-side id of that pair (keys hold no ":")
- P:tokens                       set of token ids
- P:token:ID                     hash: hash (sha256 hex), role, actions (JSON), name,
                                 created_at, revoked_at (absent until revoked)
- P:ratelimit:ID                 hash: start (ms), count; expires with its window
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
from typing import Optional

import redis

from .access import (
    BUILT_IN_ROLES,
    CUSTOM_ROLE,
    Principal,
    new_token,
    token_from_header,
    token_hash,
    token_id_of,
)
from .ratelimit import RateLimit, Refusal
from .redis_store import now_ms, unavailable_on_failure
from .registry import (
    _KEY,
    DEFAULT_ENVIRONMENT_KEY,
    DEFAULT_PROJECT_KEY,
    AccessDenied,
    Bootstrap,
    RegistryError,
    TokenInfo,
    _token_info,
)
from .store import Environment

# Both checks and both writes in one script: two processes starting at once on an empty
# Redis must not both create a default environment.
_BOOTSTRAP = """
if redis.call('SCARD', KEYS[1]) > 0 or redis.call('SCARD', KEYS[2]) > 0 then
  return 0
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], 'project_key', ARGV[2], 'environment_key', ARGV[3],
  'created_at', ARGV[4])
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('HSET', KEYS[5], 'hash', ARGV[6], 'role', ARGV[7], 'actions', ARGV[8],
  'name', ARGV[9], 'created_at', ARGV[4])
return 1
"""

_ADD_ENVIRONMENT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'taken_id'} end
local other = redis.call('GET', KEYS[3])
if other then return {'taken_keys', other} end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'project_key', ARGV[2], 'environment_key', ARGV[3],
  'created_at', ARGV[4])
redis.call('SET', KEYS[3], ARGV[1])
return {'ok'}
"""

_REVOKE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
return 1
"""

# A fixed window per token on Redis's clock, so that processes on hosts whose clocks
# differ still share one window. Returns the window's start (ms) and count so far.
_RATE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
local start = tonumber(redis.call('HGET', KEYS[1], 'start'))
if not start or now_ms >= start + window then
  start = now_ms
  redis.call('HSET', KEYS[1], 'start', start, 'count', 0)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
return {start, count, now_ms}
"""


class RedisRegistry:
    """registry.Registry's interface, on Redis under a key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._bootstrap = client.register_script(_BOOTSTRAP)
        self._add_environment = client.register_script(_ADD_ENVIRONMENT)
        self._revoke = client.register_script(_REVOKE)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        with unavailable_on_failure("a health check"):
            self.client.ping()

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
        ]
        args = [
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
        keys = [
            self._key("environments"),
            self._key("environment", client_side_id),
            self._environment_keys(project_key, environment_key),
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
        if row[0] is None:
            return None
        return Environment(client_side_id, row[0].decode(), row[1].decode())

    def environment_by_keys(
        self, project_key: str, environment_key: str
    ) -> Optional[Environment]:
        if not (_KEY.fullmatch(project_key) and _KEY.fullmatch(environment_key)):
            return None  # such keys are never added, and ":" would confuse our keys
        with unavailable_on_failure("a read"):
            value = self.client.get(
                self._environment_keys(project_key, environment_key)
            )
        if value is None:
            return None
        return Environment(value.decode(), project_key, environment_key)

    def list_environments(self) -> list[Environment]:
        with unavailable_on_failure("a read"):
            ids = self.client.smembers(self._key("environments"))
        found = [self.environment_by_client_id(value.decode()) for value in ids]
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
            pipe.execute()
        info = _token_info((token_id, role, actions_json, name, created_at, None))
        return info, token

    def _token_row(self, token_id: str) -> Optional[dict[str, str]]:
        with unavailable_on_failure("a token lookup"):
            row = self.client.hgetall(self._key("token", token_id))
        if not row:
            return None
        return {name.decode(): value.decode() for name, value in row.items()}

    def _info(self, token_id: str, row: dict[str, str]) -> TokenInfo:
        revoked_at = row.get("revoked_at")
        return _token_info(
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
                value.decode() for value in self.client.smembers(self._key("tokens"))
            )
        rows = [(token_id, self._token_row(token_id)) for token_id in ids]
        infos = [self._info(token_id, row) for token_id, row in rows if row]
        return sorted(infos, key=lambda info: (info.created_at, info.id))

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token (again is fine); its requests get 403 from now on."""
        with unavailable_on_failure("revoking a token"):
            found = self._revoke(keys=[self._key("token", token_id)], args=[now_ms()])
        row = self._token_row(token_id) if found else None
        if row is None:
            raise RegistryError(
                f'no token with id "{token_id}" (see: python -m service token list)'
            )
        return self._info(token_id, row)

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
        row = self._token_row(token_id) if token_id is not None else None
        # Look up by the public id, then compare the secret's hash in constant time.
        if row is None or not hmac.compare_digest(row["hash"], token_hash(token)):
            raise AccessDenied("invalid_token", "invalid access token")
        if "revoked_at" in row:
            raise AccessDenied("revoked_token", "this access token has been revoked")
        role = row["role"]
        if role != CUSTOM_ROLE:
            return Principal(token_id, role, BUILT_IN_ROLES[role])
        return Principal(token_id, role, frozenset(json.loads(row["actions"])))


class RedisRateLimiter:
    """ratelimit.RateLimiter's interface with its windows in Redis, shared by processes."""

    def __init__(
        self, limit: Optional[RateLimit], client: redis.Redis, prefix: str
    ) -> None:
        self.limit = limit
        self.prefix = prefix
        self._count = client.register_script(_RATE)

    def check(self, key: str) -> Optional[Refusal]:
        """Count one request for key; a Refusal when it is over the limit."""
        if self.limit is None:
            return None
        window_ms = self.limit.seconds * 1000
        with unavailable_on_failure("the rate limit"):
            start, count, now = self._count(
                keys=[f"{self.prefix}:ratelimit:{key}"], args=[window_ms]
            )
        if count <= self.limit.requests:
            return None
        reset_at = (start + window_ms) / 1000
        return Refusal(reset_at, max(1, math.ceil(reset_at - now / 1000)))
