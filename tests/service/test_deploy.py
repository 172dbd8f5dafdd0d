"""The Dockerfile and compose.yaml, checked without Docker's engine (not on this machine).

Parsed here (no hadolint either), for what would break a deployment: the image runs as
a user of its own; every COPY source exists and is in the build context; the extras it
installs; every SEGMENT_SYNC_ variable named is a real option; the ports agree with the
default; the HEALTHCHECK asks the readiness route; Redis in compose runs with the
durability flags of scripts/redis-server.sh. Then the image's CMD and HEALTHCHECK are
run for real, outside a container, with the image's environment.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from service import healthcheck
from service.settings import DEFAULT_PORT, ENV_PREFIX, SERVE_OPTIONS

from .helpers import ROOT, Output, environ
from .redis_server import free_port

OPTION_VARIABLES = {option.env for option in SERVE_OPTIONS}
DURABILITY = ("appendonly", "appendfsync", "save")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def arguments(instruction: str) -> list[str]:
    """The exec form (a JSON array) of a CMD, ENTRYPOINT or HEALTHCHECK CMD."""
    return json.loads(instruction)


def env_of_image() -> dict[str, str]:
    variables: dict[str, str] = {}
    for keyword, rest in dockerfile():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                variables[name] = value
    return variables


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def script_flags() -> dict[str, str]:
    """The flags scripts/redis-server.sh starts redis-server with."""
    text = (ROOT / "scripts" / "redis-server.sh").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if "exec redis-server" in line]
    return flags(shlex.split(line.split("exec redis-server", 1)[1]))


def flags(words: list[str]) -> dict[str, str]:
    assert len(words) % 2 == 0, words
    return {
        name.removeprefix("--"): value for name, value in zip(words[::2], words[1::2])
    }


def test_the_image_runs_as_a_user_of_its_own():
    users = [rest for keyword, rest in dockerfile() if keyword == "USER"]
    assert users and users[-1] not in ("root", "0", "root:root")
    keywords = [keyword for keyword, _ in dockerfile()]
    last_user = len(keywords) - 1 - keywords[::-1].index("USER")
    assert "RUN" not in keywords[last_user:], "a RUN after USER would run as that user"
    assert keywords.index("CMD") > last_user


def test_every_copy_source_exists_and_is_in_the_build_context():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [shlex.split(rest) for keyword, rest in dockerfile() if keyword == "COPY"]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            path = source.rstrip("/")
            assert not any(
                fnmatch.fnmatch(path, pattern) for pattern in ignored
            ), source
    # what the service imports at run time is all copied
    copied = {source.rstrip("/") for *sources, _ in copies for source in sources}
    assert {"pyproject.toml", "service", "generated"} <= copied


def test_the_package_is_installed_with_the_service_and_redis_extras():
    runs = [rest for keyword, rest in dockerfile() if keyword == "RUN"]
    assert any(
        shlex.split(run)[:3] == ["pip", "install", ".[service,redis]"] for run in runs
    )


def test_variables_named_anywhere_are_real_options():
    named = set(env_of_image())
    for service in compose()["services"].values():
        named |= set(service.get("environment", {}))
    ours = {name for name in named if name.startswith(ENV_PREFIX)}
    assert ours and ours <= OPTION_VARIABLES, ours - OPTION_VARIABLES


def test_ports_match_the_default_and_the_healthcheck_asks_readiness(service):
    image = env_of_image()
    exposed = [rest for keyword, rest in dockerfile() if keyword == "EXPOSE"]
    assert exposed == [str(DEFAULT_PORT)] == [image["SEGMENT_SYNC_PORT"]]
    (ports,) = [s["ports"] for s in compose()["services"].values() if "ports" in s]
    assert [mapping.split(":")[-1] for mapping in ports] == [str(DEFAULT_PORT)]
    (check,) = [rest for keyword, rest in dockerfile() if keyword == "HEALTHCHECK"]
    command = arguments(check.split(" CMD ", 1)[1])
    assert command == ["python", "-m", "service.healthcheck"]
    assert healthcheck.PATH == "/readyz"
    with service.client() as client:  # the route the check asks is the readiness one
        document = client.get("/openapi.json").json()
    assert document["paths"]["/readyz"]["get"]["operationId"] == "getReadiness"
    assert healthcheck.readiness_url(image) == "http://127.0.0.1:8080/readyz"


def test_compose_redis_has_the_durability_of_the_script():
    services = compose()["services"]
    (redis,) = [s for s in services.values() if s.get("image", "").startswith("redis:")]
    command = redis["command"]
    assert command[0] == "redis-server"
    ours, script = flags(command[1:]), script_flags()
    for name in DURABILITY:
        assert ours[name] == script[name], name
    assert set(ours) == set(script)
    # where to listen may differ, and only that: all addresses of the compose network
    # (no port published), hence no protected mode; its data on its volume
    differing = {name for name in ours if ours[name] != script[name]}
    assert differing <= {"bind", "port", "dir", "protected-mode"}
    mounts = [volume.split(":")[1] for volume in redis["volumes"]]
    assert ours["dir"] in mounts
    store = urlsplit(services["service"]["environment"]["SEGMENT_SYNC_STORE"])
    redis_name = [name for name, s in services.items() if s is redis][0]
    assert (store.hostname, str(store.port)) == (redis_name, ours["port"])
    assert (
        services["service"]["depends_on"][redis_name]["condition"] == "service_healthy"
    )


def test_cmd_and_healthcheck_run_with_the_image_environment(tmp_path):
    """The CMD as the image would run it (its ENV, a fresh /data), then its HEALTHCHECK."""
    (cmd,) = [arguments(rest) for keyword, rest in dockerfile() if keyword == "CMD"]
    (check,) = [rest for keyword, rest in dockerfile() if keyword == "HEALTHCHECK"]
    probe = arguments(check.split(" CMD ", 1)[1])
    assert cmd[0] == probe[0] == "python"
    image = env_of_image()
    image["SEGMENT_SYNC_DB"] = str(tmp_path / Path(image["SEGMENT_SYNC_DB"]).name)
    image["SEGMENT_SYNC_HOST"] = "127.0.0.1"  # loopback only on the test's machine
    image["SEGMENT_SYNC_PORT"] = str(free_port())
    env = environ(PYTHONPATH=str(ROOT), **image)

    def probe_exit() -> int:
        result = subprocess.run(
            [sys.executable, *probe[1:]], env=env, cwd=tmp_path, capture_output=True
        )
        return result.returncode

    assert probe_exit() == 1  # nothing listens yet
    server = subprocess.Popen(
        [sys.executable, *cmd[1:]],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = Output(server.stdout), Output(server.stderr)
    try:
        stderr.wait_for("listening on")
        stdout.wait_for("access token:")  # a first start, on the image's own defaults
        deadline = time.monotonic() + 30
        while probe_exit() != 0:
            assert time.monotonic() < deadline, stderr.text()
            time.sleep(0.2)
        assert (tmp_path / "segments.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=15)
        stdout.close()
        stderr.close()
    assert probe_exit() == 1
