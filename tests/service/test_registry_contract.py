"""The Registry and RateLimiter contracts, run against both backends: SQLite and Redis.

Beside what the CLI and the routes use, the contract holds what the token cache of a
serving process relies on (service/cache.py): every change of tokens or environments
moves the generation, whoever makes it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from service.access import AccessDenied
from service.cache import RegistryCache
from service.ratelimit import ASK_STORE, MemoryRateLimiter, RateLimit
from service.redis.client import connect
from service.redis.ratelimit import RedisRateLimiter
from service.redis.registry import RedisRegistry
from service.sqlite.database import Database
from service.sqlite.registry import SqliteRegistry
from service.store import Registry, RegistryError


def sqlite_registry(request, tmp_path: Path) -> Registry:
    return SqliteRegistry(Database(tmp_path / "segments.db"))


def redis_registry(request, tmp_path: Path) -> Registry:
    db = request.getfixturevalue("redis_db")
    server = request.getfixturevalue("redis_server")
    return RedisRegistry(connect(server.url_of(db)), "registry")


REGISTRIES = {"sqlite": sqlite_registry, "redis": redis_registry}


@pytest.fixture(params=sorted(REGISTRIES))
def registry(request, tmp_path):
    return REGISTRIES[request.param](request, tmp_path)


def test_tokens_authenticate_until_revoked(registry):
    info, token = registry.create_token("writer", name="ci")
    principal = registry.authenticate(token)
    assert (principal.token_id, principal.role) == (info.id, "writer")
    assert registry.authenticate(f"Bearer {token}") == principal
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "abd")
    for header, code in ((None, "missing_token"), ("nonsense", "invalid_token"),
                         (forged, "invalid_token")):  # fmt: skip
        with pytest.raises(AccessDenied) as denied:
            registry.authenticate(header)
        assert denied.value.code == code
    registry.revoke_token(info.id)
    with pytest.raises(AccessDenied) as denied:
        registry.authenticate(token)
    assert denied.value.code == "revoked_token"
    stored = registry.stored_token(info.id)
    assert stored.revoked and stored.hash != token
    assert registry.stored_token("000000000000") is None


def test_every_change_moves_the_generation(registry):
    seen = [registry.generation()]
    info, _ = registry.create_token("reader")
    seen.append(registry.generation())
    registry.add_environment("env-1", "shop", "prod")
    seen.append(registry.generation())
    registry.revoke_token(info.id)
    seen.append(registry.generation())
    assert len(set(seen)) == 4, seen
    with pytest.raises(RegistryError):
        registry.add_environment("env-1", "shop", "other")


def test_the_cache_learns_of_a_revocation_by_another_writer(registry, request):
    """Another process revoking (here another client of the same store) clears it."""
    info, token = registry.create_token("writer")
    other = REGISTRIES[request.node.callspec.params["registry"]](
        request, request.getfixturevalue("tmp_path")
    )
    cache = RegistryCache(registry, poll_seconds=0.05)
    try:
        assert cache.authenticate(token).token_id == info.id
        assert cache.principal(token) is not None  # now answered from memory
        other.revoke_token(info.id)
        deadline = time.monotonic() + 5
        while True:
            try:
                cache.authenticate(token)
            except AccessDenied as denied:
                assert denied.code == "revoked_token"
                break
            assert time.monotonic() < deadline, "the cache never saw the revocation"
            time.sleep(0.02)
    finally:
        cache.close()


def test_redis_leases_never_let_more_than_the_limit_through(redis_server, redis_db):
    """Two processes' limiters over one Redis: 100 per window between them, not one more."""
    client = connect(redis_server.url_of(redis_db))
    limit = RateLimit(100, 600)
    first, second = (RedisRateLimiter(limit, client, "lease") for _ in range(2))
    answers = []
    memory = 0
    for n in range(160):
        limiter = (first, second)[n % 3 == 0]  # uneven, as a load balancer may be
        answer = limiter.check_from_memory("token")
        if answer is ASK_STORE:
            answer = limiter.check("token")
        else:
            memory += 1
        answers.append(answer)
    # both keep being asked, so no lease is left unused: exactly the limit
    assert sum(answer is None for answer in answers) == 100
    last_allowed = max(n for n, answer in enumerate(answers) if answer is None)
    refusals = answers[last_allowed + 1 :]
    assert len(refusals) == 60
    assert all(590 <= refusal.retry_after <= 600 for refusal in refusals)
    assert memory > 40  # far from the limit, most answers come from memory


def test_memory_limiter_answers_from_memory():
    limiter = MemoryRateLimiter(RateLimit(2, 60))
    assert [limiter.check_from_memory("a") for _ in range(2)] == [None, None]
    assert limiter.check_from_memory("a").retry_after >= 59
