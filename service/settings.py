"""Every option of the service once: its flag, its environment variable, type and default.

`serve` takes each option as a flag or from the environment as SEGMENT_SYNC_<NAME>
(`--max-body` is SEGMENT_SYNC_MAX_BODY); a flag wins over the environment, an empty
variable counts as unset, and with neither the default holds, so a first start needs no
configuration at all. The store options (`--db`, `--store`, `--key-prefix`) hold for the
token and environment commands too. `ServeSettings` is the result, typed, and printed at
start with secrets masked; `Settings` is the part the app itself needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional
from urllib.parse import urlsplit

from .ratelimit import RateLimit
from .store import DEFAULT_ENVIRONMENT_KEY, DEFAULT_PROJECT_KEY

ENV_PREFIX = "SEGMENT_SYNC_"
DEFAULT_DB = "segments.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_RATE_LIMIT = RateLimit(100, 10)
DEFAULT_BUSY_TIMEOUT = 5.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 5.0  # seconds idle before and between requests
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds for a whole request, from its first byte
# the prefix LaunchDarkly's SDKs read by default (redis/client.py's DEFAULT_PREFIX, kept
# here too so that reading the settings does not import redis)
DEFAULT_KEY_PREFIX = "launchdarkly"
LOG_FORMATS = ("text", "json")
DEFAULT_ENVIRONMENT = (
    f"{DEFAULT_PROJECT_KEY}/{DEFAULT_ENVIRONMENT_KEY}"  # a first start's
)


@dataclass(frozen=True)
class Settings:
    """The app's options (the serve command's, less where to listen and store)."""

    public_url: str
    max_body: int = DEFAULT_MAX_BODY
    rate_limit: Optional[RateLimit] = field(default=DEFAULT_RATE_LIMIT)


@dataclass(frozen=True)
class ServeSettings:
    """Everything `serve` runs with: flags over environment over defaults."""

    db: str = DEFAULT_DB
    store: Optional[str] = None  # a redis:// URL; None for the SQLite file at db
    key_prefix: str = DEFAULT_KEY_PREFIX
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: Optional[str] = None  # None: the server's own URL
    rate_limit: Optional[RateLimit] = DEFAULT_RATE_LIMIT  # None: no limit
    max_body: int = DEFAULT_MAX_BODY
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    log_format: str = "text"
    # (project key, environment key) whose segment definitions go where SDKs in daemon
    # mode read them (Redis only); None: none
    sdk_definitions: Optional[tuple[str, str]] = None
    # option name -> where its value came from ("--port", "SEGMENT_SYNC_PORT"); absent
    # for a default
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def app_settings(self, base_url: str) -> Settings:
        """What the app needs, with public_url defaulting to the server's own URL."""
        return Settings(
            public_url=(self.public_url or base_url).rstrip("/"),
            max_body=self.max_body,
            rate_limit=self.rate_limit,
        )

    def shown(self) -> dict[str, str]:
        """Each option as text, secrets masked: what the start-up line prints."""
        return {
            option.name: option.show(getattr(self, option.name))
            for option in SERVE_OPTIONS
        }

    def describe(self) -> str:
        """One line: `name=value`, and where a value that is no default came from."""
        parts = []
        for name, text in self.shown().items():
            source = self.sources.get(name)
            parts.append(f"{name}={text}" + (f" ({source})" if source else ""))
        return " ".join(parts)


class ConfigError(Exception):
    """An environment variable holds a value its option refuses; the message names it."""


# --- option types: each takes the text of a flag or a variable, ValueError if invalid


def text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise ValueError(f'"{value}" is not a port number from 0 to 65535')
    return int(value)


def positive_bytes(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise ValueError(f'"{value}" is not a positive number of bytes')
    return int(value)


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise ValueError(f'"{value}" is not a number of seconds (0 or more)')
    return number


def positive_seconds(value: str) -> float:
    number = seconds(value)
    if number == 0:
        raise ValueError(f'"{value}" is not a positive number of seconds')
    return number


def rate_limit(value: str) -> Optional[RateLimit]:
    return RateLimit.parse(value)


def store_url(value: str) -> str:
    from .backends import check_store_url  # imports redis: only when a URL is given

    check_store_url(value)
    return value


def http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'"{value}" is not an http:// or https:// URL')
    return value


def environment_keys(value: str) -> tuple[str, str]:
    project, slash, environment = value.partition("/")
    if not slash or not project or not environment or "/" in environment:
        raise ValueError(
            f'"{value}" is not PROJECT/ENVIRONMENT, e.g. {DEFAULT_ENVIRONMENT}'
        )
    return project, environment


def log_format(value: str) -> str:
    if value not in LOG_FORMATS:
        raise ValueError(f'"{value}" is not one of: ' + ", ".join(LOG_FORMATS))
    return value


