"""The command line, and the first start a newcomer sees: print once, paste, read back."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys

import pytest

import generated
from service.examples import SAMPLE_BODIES

from .helpers import ROOT, Service, cli, create_token

TOKEN = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]{43}")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["token"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["environment"],
        ["environment", "add"],
        ["environment", "list"],
        ["export-sdk"],
    ],
)
def test_help_on_every_command(tmp_path, command):
    result = cli(tmp_path / "unused.db", *command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m service")


def test_every_shipped_integration_has_a_sample_body():
    assert set(SAMPLE_BODIES) == set(generated.INTEGRATIONS)


def test_first_start_prints_once_and_the_curl_lines_work(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    db = tmp_path / "newcomer.db"
    service = Service(db, "--rate-limit", "off")
    try:
        client_id, token = service.welcome()
        service.stdout.wait_for(r"^curl .*/segments$")
        curls = [line for line in service.stdout.lines if line.startswith("curl ")]
        *syncs, read = curls
        assert len(syncs) == len(generated.INTEGRATIONS)
        for line in syncs:
            result = subprocess.run(
                ["sh", "-c", line], capture_output=True, text=True, timeout=30
            )
            status_line = result.stdout.splitlines()[0]
            assert re.fullmatch(r"HTTP/1\.1 20[04] .*", status_line), (line, result)
        listing = subprocess.run(
            ["sh", "-c", read], capture_output=True, text=True, timeout=30
        )
        keys = [segment["key"] for segment in json.loads(listing.stdout)["items"]]
        assert len(keys) == len(generated.INTEGRATIONS)
        assert "amplitude-power-users" in keys
    finally:
        service.stop()
    assert TOKEN.fullmatch(token)
    assert len(client_id) == 24

    again = Service(db, "--rate-limit", "off")
    try:
        with again.client(token) as client:  # the data and the token outlive a restart
            response = client.get(
                "/api/v2/projects/default/environments/production/segments"
            )
            assert len(response.json()["items"]) == len(generated.INTEGRATIONS)
        assert again.stdout.lines == []  # nothing printed the second time
    finally:
        again.stop()


def test_token_create_list_revoke(tmp_path):
    db = tmp_path / "tokens.db"
    writer = create_token(db, "--role", "writer", "--name", "ci")
    custom = create_token(db, "--actions", "createSegment, updateIncluded")
    assert TOKEN.fullmatch(writer) and TOKEN.fullmatch(custom)
    listing = cli(db, "token", "list").stdout
    writer_id, custom_id = writer.split("-")[1], custom.split("-")[1]
    assert re.search(rf"^{writer_id}  writer\s.*\sci$", listing, re.M)
    assert re.search(
        rf"^{custom_id}  custom: createSegment,updateIncluded\s", listing, re.M
    )
    assert not TOKEN.search(listing)  # never the tokens themselves

    revoked = cli(db, "token", "revoke", writer_id)
    assert revoked.returncode == 0
    assert revoked.stdout == f"revoked token {writer_id} (writer)\n"
    row = next(line for line in cli(db, "token", "list").stdout.splitlines()
               if line.startswith(writer_id))  # fmt: skip
    assert re.search(r"\d{4}-\d\d-\d\dT\S+Z\s+\d{4}-\d\d-\d\dT\S+Z", row)  # revoked at


def test_tokens_are_stored_only_as_hashes(tmp_path):
    db = tmp_path / "hashes.db"
    token = create_token(db, "--role", "owner")
    secret = token.split("-", 2)[2]
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert token.encode() not in stored and secret.encode() not in stored
    assert token.split("-")[1].encode() in stored  # the id is there, for revoke


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "revoke", "ffffffffffff"], 'error: no token with id "ffffffffffff"'),
        (
            ["environment", "add", "cs", "my project", "prod"],
            'error: project key "my project" must be 1 to 128 letters, digits',
        ),
    ],
)
def test_cli_errors_say_what_is_wrong(tmp_path, args, message):
    result = cli(tmp_path / "errors.db", *args)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "create"], "one of the arguments --role --actions is required"),
        (["token", "create", "--role", "god"], "invalid choice: 'god'"),
        (
            ["token", "create", "--actions", "createSegment,fly"],
            'unknown action "fly"; the actions are: createSegment, updateIncluded, '
            "updateSegment, viewSegment",
        ),
        (["serve", "--rate-limit", "fast"], 'rate limit "fast" is not N/SECONDS'),
        (["serve", "--max-body", "0"], '"0" is not a positive number of bytes'),
    ],
)
def test_usage_errors(tmp_path, args, message):
    result = cli(tmp_path / "usage.db", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_environment_add_and_list(tmp_path):
    db = tmp_path / "environments.db"
    added = cli(db, "environment", "add", "abc123", "shop", "staging")
    assert added.stdout == "added environment shop/staging with client-side id abc123\n"
    duplicate = cli(db, "environment", "add", "abc123", "shop", "other")
    assert duplicate.stderr == 'error: client-side id "abc123" is already added\n'
    taken = cli(db, "environment", "add", "xyz", "shop", "staging")
    assert taken.stderr == (
        'error: project "shop" already has environment "staging" (client-side id '
        '"abc123")\n'
    )
    assert cli(db, "environment", "list").stdout.splitlines() == [
        "CLIENT-SIDE ID  PROJECT  ENVIRONMENT",
        "abc123          shop     staging",
    ]


def test_serve_on_a_taken_port_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "service", "serve", "--db", str(tmp_path / "s.db"),
             "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_an_unusable_store_says_so(tmp_path):
    result = cli(tmp_path / "no-such-dir" / "s.db", "serve", "--port", "0")
    assert result.returncode == 1
    # the settings line first, then the error
    assert result.stderr.splitlines()[-1].startswith(
        "error: segment store unavailable: unable to open database file"
    )
