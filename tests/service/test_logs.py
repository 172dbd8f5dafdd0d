"""Request logs name the token id, never a token: valid, wrong, revoked, or in a URL."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from service.http import access_log
from service.http.access_log import logged_path, printable
from service.logs import TEXT_FORMAT, TextFormatter, iso_time

from .helpers import amplitude, cli, create_token

TOKEN_LIKE = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]{20,}")


def test_request_logs_never_contain_tokens(service, first_start):
    client_id, _ = first_start
    good = create_token(service.db, "--role", "writer")
    revoked = create_token(service.db, "--role", "writer")
    cli(service.db, "token", "revoke", revoked.split("-")[1])
    wrong_secret = good[:-4] + "abcd"
    body = amplitude(client_id, "logged", ["u1"])
    for token in (good, f"Bearer {good}", revoked, wrong_secret):
        with service.client(token) as client:
            client.post("/api/v2/segment-targets/amplitude", json=body)
            client.get("/api/v2/projects/default/environments/production/segments")
    with service.client() as client:  # a token pasted into a URL by mistake
        client.get(f"/api/v2/{good}", params={"token": good})

    marker = "GET /api/v2/api-<redacted>"
    service.stderr.wait_for(re.escape(marker), timeout=10)
    log = service.stderr.text()
    for token in (good, revoked, wrong_secret):
        assert token not in log
        assert token.split("-", 2)[2] not in log  # nor the secret alone
    assert not TOKEN_LIKE.search(log), "a token-shaped string in the log"
    # what the log does say: who did what, by token id
    good_id = good.split("-")[1]
    assert re.search(
        rf"POST /api/v2/segment-targets/amplitude 204 [0-9.]+ms token={good_id}$",
        log,
        re.M,
    )
    assert re.search(
        r"POST /api/v2/segment-targets/amplitude 403 .* token=-$", log, re.M
    )


# Times from 2001 to 2100, and the ends of seconds, where rounding carries over.
TIMES = st.one_of(
    st.floats(1e9, 4.1e9),
    st.integers(10**9, 4 * 10**9).map(lambda second: second + 0.9999995),
    st.integers(10**9, 4 * 10**9).map(lambda second: second - 5e-7),
)


@given(TIMES)
def test_the_json_time_is_datetimes_isoformat(created):
    """logs.iso_time makes the date and time once a second: still isoformat's text."""
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    expected = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert iso_time(created) == expected


@given(TIMES)
def test_the_text_time_is_loggings_own(created):
    """TextFormatter makes asctime once a second: still logging.Formatter's text."""
    record = logging.LogRecord("service.http", logging.INFO, "", 0, "line", (), None)
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    ours = TextFormatter(TEXT_FORMAT).format(record)
    assert ours == logging.Formatter(TEXT_FORMAT).format(record)


@given(st.text())
def test_the_logged_path_skips_no_control_character_nor_token(path):
    """printable and logged_path skip their regexes when they can: the same text."""
    escaped = access_log._CONTROL.sub(lambda match: repr(match.group())[1:-1], path)
    assert printable(path) == escaped
    for logged in (path, f"/x/api-0123456789ab-{'s' * 43}/{path}"):
        redacted = access_log._TOKEN_LIKE.sub("api-<redacted>", logged)
        assert logged_path(logged) == printable(redacted)
    assert logged_path(f"/x/api-0123456789ab-{'s' * 43}") == "/x/api-<redacted>"
