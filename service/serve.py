"""`python -m service serve`: open the store, bind, greet on first start, run uvicorn."""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn

import generated

from .backends import open_backend
from .examples import SAMPLE_BODIES, read_curl, sample_body, sync_curl
from .http.app import create_app
from .http.protocol import timed_protocol
from .logs import configure_logging
from .redis.store import RedisSegmentStore
from .settings import ServeSettings
from .store import Bootstrap, Registry, SegmentStore, StoreUnavailable

log = logging.getLogger("service")


class StartupError(Exception):
    """The service cannot start; the message says why and what to do."""


# The writer's thread gives the GIL up around every SQLite or Redis call and must get it
# back from the event loop's thread, which keeps it up to the switch interval (5 ms by
# default): a writer then waits more than it works. Measured alternating in one run
# (wrk, 8 connections, five rounds of 2 s, a busy machine): 0.1 ms gave 1.25x the
# median requests/s of 0.5 ms, at 1 and at 100 members.
SWITCH_INTERVAL = 0.0001


def serve(settings: ServeSettings) -> None:
    """Run until interrupted (Ctrl-C or SIGTERM)."""
    configure_logging(settings.log_format)
    if settings.sdk_definitions is not None and settings.store is None:
        raise StartupError(
            "--sdk-definitions writes definitions to Redis, for SDKs in daemon mode: "
            "give --store too. With the SQLite file, SDKs take definitions from "
            "`python -m service export-sdk` or GET .../sdk-segments"
        )
    sys.setswitchinterval(SWITCH_INTERVAL)
    log.info(
        "settings: %s",
        settings.describe(),
        extra={"fields": {"settings": settings.shown()}},
    )
    backend = open_backend(
        settings.db,
        settings.store,
        settings.key_prefix,
        settings.rate_limit,
        settings.busy_timeout,
    )
    registry, store = backend.registry, backend.store
    listener = listen(settings.host, settings.port)
    base_url = url_of(listener)
    app_settings = settings.app_settings(base_url)
    try:
        first_start = registry.bootstrap()
    except StoreUnavailable as error:
        store.close()
        listener.close()
        raise StartupError(f"{error}; is the store at --store running?") from None
    try:
        if settings.sdk_definitions is not None:
            write_definitions(registry, store, *settings.sdk_definitions)
    except (StoreUnavailable, StartupError):
        store.close()
        listener.close()
        raise
    store.start_heartbeat()  # the SDKs report the store stale without it
    if first_start is not None:
        print(welcome(first_start, base_url), flush=True)
    app = create_app(app_settings, registry, store, backend.limiter)
    log.info(
        "listening on %s (store %s; rate limit %s; body limit %d bytes; keep-alive "
        "timeout %g s; request timeout %g s)",
        base_url,
        backend.description,
        app_settings.rate_limit or "off",
        app_settings.max_body,
        settings.keep_alive_timeout,
        settings.request_timeout,
    )
    config = uvicorn.Config(
        app,
        http=timed_protocol(settings.request_timeout),
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        log_config=None,  # our logging.basicConfig: one format for every line
        log_level="info",
        access_log=False,  # AccessLog writes one line per request, without tokens
        server_header=False,
        lifespan="off",
    )
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        app.close()
        store.close()


def write_definitions(
    registry: Registry, store: SegmentStore, project_key: str, environment_key: str
) -> None:
    """--sdk-definitions: the environment's definitions into Redis now and on every sync."""
    environment = registry.environment_by_keys(project_key, environment_key)
    if environment is None:
        raise StartupError(
            f'--sdk-definitions: project "{project_key}" has no environment '
            f'"{environment_key}"; add it with: python -m service environment add '
            f"CLIENT_SIDE_ID {project_key} {environment_key}"
        )
    assert isinstance(store, RedisSegmentStore)
    count = store.write_definitions(environment)
    log.info(
        "writing the segment definitions of %s/%s to %s for SDKs in daemon mode (%d "
        "now); an SDK or Relay Proxy initialising this prefix would replace them",
        project_key,
        environment_key,
        store.definitions_key,
        count,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound now so that port 0 gets a real port before we print."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise StartupError(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "choose another --port or --host"
        ) from None
    return listener


def url_of(listener: socket.socket) -> str:
    """http://host:port of a listening socket, with a wildcard host shown as loopback."""
    host, port = listener.getsockname()[:2]
    if listener.family == socket.AF_INET6:
        return f"http://[{'::1' if host == '::' else host}]:{port}"
    return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"


def welcome(first: Bootstrap, base_url: str) -> str:
    """What a first start prints, once: the ids, the token, and curl lines to try."""
    environment = first.environment
    segments_path = (
        f"/api/v2/projects/{environment.project_key}"
        f"/environments/{environment.environment_key}/segments"
    )
    lines = [
        "First start: created project "
        f'"{environment.project_key}", environment "{environment.environment_key}" '
        "and a writer access token.",
        f"  client-side id: {environment.client_side_id}",
        f"  access token:   {first.token}",
        "  (the token is shown only now: keep it somewhere safe)",
        "",
        "Sync a sample cohort from any integration by pasting its line:",
    ]
    for key in generated.INTEGRATIONS:
        if key not in SAMPLE_BODIES:
            lines.append(
                f"# {key}: no sample body yet (add one to service/examples.py)"
            )
            continue
        body = sample_body(key, environment.client_side_id)
        lines.append(sync_curl(base_url, key, first.token, body))
    lines += [
        "",
        "Then see the segments:",
        read_curl(base_url, segments_path, first.token),
        "",
    ]
    return "\n".join(lines)
