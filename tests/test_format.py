"""Formatting through shapes gives exactly what black gives each module by itself.

compiler.format formats a parser module's *shape* (its ASCII literals and comments as
same-length placeholders) once and restores each module's own text. Here every shipped
and golden module, and modules made from randomized manifests (pointers with quotes,
backslashes, `#`, non-ASCII and wide characters, long enough to make black wrap lines),
are compared byte for byte with plain `black.format_str` in the pinned mode.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random

import black
import pytest

from compiler import format as formatting
from compiler.emit import emit_module
from compiler.format import format_sources, mode
from compiler.load import Manifest
from compiler.lower import lower
from compiler.validate import validate
from tests.conftest import GOLDEN, SHIPPED, manifests_in

SOURCES = {**manifests_in(SHIPPED), **manifests_in(GOLDEN)}
POINTER_PROPERTIES = (
    "environmentIdPath",
    "contextKindPath",
    "cohortIdPath",
    "cohortNamePath",
    "cohortUrlPath",
)
# Tokens of pointers: mostly plain words of any length, some hard for a formatter.
TOKEN_PARTS = ["id", "cohort", "x" * 30, "0", "12", 'say "hi"', "it's", "a\\b", "#tag"]
TOKEN_PARTS += ["ünï", "名前", "~0", "~1", " ", "", "fmt: skip", "type: int"]


def random_pointer(rng: random.Random) -> str:
    tokens = []
    for _ in range(rng.randint(1, 4)):
        tokens.append(
            "".join(rng.choice(TOKEN_PARTS) for _ in range(rng.randint(1, 3)))
        )
    return "".join("/" + token for token in tokens)


def randomized(key: str, rng: random.Random) -> Manifest:
    document = copy.deepcopy(SOURCES[key])
    parser = document["capabilities"]["syncedSegment"]["requestParser"]
    for name in POINTER_PROPERTIES:
        if name in parser:
            parser[name] = random_pointer(rng)
    new_key = f"{key}-{rng.randint(0, 10**rng.randint(1, 12))}"
    text = json.dumps(document)
    return Manifest(
        new_key,
        f"random/{new_key}/manifest.json",
        f"random/{new_key}/manifest.json",
        hashlib.sha256(text.encode()).hexdigest(),
        document,
    )


def sample() -> list[Manifest]:
    manifests = [
        Manifest(key, f"{key}/manifest.json", f"{key}/manifest.json", "0" * 64, doc)
        for key, doc in SOURCES.items()
    ]
    rng = random.Random(13)
    manifests += [randomized(rng.choice(sorted(SOURCES)), rng) for _ in range(25)]
    # and modules of one shape: only the text of their pointers differs
    base = SOURCES["hightouch"]
    for word in ("aaaa", "bbbb", "cccc", "dddd"):
        document = copy.deepcopy(base)
        document["capabilities"]["syncedSegment"]["requestParser"][
            "cohortIdPath"
        ] = f"/{word}"
        manifests.append(
            Manifest(f"same-{word}", "p", f"s/same-{word}", "0" * 64, document)
        )
    return [m for m in manifests if not any(d.level == "error" for d in validate(m))]


@pytest.fixture(scope="module")
def modules() -> list[str]:
    return [emit_module(lower(manifest)) for manifest in sample()]


def black_runs(monkeypatch) -> list:
    """Records each text black is given, through compiler.format."""
    runs: list = []
    plain = formatting.format_source

    def counted(source: str) -> str:
        runs.append(source)
        return plain(source)

    monkeypatch.setattr(formatting, "format_source", counted)
    return runs


def test_shapes_give_black_byte_for_byte(modules, monkeypatch):
    runs = black_runs(monkeypatch)
    names = {f"m{i}.py": source for i, source in enumerate(modules)}
    files, problems = format_sources(names, set(names))
    assert problems == {}
    for name, source in names.items():
        assert files[name] == black.format_str(source, mode=mode())
    # the sample really reuses shapes: the four one-shape modules cost black one run
    assert len(runs) <= len(modules) - 3


def test_a_module_with_a_placeholder_lookalike_is_formatted_directly(monkeypatch):
    source = emit_module(lower(sample()[0])) + '\nLOOKALIKE = "zAzxx"\n'
    runs = black_runs(monkeypatch)
    files, _ = format_sources({"m.py": source}, {"m.py"})
    assert files["m.py"] == black.format_str(source, mode=mode())
    assert runs == [source]  # no shape: the module itself


def test_many_shapes_are_formatted_across_processes_alike(modules, monkeypatch):
    monkeypatch.setattr(formatting, "PARALLEL_FROM", 2)
    names = {f"m{i}.py": source for i, source in enumerate(modules[:12])}
    files, problems = format_sources(names, set(names))
    assert problems == {}
    for name, source in names.items():
        assert files[name] == black.format_str(source, mode=mode())


def test_text_that_is_not_python_is_reported_not_raised():
    files, problems = format_sources({"ok.py": "x = 1\n", "bad.py": "def (:\n"}, set())
    assert files == {"ok.py": "x = 1\n"} and set(problems) == {"bad.py"}
