"""Access tokens and roles: the actions a token may take, and tokens as text and as hashes.

A token reads `api-<id>-<secret>`: the id (12 hex digits) names the token in lists, logs
and `token revoke`; the secret is 256 random bits. Only the sha256 of the whole token is
stored. A fast hash is enough for a random 256-bit secret: there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

CREATE_SEGMENT = "createSegment"  # a sync creates a segment it has not seen before
UPDATE_INCLUDED = "updateIncluded"  # a sync adds or removes members
UPDATE_SEGMENT = "updateSegment"  # PATCH a segment's name, description or tags
VIEW_SEGMENT = "viewSegment"  # the read API
ACTIONS = (CREATE_SEGMENT, UPDATE_INCLUDED, UPDATE_SEGMENT, VIEW_SEGMENT)

BUILT_IN_ROLES: dict[str, frozenset[str]] = {
    "reader": frozenset({VIEW_SEGMENT}),
    "writer": frozenset(ACTIONS),
    "admin": frozenset(ACTIONS),
    "owner": frozenset(ACTIONS),
}
CUSTOM_ROLE = "custom"

TOKEN_PREFIX = "api-"
_TOKEN = re.compile(r"api-([0-9a-f]{12})-[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Principal:
    """Who sent a request: a valid, unrevoked token and what its role allows."""

    token_id: str
    role: str
    actions: frozenset[str]

    def allows(self, action: str) -> bool:
        return action in self.actions

    def describe_role(self) -> str:
        """The role as error messages name it."""
        if self.role != CUSTOM_ROLE:
            return f"role {self.role}"
        return "custom role [" + ", ".join(sorted(self.actions)) + "]"


def not_allowed(principal: Principal, action: str, purpose: str) -> str:
    """Why a request was refused: the role, the missing action, and what needs it."""
    return (
        f"this access token's {principal.describe_role()} lacks the action {action}, "
        f"which {purpose} needs"
    )


def new_token() -> tuple[str, str]:
    """(token id, token): a fresh token, to be shown once and stored only as a hash."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}{token_id}-{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> Optional[str]:
    """The id inside a well-formed token, or None for anything else."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def token_from_header(authorization: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: <token>` or `Authorization: Bearer <token>` header."""
    if authorization is None:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


def parse_actions(text: str) -> frozenset[str]:
    """A custom role from `createSegment,updateIncluded`; ValueError names a bad action."""
    actions = [part.strip() for part in text.split(",") if part.strip()]
    if not actions:
        raise ValueError("a custom role needs at least one action")
    for action in actions:
        if action not in ACTIONS:
            raise ValueError(
                f'unknown action "{action}"; the actions are: ' + ", ".join(ACTIONS)
            )
    return frozenset(actions)


class AccessDenied(Exception):
    """No usable token: missing, malformed, unknown or revoked. The message never quotes it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def missing_token() -> AccessDenied:
    return AccessDenied(
        "missing_token",
        "missing access token: send it in the Authorization header "
        "(Authorization: <token>, or Authorization: Bearer <token>)",
    )


def invalid_token() -> AccessDenied:
    return AccessDenied("invalid_token", "invalid access token")


def revoked_token() -> AccessDenied:
    return AccessDenied("revoked_token", "this access token has been revoked")


@dataclass(frozen=True)
class TokenInfo:
    """A token as lists show it: everything but the token."""

    id: str
    role: str
    actions: frozenset[str]
    name: str
    created_at: int
    revoked_at: Optional[int]


def role_actions(role: str, actions_json: str) -> frozenset[str]:
    """What a stored role allows: a built-in role's actions, or a custom role's list."""
    if role != CUSTOM_ROLE:
        return BUILT_IN_ROLES.get(role, frozenset())
    return frozenset(json.loads(actions_json))


def token_info(row: tuple[str, str, str, str, int, Optional[int]]) -> TokenInfo:
    """A TokenInfo from (id, role, actions JSON, name, created_at, revoked_at)."""
    token_id, role, actions, name, created_at, revoked_at = row
    return TokenInfo(
        token_id, role, role_actions(role, actions), name, created_at, revoked_at
    )


@dataclass(frozen=True)
class StoredToken:
    """What a registry keeps of a token: its hash, role and whether it is revoked."""

    token_id: str
    hash: str
    role: str
    actions: frozenset[str]
    revoked: bool

    def principal_for(self, token: str) -> Principal:
        """The principal when token is this one (constant-time); AccessDenied otherwise."""
        if not hmac.compare_digest(self.hash, token_hash(token)):
            raise invalid_token()
        if self.revoked:
            raise revoked_token()
        return Principal(self.token_id, self.role, self.actions)


def authenticate(
    authorization: Optional[str], lookup: Callable[[str], Optional[StoredToken]]
) -> Principal:
    """The principal of an Authorization header, looking its token id up with lookup.

    Look up by the public id, then compare the whole token's hash in constant time.
    """
    token = token_from_header(authorization)
    if token is None:
        raise missing_token()
    token_id = token_id_of(token)
    stored = lookup(token_id) if token_id is not None else None
    if stored is None:
        raise invalid_token()
    return stored.principal_for(token)