# --- how options show at start


def mask_password(url: Optional[str]) -> str:
    """A URL as logs may show it: the password (if any) as ***."""
    if url is None:
        return "-"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def show_rate_limit(limit: Optional[RateLimit]) -> str:
    return "off" if limit is None else f"{limit.requests}/{limit.seconds:g}"


def show_environment(keys: Optional[tuple[str, str]]) -> str:
    return "-" if keys is None else "/".join(keys)


def show_plain(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Option:
    """One option: the ServeSettings field `name`, as `--name` and SEGMENT_SYNC_NAME."""

    name: str
    parse: Callable[[str], Any]
    metavar: str
    help: str
    show: Callable[[Any], str] = show_plain  # how the start-up line prints a value
    default_help: str = ""  # what --help says of the default, when not show(default)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def default(self) -> Any:
        return _DEFAULTS[self.name]


_DEFAULTS = {f.name: f.default for f in fields(ServeSettings) if f.name != "sources"}

STORE_OPTIONS = (
    Option("db", text, "PATH", "the SQLite file of the store"),
    Option(
        "store",
        store_url,
        "URL",
        "keep segments, tokens, environments and rate limits in Redis instead "
        "(redis://[:PASSWORD@]HOST:PORT/DB), shared by every process given the same URL",
        mask_password,
        "none, the SQLite file of --db",
    ),
    Option(
        "key_prefix",
        text,
        "PREFIX",
        "with --store: the prefix of every Redis key; LaunchDarkly SDKs read "
        f"{DEFAULT_KEY_PREFIX!r} by default",
    ),
)
SERVE_OPTIONS = STORE_OPTIONS + (
    Option("host", text, "HOST", "the address to listen on"),
    Option("port", port, "PORT", "the port to listen on; 0 picks a free one"),
    Option(
        "public_url",
        http_url,
        "URL",
        "where segment links in responses point",
        default_help="this server's URL",
    ),
    Option(
        "rate_limit",
        rate_limit,
        "N/SECONDS",
        "requests per token per window, or 'off'",
        show_rate_limit,
    ),
    Option("max_body", positive_bytes, "BYTES", "largest request body, 413 above it"),
    Option(
        "busy_timeout",
        seconds,
        "SECONDS",
        "how long a write waits for another process's lock before a 503",
    ),
    Option(
        "keep_alive_timeout",
        positive_seconds,
        "SECONDS",
        "close a connection idle this long before or between requests",
    ),
    Option(
        "request_timeout",
        positive_seconds,
        "SECONDS",
        "close a connection whose request (headers and body) has not arrived whole "
        "this long after its first byte",
    ),
    Option(
        "log_format",
        log_format,
        "|".join(LOG_FORMATS),
        "text: one line per request; json: one JSON object per line, for log pipelines",
    ),
    Option(
        "sdk_definitions",
        environment_keys,
        "PROJECT/ENVIRONMENT",
        "with --store: also write this environment's segment definitions where SDKs "
        f"in daemon mode read them (PREFIX:segments, PREFIX:$inited; e.g. "
        f"{DEFAULT_ENVIRONMENT}), updated by every sync; only for a prefix nothing "
        "else writes, since an SDK initialising its store or a Relay Proxy replaces "
        "that hash",
        show_environment,
        "none",
    ),
)

ENVIRONMENT_HELP = (
    f"Every option can also be set in the environment as {ENV_PREFIX}<OPTION> "
    f"(--max-body is {ENV_PREFIX}MAX_BODY); a flag wins over the environment, and an "
    "empty variable counts as unset."
)


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Each option as a flag whose help names its variable and default."""
    for option in options:
        default = option.default_help or option.show(option.default)
        parser.add_argument(
            option.flag,
            dest=option.name,
            type=_argparse_type(option.parse),
            default=argparse.SUPPRESS,  # absent when not given: env or default decide
            metavar=option.metavar,
            help=f"{option.help} (env {option.env}; default: {default})",
        )


def _argparse_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def resolve(
    args: argparse.Namespace, options: Sequence[Option], environ: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, sources) of options: a flag, else its variable, else the default.

    Raises ConfigError naming the variable when a variable's value is refused.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in options:
        raw = environ.get(option.env, "")
        if hasattr(args, option.name):
            values[option.name] = getattr(args, option.name)
            sources[option.name] = option.flag
        elif raw != "":
            try:
                values[option.name] = option.parse(raw)
            except ValueError as error:
                raise ConfigError(f"{option.env}: {error}") from None
            sources[option.name] = option.env
        else:
            values[option.name] = option.default
    return values, sources


def serve_settings(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> ServeSettings:
    """The ServeSettings of parsed serve arguments and an environment."""
    values, sources = resolve(args, SERVE_OPTIONS, environ)
    return replace(ServeSettings(), **values, sources=sources)
