"""Configuration the twelve-factor way: every serve option as a flag or a SEGMENT_SYNC_ variable.

The resolution (flag over environment over default) on every option, the refusal of a
bad variable as one line naming it (exit 2), the start-up line with the Redis password
masked, and real servers configured by the environment alone.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from service import settings
from service.cli import build_parser
from service.ratelimit import RateLimit
from service.settings import SERVE_OPTIONS, ConfigError, ServeSettings, serve_settings

from .helpers import ROOT, Service, cli, environ
from .redis_server import free_port

# per option: a value as text (flag or variable) and what it parses to, twice over, so
# that a flag and a variable can disagree
VALUES = {
    "db": [("a.db", "a.db"), ("b.db", "b.db")],
    "store": [
        ("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0"),
        ("redis://:pw@10.0.0.1:6379/2", "redis://:pw@10.0.0.1:6379/2"),
    ],
    "key_prefix": [("one", "one"), ("two", "two")],
    "host": [("0.0.0.0", "0.0.0.0"), ("::1", "::1")],
    "port": [("9000", 9000), ("0", 0)],
    "public_url": [("https://a.example.com", "https://a.example.com"),
                   ("http://b.example.com:81/", "http://b.example.com:81/")],
    "rate_limit": [("5/2", RateLimit(5, 2)), ("off", None)],
    "max_body": [("1024", 1024), ("7", 7)],
    "busy_timeout": [("0.5", 0.5), ("0", 0.0)],
    "keep_alive_timeout": [("0.5", 0.5), ("60", 60.0)],
    "request_timeout": [("2.5", 2.5), ("120", 120.0)],
    "log_format": [("json", "json"), ("text", "text")],
    "sdk_definitions": [("default/production", ("default", "production")),
                        ("shop/eu", ("shop", "eu"))],
}  # fmt: skip
BAD = {
    "db": "  ",
    "store": "http://127.0.0.1:6379",
    "key_prefix": " ",
    "host": " ",
    "port": "80a",
    "public_url": "flags.example.com",
    "rate_limit": "100",
    "max_body": "-1",
    "busy_timeout": "soon",
    "keep_alive_timeout": "0",
    "request_timeout": "-1",
    "log_format": "xml",
    "sdk_definitions": "production",
}


def parse_serve(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_every_option_is_covered_here():
    assert {option.name for option in SERVE_OPTIONS} == set(VALUES) == set(BAD)
    fields = set(ServeSettings.__dataclass_fields__) - {"sources"}
    assert fields == set(VALUES)


@pytest.mark.parametrize("option", SERVE_OPTIONS, ids=lambda option: option.name)
def test_flag_over_environment_over_default(option):
    (flag_text, flag_value), (env_text, env_value) = VALUES[option.name]
    env = {option.env: env_text}
    default = serve_settings(parse_serve(), {})
    from_env = serve_settings(parse_serve(), env)
    from_flag = serve_settings(parse_serve(option.flag, flag_text), env)
    assert getattr(default, option.name) == option.default
    assert getattr(from_env, option.name) == env_value
    assert from_env.sources == {option.name: option.env}
    assert getattr(from_flag, option.name) == flag_value
    assert from_flag.sources == {option.name: option.flag}
    # an empty variable is no value at all
    assert serve_settings(parse_serve(), {option.env: ""}) == default


@pytest.mark.parametrize("option", SERVE_OPTIONS, ids=lambda option: option.name)
def test_a_bad_variable_is_refused_naming_it(option):
    with pytest.raises(ConfigError) as refused:
        serve_settings(parse_serve(), {option.env: BAD[option.name]})
    assert str(refused.value).startswith(option.env + ": ")


def test_the_same_bad_value_as_a_flag_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_serve("--port", "80a")
    assert exit_.value.code == 2
    assert 'argument --port: "80a" is not a port number' in capsys.readouterr().err


def test_help_names_every_variable_and_the_readmes_too(tmp_path):
    result = cli(tmp_path / "unused.db", "serve", "--help")
    help_text = " ".join(result.stdout.split())
    readme = (ROOT / "README.md").read_text() + (ROOT / "service/README.md").read_text()
    for option in SERVE_OPTIONS:
        assert f"env {option.env};" in help_text
        assert option.env in readme, f"{option.env} is not in a README"


def test_bad_variable_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        cwd=tmp_path,
        env=environ(PYTHONPATH=str(ROOT), SEGMENT_SYNC_PORT="eighty"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'error: SEGMENT_SYNC_PORT: "eighty" is not a port number from 0 to 65535'
    ]
    assert not (tmp_path / "segments.db").exists()  # refused before anything opened


def test_token_commands_read_the_store_from_the_environment(tmp_path):
    db = tmp_path / "from-env.db"
    run = [sys.executable, "-m", "service", "token", "create", "--role", "reader"]
    result = subprocess.run(
        run,
        cwd=tmp_path,
        env=environ(PYTHONPATH=str(ROOT), SEGMENT_SYNC_DB=str(db)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert db.exists() and not (tmp_path / "segments.db").exists()


def test_default_key_prefix_is_the_redis_backends():
    from service.redis.client import DEFAULT_PREFIX

    assert settings.DEFAULT_KEY_PREFIX == DEFAULT_PREFIX


def test_describe_masks_the_redis_password():
    shown = ServeSettings(store="redis://user:s3cret@redis.internal:6379/1")
    assert "store=redis://user:***@redis.internal:6379/1" in shown.describe()
    assert "s3cret" not in shown.describe() + str(shown.shown())
    assert settings.mask_password("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert settings.mask_password("redis://h:1/0") == "redis://h:1/0"


def test_start_up_line_masks_the_password_of_a_real_start(tmp_path):
    """The settings line is printed before the store is opened: seen even on failure."""
    url = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        cwd=tmp_path,
        env=environ(PYTHONPATH=str(ROOT), SEGMENT_SYNC_STORE=url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "hunter2secret" not in result.stdout + result.stderr
    assert re.search(
        r"settings: .*store=redis://:\*\*\*@127\.0\.0\.1:\d+/0 \(SEGMENT_SYNC_STORE\)",
        result.stderr,
    )


def test_a_server_configured_by_the_environment_alone(tmp_path):
    """No flag at all: db, port, public URL, rate limit and log format from variables."""
    port = free_port()
    env = {
        "SEGMENT_SYNC_DB": str(tmp_path / "env.db"),
        "SEGMENT_SYNC_PORT": str(port),
        "SEGMENT_SYNC_PUBLIC_URL": "https://env.example.com",
        "SEGMENT_SYNC_RATE_LIMIT": "1/3600",
        "SEGMENT_SYNC_LOG_FORMAT": "json",
    }
    server = Service(None, env=env, cwd=tmp_path)
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        client_id, token = server.welcome()
        body = {
            "parameters": {"environment_id": client_id},
            "heap": {"data": {"segment": {"id": 1, "name": "H"}, "add": [], "remove": []}},
        }  # fmt: skip
        with server.client(token) as client:
            first = client.post("/api/v2/segment-targets/heap-inbound", json=body)
            second = client.post("/api/v2/segment-targets/heap-inbound", json=body)
        assert first.status_code == 200
        assert first.json()["segmentUrl"].startswith("https://env.example.com/")
        assert second.status_code == 429  # one request per hour
        assert (tmp_path / "env.db").exists()
        assert not (tmp_path / "segments.db").exists()
        server.stderr.wait_for(r'^\{"time": .*/heap-inbound 429 ')  # a JSON line
    finally:
        server.stop()


def test_a_flag_wins_over_its_variable_on_a_real_server(tmp_path):
    env = {"SEGMENT_SYNC_DB": str(tmp_path / "env.db"), "SEGMENT_SYNC_PORT": "1"}
    server = Service(tmp_path / "flag.db", "--port", "0", env=env, cwd=tmp_path)
    try:
        assert not server.url.endswith(":1")
        server.welcome()
        assert (tmp_path / "flag.db").exists() and not (tmp_path / "env.db").exists()
        line = server.stderr.wait_for(r"settings: .*").group(0)
        assert f"db={tmp_path / 'flag.db'} (--db)" in line
        assert "(--port)" in line
    finally:
        server.stop()


def test_first_start_with_no_configuration_serves(tmp_path):
    """Nothing set but a free port: the store is ./segments.db and the greeting comes."""
    server = Service(None, env={"SEGMENT_SYNC_PORT": str(free_port())}, cwd=tmp_path)
    try:
        client_id, token = server.welcome()
        with server.client(token) as client:
            assert client.get("/healthz").status_code == 200
        assert (tmp_path / "segments.db").exists()
        line = server.stderr.wait_for(r"settings: .*").group(0)
        assert "db=segments.db store=- key_prefix=launchdarkly host=127.0.0.1" in line
        assert (
            "rate_limit=100/10 max_body=16777216 busy_timeout=5 keep_alive_timeout=5 "
            "request_timeout=30 log_format=text" in line
        )
    finally:
        server.stop()
