"""Record what handlebars.js renders for a table of templates x contexts.

    ./dev run python tests/data/record_handlebars.py [--spec 4]   # rewrites the JSON

Needs `node` and `npm` on PATH and the npm registry: handlebars@SPEC is installed into
a temporary folder (never into the repository), tests/data/record_handlebars.mjs renders
every case with it, and tests/data/handlebars_cases.json gets the results (see
README_handlebars.md). Contexts come from fixed lists and generators with fixed seeds,
so re-running gives the same file unless handlebars or node changes.

A case has "context" (a JSON value; node gets json.dumps(context, sort_keys=True), which
is what loading the recorded file gives back, key order included) or, when the exact
text matters (1e400, 1.50, duplicate keys), "context_json" (the text node parsed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_SCRIPT = HERE / "record_handlebars.mjs"
OUTPUT = HERE / "handlebars_cases.json"
MISSING = object()  # a context value that is left out of the context

# The response templates of manifests/heap-inbound and manifests/example-single-property.
HEAP_TEMPLATE = (
    '{ "projectId": "{{projectKey}}", "environmentId": "{{environmentKey}}", '
    '"segmentId": "{{segmentKey}}", "segmentUrl": "{{segmentUrl}}", '
    '{{#if errorMessage}}"status": "failure", "error": '
    '{"message": "{{{errorMessage}}}", '
    '"code": {{statusCode}} }{{else}}"status": "success"{{/if}} }'
)
SEEDS_TEMPLATE = (
    '{ "environmentId": "{{requestBody.environmentId}}", '
    '"projectKey": "{{projectKey}}", '
    '"envKey": "{{environmentKey}}", "segmentKey": "{{segmentKey}}", '
    '"segmentUrl": "{{segmentUrl}}", {{#if errorMessage}}"status":"failure", '
    '"error": {"message": "{{{errorMessage}}}", "code": {{statusCode}} }'
    '{{else}}"status": "success"{{/if}} }'
)
JSON_LITERAL_TEMPLATE = '{"a": "{{x}}", "b": {{x}}, "c": "{{{x}}}", "d": {{{x}}} }'

CONTROL_CHARACTERS = "".join(chr(code) for code in range(0x20))
ESCAPED_BY_HANDLEBARS = "&<>\"'`="
PRINTABLE_ASCII = "".join(chr(code) for code in range(0x20, 0x7F))

# Strings that are hard to carry through JSON, HTML escaping or a JSON string literal.
TRICKY_STRINGS = [
    "",
    " ",
    "plain",
    'He said "hi"',
    "it's",
    "back\\slash",
    "C:\\path\\new",
    "\\",
    '\\"',
    '"',
    "line1\nline2",
    "tab\there",
    "cr\rlf\r\n",
    CONTROL_CHARACTERS,
    "\x00",
    "nul\x00inside",
    "\x7f\x80\x9f",
    "\u2028\u2029",
    "</script><script>alert(1)</script>",
    "<b>&amp;</b>",
    ESCAPED_BY_HANDLEBARS,
    PRINTABLE_ASCII,
    "{{x}}",
    "{{{x}}}",
    "é ü ß ñ",
    "e\u0301",
    "日本語",
    "\u00a0\ufeff\u200b",
    "😀",
    "a😀b👩‍👩‍👧",
    "\ud83d",
    "\ude00",
    "x\ude00\ud83dy",
    "\ufffd\uffff",
    "null",
    "true",
    "0",
    "-0",
    "1e21",
    "[object Object]",
]

# Characters the generator draws from: JSON-special, HTML-special, controls, non-BMP,
# lone surrogates, line separators, plain letters.
RANDOM_ALPHABET = (
    list("ab Z09_-./:{}[],") + list(ESCAPED_BY_HANDLEBARS) + ["\\", "\n", "\r", "\t"]
)
RANDOM_ALPHABET += ["\x00", "\x01", "\x08", "\x0c", "\x1b", "\x1f", "\x7f"]
RANDOM_ALPHABET += ["\u2028", "\u2029", "é", "ß", "日", "\u00a0", "\ufeff", "😀", "𝄞"]
RANDOM_ALPHABET += ["\ud800", "\udbff", "\udc00", "\udfff"]


def random_strings(seed: int, count: int, max_length: int = 24) -> list[str]:
    """Deterministic strings over RANDOM_ALPHABET."""
    rng = random.Random(seed)
    return [
        "".join(
            rng.choice(RANDOM_ALPHABET) for _ in range(rng.randrange(1, max_length))
        )
        for _ in range(count)
    ]


def long_string(seed: int, length: int = 10_000) -> str:
    """A 10k-character string: mostly letters, with every kind of tricky character."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz "
    pieces = [
        rng.choice(RANDOM_ALPHABET) if rng.random() < 0.1 else rng.choice(letters)
        for _ in range(length)
    ]
    return "".join(pieces)


# Values every printing and truthiness template is tried with: (label, value). MISSING
# leaves the key out.
PRINT_VALUES: list[object] = [
    "",
    "abc",
    " ",
    "0",
    "false",
    "null",
    "undefined",
    "é😀",
    0,
    1,
    -1,
    42,
    100,
    2**53,
    2**53 + 1,
    123456789012345678901234567890,
    -123456789012345678901234567890,
    1.0,
    1.5,
    -1.5,
    -0.0,
    0.0,
    0.1,
    0.1 + 0.2,
    1e21,
    -1e21,
    1e-7,
    1e-6,
    2.5e-6,
    123.456,
    1e20,
    1e16,
    100.0,
    1.7976931348623157e308,
    5e-324,
    float(2**53),
    True,
    False,
    None,
    MISSING,
    [1, 2],
    [],
    [[1, 2], [3]],
    [None, "a", True],
    [{}],
    [[]],
    [[], []],
    ["<a>", "&"],
    [1.0, -0.0, 1e21, 0.5],
    [None],
    {},
    {"a": 1},
    {"length": 3},
]

# Raw JSON texts for what Python's json.dumps cannot spell (or spells differently).
RAW_CONTEXTS = [
    '{"x": 1e400}',
    '{"x": -1e400}',
    '{"x": 1E2}',
    '{"x": 1.50}',
    '{"x": -0}',
    '{"x": 0e0}',
    '{"x": 1e-400}',
    '{"x": 10000000000000000000000}',
    '{"x": 1, "x": 2}',
    '{"x": 123456789.123456789e-3}',
]

TRUTHY_VALUES: list[object] = [
    0,
    -0.0,
    0.0,
    1,
    -1,
    5e-324,
    "",
    " ",
    "0",
    "false",
    [],
    [0],
    [None],
    {},
    {"a": None},
    None,
    MISSING,
    False,
    True,
]

# {{{x}}} prints like {{x}} minus the escaping: tried with a few values only.
TRIPLE_STASH_VALUES: list[object] = [
    "<a href='x'>&amp;</a>",
    'say "`hi`" = 1',
    0,
    -0.0,
    1e21,
    2.5e-6,
    False,
    None,
    MISSING,
    [None, "<", True],
    {},
]
# Tried with every TRUTHY_VALUES entry.
TRUTHY_TEMPLATES = [
    "{{#if x}}T{{else}}F{{/if}}",
    "{{#unless x}}T{{else}}F{{/unless}}",
    "{{#with x}}T[{{this}}]{{else}}F{{/with}}",
    "{{#each x}}[{{@index}}|{{@key}}|{{@first}}|{{@last}}|{{this}}]{{else}}F{{/each}}",
]
# Tried with SOME_TRUTHY_VALUES only.
MORE_TRUTHY_TEMPLATES = [
    "{{#x}}T[{{this}}]{{else}}F{{/x}}",
    "{{#if x}}T{{^}}F{{/if}}",
    "{{^x}}T{{/x}}",
    "{{#if x includeZero=true}}T{{else}}F{{/if}}",
]
SOME_TRUTHY_VALUES: list[object] = [0, -0.0, "", "0", [], {}, None, MISSING, False, 1]

NESTED = {
    "a": {"b": {"c": "deep", "n": 0, "z": None}, "list": [10, 20, {"k": "v"}]},
    "s": "abc",
    "n": 5,
    "t": True,
    "f": False,
    "z": None,
    "items": ["x", "y", "z"],
    "empty": [],
    "obj": {"k1": "v1", "k2": "v2"},
    "name": "root",
    "a b": "spaced",
    "0": "zero-key",
    "@x": "at",
    "this": "this-key",
    "length": "len-key",
    "1": "one-key",
    "true": "true-key",
}

# (template, context) written out by hand, per group.
PATH_CASES = [
    "{{a.b.c}}",
    "{{a/b/c}}",
    "{{a.b}}",
    "{{a.b.n}}",
    "{{a.b.z}}",
    "{{a.b.c.d}}",
    "{{a.b.c.length}}",
    "{{a.missing.c}}",
    "{{missing}}",
    "{{missing.x.y}}",
    "{{z.x}}",
    "{{n.x}}",
    "{{t.x}}",
    "{{f.x}}",
    "{{s.x}}",
    "{{s.length}}",
    "{{s.0}}",
    "{{s.[1]}}",
    "{{s.constructor}}",
    "{{s.toString}}",
    "{{n.toFixed}}",
    "{{items.length}}",
    "{{empty.length}}",
    "{{obj.length}}",
    "{{items.0}}",
    "{{items.[0]}}",
    "{{items.[2]}}",
    "{{items.[3]}}",
    "{{items.-1}}",
    "{{items.0.length}}",
    "{{a.list.2.k}}",
    "{{a.list.[2].k}}",
    "{{a.list}}",
    "{{items}}",
    "{{this}}",
    "{{this.name}}",
    "{{this/name}}",
    "{{./name}}",
    "{{.}}",
    "{{this.a.b.c}}",
    "{{[a b]}}",
    "{{a.[b].c}}",
    "{{[a].[b].[c]}}",
    "{{[0]}}",
    "{{0}}",
    "{{1}}",
    "{{[this]}}",
    "{{this.[this]}}",
    "{{length}}",
    "{{[@x]}}",
    '{{"name"}}',
    '{{"a b"}}',
    "{{-1}}",
    "{{1.5}}",
    "{{a.this}}",
    "{{a..b}}",
    "{{a.}}",
    "{{.a}}",
    "{{../name}}",
    "{{@root.name}}",
    "{{@root.a.b.c}}",
    "{{@root}}",
    "{{@index}}",
    "{{@key}}",
    "{{@missing}}",
    "{{constructor}}",
    "{{constructor.name}}",
    "{{__proto__}}",
    "{{hasOwnProperty}}",
    "{{toString}}",
    "{{a.__proto__}}",
    "{{items.constructor}}",
    "{{items.map}}",
    "{{obj.k1}}{{obj.k2}}",
    "{{ a.b.c }}",
    "{{\na.b.c\n}}",
    "{{#with a}}{{b.c}}|{{../name}}|{{this.b.c}}|{{@root.name}}{{/with}}",
    "{{#with a}}{{#with b}}{{c}}|{{../list.[0]}}|{{../../name}}|{{../../../name}}"
    "{{/with}}{{/with}}",
    "{{#with a}}{{name}}{{/with}}",
    "{{#if t}}{{../name}}|{{name}}{{/if}}",
    "{{#if t}}{{#if t}}{{../../name}}{{/if}}{{/if}}",
    "{{#each items}}{{../name}}:{{this}} {{/each}}",
    "{{#each items}}{{#if ../t}}{{this}}{{/if}}{{/each}}",
    "{{#each a.list}}{{k}}{{this.k}}|{{/each}}",
]

# Contexts that are not objects, and paths tried against them.
TOP_LEVEL_CONTEXTS: list[object] = ["str", 5, 0, True, False, None, [1, 2], [], {}]
TOP_LEVEL_TEMPLATES = [
    "[{{this}}|{{length}}|{{.}}]{{#if this}}T{{else}}F{{/if}}",
    "{{#each this}}{{@index}}={{this}};{{else}}none{{/each}}",
]

ESCAPE_STRINGS = (
    list(ESCAPED_BY_HANDLEBARS)
    + [ESCAPED_BY_HANDLEBARS, "&amp;", "&#x27;", "&quot;", "&lt;&gt;", "/", "\\"]
    + ["a&b<c>d\"e'f`g=h", "<<>>", "==", PRINTABLE_ASCII, CONTROL_CHARACTERS]
    + ["\u2028", "😀<😀", "\ud83d&"]
)
ESCAPE_TEMPLATES = ["{{x}}", "{{{x}}}"]
# Template text outside mustaches is copied verbatim.
LITERAL_TEXT_TEMPLATES = [
    "<&\"'`=> {{x}}",
    "{{x}}\\n\\t\\u0041",
    "é😀\u2028\ud83d\x7f",
    "a\x00b",
    "a\x00b {{x}}",
    "",
    " ",
    "no mustaches at all",
    "{ not a mustache }",
    "{x}",
    "{{{{",
    "}}",
    "a } } b",
]

EACH_CASES: list[tuple[str, object]] = [
    (
        "{{#each a}}[{{@index}} {{@key}} {{@first}} {{@last}} {{this}}]{{/each}}",
        {"a": ["x", "y", "z"]},
    ),
    (
        "{{#each a}}[{{@index}} {{@key}} {{@first}} {{@last}} {{this}}]{{/each}}",
        {"a": {"k": "x", "j": "y", "i": "z"}},
    ),
    (
        "{{#each a}}[{{@index}} {{@key}} {{@first}} {{@last}} {{this}}]{{/each}}",
        {"a": ["only"]},
    ),
    (
        "{{#each a}}[{{@index}} {{@key}} {{@first}} {{@last}} {{this}}]{{/each}}",
        {"a": {"only": 1}},
    ),
    (
        "{{#each a}}{{@key}}={{this}};{{/each}}",
        {"a": {"b": 1, "10": 2, "2": 3, "a": 4, "-1": 5, "01": 6, "1.5": 7}},
    ),
    (
        "{{#each a}}{{this}},{{/each}}",
        {"a": [1, None, "", False, 0, [], {}, 1.0, -0.0]},
    ),
    ("{{#each a}}{{.}}|{{/each}}", {"a": ["<", ">"]}),
    ("{{#each a}}{{{this}}}|{{/each}}", {"a": ["<", ">"]}),
    (
        "{{#each a}}{{name}}:{{../name}};{{/each}}",
        {"name": "root", "a": [{"name": "one"}, {"name": "two"}, {}]},
    ),
    (
        "{{#each a}}{{this.name}}|{{./name}}|{{@root.name}};{{/each}}",
        {"name": "root", "a": [{"name": "one"}, {"other": 1}]},
    ),
    (
        "{{#each a}}{{#each this}}{{@../index}}.{{@index}}={{this}} {{/each}}{{/each}}",
        {"a": [[1, 2], [3], []]},
    ),
    (
        "{{#each a}}{{#each this}}{{@../key}}.{{@key}}={{this}} {{/each}}{{/each}}",
        {"a": {"p": {"x": 1, "y": 2}, "q": {"z": 3}}},
    ),
    (
        "{{#each a}}{{#each b}}{{../n}}-{{this}}-{{../../top}} {{/each}}{{/each}}",
        {"top": "T", "a": [{"n": 1, "b": ["x", "y"]}, {"n": 2, "b": ["z"]}]},
    ),
    (
        "{{#each a}}{{#each this}}{{@index}}{{@../index}}{{@../../index}}|{{/each}}"
        "{{/each}}",
        {"a": [[1, 2], [3]]},
    ),
    ("{{#each a}}{{@first}}{{@last}}{{@index}}{{/each}}", {"a": [None, None, None]}),
    (
        "{{#each a}}{{#if @first}}first{{/if}}{{#if @last}}last{{/if}},{{/each}}",
        {"a": [1, 2, 3]},
    ),
    (
        "{{#each a}}{{#unless @last}}{{this}},{{else}}{{this}}{{/unless}}{{/each}}",
        {"a": [1, 2, 3]},
    ),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": []}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": {}}),
    ("{{#each a}}x{{^}}empty{{/each}}", {"a": []}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": "str"}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": ""}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": 3}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": 0}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": None}),
    ("{{#each a}}x{{else}}empty{{/each}}", {}),
    ("{{#each a}}x{{else}}empty{{/each}}", {"a": True}),
    ("{{#each a}}[{{this}}]{{/each}}", {"a": "str"}),
    ("{{#each a}}[{{this}}]{{/each}}", {"a": [[]]}),
    ("{{#each a}}[{{this}}]{{/each}}", {"a": {"x": None}}),
    ("{{#each a as |item|}}{{item}};{{/each}}", {"a": ["x", "y"]}),
    ("{{#each a as |item idx|}}{{idx}}={{item}};{{/each}}", {"a": ["x", "y"]}),
    ("{{#each a as |value key|}}{{key}}={{value}};{{/each}}", {"a": {"p": 1, "q": 2}}),
    (
        "{{#each a as |row|}}{{#each row as |cell|}}{{cell}}{{/each}};{{/each}}",
        {"a": [[1, 2], [3]]},
    ),
    ("{{#each a}}{{this}}{{/each}}", {"a": list(range(12))}),
    ("{{#each a}}{{@index}}{{/each}}", {"a": [None] * 11}),
    ("{{#each a}}{{length}}{{/each}}", {"a": ["ab", [1], {"length": 7}]}),
    ("{{#each a}}{{this.length}}|{{/each}}", {"a": ["ab", [1, 2, 3], {}]}),
    ("{{#each}}x{{/each}}", {"a": [1]}),
    ("{{#each a b}}x{{/each}}", {"a": [1], "b": [2]}),
    ("{{#each a key='v'}}{{this}}{{/each}}", {"a": [1, 2]}),
    ("{{#each a.b}}{{this}}{{/each}}", {"a": {"b": [1, 2]}}),
    ("{{#each a}}{{#with this}}{{x}}{{/with}}{{/each}}", {"a": [{"x": 1}, {"x": 2}]}),
    (
        "{{#each a}}{{@index}}:{{#each ../b}}{{this}}{{@../index}}{{/each}};{{/each}}",
        {"a": [1, 2], "b": ["p", "q"]},
    ),
    ("{{#each a}}{{@root.x}}{{/each}}", {"a": [1, 2], "x": "R"}),
    ("{{#each a}}{{../this.x}}{{/each}}", {"a": [1, 2], "x": "P"}),
    ("{{@index}}{{#each a}}{{/each}}{{@index}}", {"a": [1]}),
]

WITH_CASES: list[tuple[str, object]] = [
    ("{{#with a}}{{b}}|{{../c}}{{/with}}", {"a": {"b": "B"}, "c": "C"}),
    ("{{#with a}}[{{b}}]{{else}}none{{/with}}", {"a": {}}),
    ("{{#with a}}[{{b}}]{{else}}none{{/with}}", {"a": None}),
    ("{{#with a}}[{{b}}]{{else}}none{{/with}}", {}),
    ("{{#with a}}[{{b}}]{{^}}none{{/with}}", {"a": False}),
    ("{{#with a}}[{{this}}|{{length}}]{{else}}none{{/with}}", {"a": "str"}),
    ("{{#with a}}[{{this}}]{{else}}none{{/with}}", {"a": 0}),
    ("{{#with a}}[{{this}}]{{else}}none{{/with}}", {"a": 7}),
    ("{{#with a}}[{{this}}]{{else}}none{{/with}}", {"a": []}),
    (
        "{{#with a}}[{{this}}|{{this.[0]}}|{{length}}]{{else}}none{{/with}}",
        {"a": [1, 2]},
    ),
    ("{{#with a}}[{{this}}]{{/with}}", {"a": None}),
    ("{{#with a as |x|}}{{x.b}}|{{b}}{{/with}}", {"a": {"b": 1}}),
    (
        "{{#with a}}{{#with b}}{{c}}{{../d}}{{../../e}}{{/with}}{{/with}}",
        {"a": {"b": {"c": 1}, "d": 2}, "e": 3},
    ),
    ("{{#with a}}{{@root.e}}{{/with}}", {"a": {}, "e": 3}),
    ("{{#with}}x{{/with}}", {}),
    ("{{#with a b}}x{{/with}}", {"a": 1, "b": 2}),
]

NESTED_IF = (
    "{{#if a}}{{#if b}}AB{{else}}A{{/if}}{{else}}{{#unless b}}none{{/unless}}{{/if}}"
)
# Blocks: if/unless forms, nesting, chained else, sections on non-helper paths.
BLOCK_CASES: list[tuple[str, object]] = [
    ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", {"a": 1, "b": 1}),
    ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", {"a": 0, "b": 1}),
    ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", {"a": 0, "b": 0}),
    ("{{#if a}}A{{else if b}}B{{/if}}", {"a": 0, "b": 0}),
    ("{{#if a}}A{{else unless b}}B{{else}}C{{/if}}", {"a": 0, "b": 0}),
    ("{{#if a}}A{{else with b}}[{{c}}]{{/if}}", {"a": 0, "b": {"c": 1}}),
    ("{{#if a}}A{{else each b}}{{this}}{{/if}}", {"a": 0, "b": [1, 2]}),
    ("{{#if a}}A{{else if b}}B{{else if c}}C{{else}}D{{/if}}", {"c": 1}),
    (
        NESTED_IF,
        {"a": 1, "b": 0},
    ),
    (
        NESTED_IF,
        {"a": 0, "b": 0},
    ),
    (
        NESTED_IF,
        {"a": 1, "b": 1},
    ),
    ("{{#if a}}[{{this.x}}|{{x}}]{{/if}}", {"a": 1, "x": "X"}),
    ("{{#if a}}T{{/if}}", {"a": 1}),
    ("{{#if a}}T{{/if}}", {"a": 0}),
    ("{{#unless a}}T{{/unless}}", {"a": 0}),
    ("{{#unless a}}T{{/unless}}", {"a": "x"}),
    ("{{#if a.b}}T{{else}}F{{/if}}", {"a": {"b": [1]}}),
    ("{{#if a.b}}T{{else}}F{{/if}}", {"a": None}),
    ("{{#if a}}T{{else}}F{{else}}G{{/if}}", {"a": 0}),
    ("{{#if a}}T{{/unless}}", {"a": 0}),
    ("{{#if a}}T", {"a": 0}),
    ("{{/if}}", {}),
    ("{{else}}", {}),
    ("{{#if}}T{{/if}}", {}),
    ("{{#if a b}}T{{/if}}", {"a": 1, "b": 1}),
    ("{{#unless a includeZero=true}}T{{else}}F{{/unless}}", {"a": 0}),
    ("{{#if a includeZero=false}}T{{else}}F{{/if}}", {"a": 0}),
    ("{{#if a includeZero=b}}T{{else}}F{{/if}}", {"a": 0, "b": True}),
    ("{{#if (lookup a 'b')}}T{{else}}F{{/if}}", {"a": {"b": 1}}),
    ("{{#if 0}}T{{else}}F{{/if}}", {}),
    ("{{#if 1}}T{{else}}F{{/if}}", {}),
    ("{{#if ''}}T{{else}}F{{/if}}", {}),
    ("{{#if 'x'}}T{{else}}F{{/if}}", {}),
    ("{{#if true}}T{{else}}F{{/if}}", {}),
    ("{{#if null}}T{{else}}F{{/if}}", {}),
    ("{{#if undefined}}T{{else}}F{{/if}}", {}),
    ("{{#if this}}T{{else}}F{{/if}}", {}),
    ("{{#a}}[{{b}}]{{/a}}", {"a": {"b": 1}}),
    ("{{#a}}[{{this}}]{{/a}}", {"a": [1, 2]}),
    ("{{#a}}[{{this}}]{{/a}}", {"a": "s"}),
    ("{{#a}}[{{this}}|{{../c}}]{{/a}}", {"a": 0, "c": "C"}),
    ("{{#a}}[{{@index}}]{{/a}}", {"a": [7, 8]}),
    ("{{#a.b}}[{{this}}]{{/a.b}}", {"a": {"b": True}}),
    ("{{#a}}x{{/b}}", {"a": 1}),
    ("{{^a}}none{{else}}some{{/a}}", {"a": 1}),
    ("{{^a}}none{{else}}some{{/a}}", {"a": 0}),
    ("{{^if a}}none{{/if}}", {"a": 0}),
    ("{{^if a}}none{{/if}}", {"a": 1}),
    ("{{^each a}}none{{/each}}", {"a": []}),
    ("{{^each a}}none{{/each}}", {"a": [1]}),
    ("{{#if a}}{{else}}F{{/if}}", {"a": 0}),
    ("{{#if a}}{{/if}}", {"a": 1}),
    ("{{#if a}}T{{ else }}F{{/if}}", {"a": 0}),
    ("{{#if a}}T{{~else~}}F{{/if}}", {"a": 0}),
    ("{{#if a}}T{{^ }}F{{/if}}", {"a": 0}),
    ("{{# if a }}T{{/ if }}", {"a": 1}),
]

# Whitespace control, standalone lines, comments.
WS_CONTEXT_TRUE = {"a": True, "x": "X", "l": [1, 2]}
WS_CONTEXT_FALSE = {"a": False, "x": "X", "l": []}
WHITESPACE_TEMPLATES = [
    "a {{! comment }} b",
    "a {{!-- comment --}} b",
    "a {{!-- has }} inside --}} b",
    "a {{! has }} inside }} b",
    "a {{!-- multi\nline --}} b",
    "a\n{{! standalone comment }}\nb",
    "a\n  {{!-- standalone --}}  \nb",
    "{{!x}}",
    "{{!}}",
    "{{!-- {{x}} --}}{{x}}",
    "a {{~x~}} b",
    "a {{~x}} b",
    "a {{x~}} b",
    "a \n\t {{~x~}} \r\n b",
    "a {{~{x}~}} b",
    "a {{~& x~}} b",
    "a {{~! c ~}} b",
    "a {{~!-- c --~}} b",
    "[ {{~#if a~}} T {{~else~}} F {{~/if~}} ]",
    "[ {{#if a~}} T {{~/if}} ]",
    "[ {{~#if a}} T {{/if~}} ]",
    "[\n  {{~#if a}}\n  T\n  {{~/if}}\n]",
    "[ {{~^if a~}} T {{~/if~}} ]",
    "[ {{#each l~}} {{this}} {{~/each}} ]",
    "[ {{~#each l}} {{this}} {{/each~}} ]",
    '{\n  {{#if a}}\n  "x": 1\n  {{/if}}\n}',
    '{\n  {{#if a}}\n  "x": 1\n  {{else}}\n  "y": 2\n  {{/if}}\n}',
    '{\n  {{#if a}}\n  "x": 1\n  {{^}}\n  "y": 2\n  {{/if}}\n}',
    "{{#if a}}\nT\n{{/if}}\n",
    "{{#if a}}\nT\n{{/if}}",
    "\n{{#if a}}\nT\n{{/if}}\n",
    "  {{#if a}}  \nT\n  {{/if}}  \n",
    "\t{{#if a}}\t\nT\n\t{{/if}}\t\n",
    "x {{#if a}}\nT\n{{/if}} y",
    "x\n{{#if a}} T {{/if}}\ny",
    "{{#if a}}T{{/if}}\n{{#if a}}U{{/if}}\n",
    '{\r\n  {{#if a}}\r\n  "x": 1\r\n  {{/if}}\r\n}',
    "{{#if a}}\r\nT\r\n{{else}}\r\nF\r\n{{/if}}\r\n",
    "a\r\n{{x}}\r\nb",
    "a\r{{#if a}}\rT\r{{/if}}\rb",
    "{{#each l}}\n  - {{this}}\n{{/each}}\n",
    "{{#each l}}\n  - {{this}}\n{{else}}\n  none\n{{/each}}\n",
    "  {{x}}  \n",
    "  {{{x}}}  \n",
    "  {{! c }}  \n  {{x}}\n",
    "{{#if a}}\n{{#if a}}\nnested\n{{/if}}\n{{/if}}\n",
    "\t\t{{#with l}}\n\t\t{{length}}\n\t\t{{/with}}\n",
    "\u00a0{{#if a}}\u00a0\nT\n{{/if}}\n",
    "\v{{#if a}}\nT\n{{/if}}\n",
    "\f{{#if a}}\f\nT\n{{/if}}\n",
    "x\n  {{> p}}\n",
    "{{#if a}}\n  {{! c }}\n  T\n{{/if}}",
]

# Constructs the Python compiler may refuse: recorded so the table says what they do.
SYNTAX_CASES: list[tuple[str, object]] = [
    ("{{{{raw}}}} {{x}} {{{{/raw}}}}", {"x": 1}),
    ("{{{{raw}}}} {{x}} {{{{/raw}}}}", {"x": 1, "raw": True}),
    ("{{{{raw}}}} {{x}} {{{{/raw}}}}", {"x": 1, "raw": [1, 2]}),
    ("{{> p}}", {}),
    ("{{> p x}}", {"x": {}}),
    ("{{#> p}}fallback {{x}}{{/p}}", {"x": 1}),
    ('{{#*inline "p"}}in{{/inline}}{{> p}}', {}),
    ("{{*decorator}}x", {}),
    ("{{pathEncode x}}", {"x": "a/b c"}),
    ("{{pathEncode x}}", {}),
    ("{{pathEncode}}", {}),
    ("{{{pathEncode x}}}", {"x": "a/b"}),
    ("{{pathEncode}}", {"pathEncode": "value"}),
    ("{{x y}}", {"x": "X", "y": "Y"}),
    ("{{x y}}", {"y": "Y"}),
    ("{{a.b y}}", {"a": {"b": "B"}}),
    ("{{x a=1}}", {"x": "X"}),
    ("{{x a=1}}", {}),
    ("{{#x}}a{{/x}}", {}),
    ("{{#x y}}a{{/x}}", {"x": 1}),
    ("{{#x y}}a{{/x}}", {}),
    ("{{lookup a b}}", {"a": {"k": "V<"}, "b": "k"}),
    ("{{lookup a b}}", {"a": ["p", "q"], "b": 1}),
    ("{{lookup a b}}", {"a": ["p", "q"], "b": "1"}),
    ("{{lookup a b}}", {"a": {"k": 1}, "b": "missing"}),
    ("{{lookup a b}}", {"a": None, "b": "k"}),
    ("{{lookup a b}}", {"b": "k"}),
    ("{{lookup a 'length'}}", {"a": "abc"}),
    ("{{lookup a 'constructor'}}", {"a": {}}),
    ("{{lookup this 'a b'}}", {"a b": "spaced"}),
    ("{{lookup a}}", {"a": {}}),
    ("{{#each a}}{{lookup ../b @index}}{{/each}}", {"a": [0, 0], "b": ["x", "y"]}),
    ("{{#with (lookup a b)}}{{c}}{{/with}}", {"a": {"k": {"c": "C"}}, "b": "k"}),
    ("{{log x}}", {"x": "logged"}),
    ("{{log x level='error'}}", {"x": "logged"}),
    ("{{(x)}}", {"x": "X"}),
    ("{{(lookup a 'b')}}", {"a": {"b": "B"}}),
    ("{{lookup (lookup a 'b') 'c'}}", {"a": {"b": {"c": "C"}}}),
    ("{{x (y)}}", {}),
    ("{{@root.x}}", {"x": "R"}),
    ("{{@root.x.y}}", {"x": {"y": "<"}}),
    ("{{#with a}}{{@root.x}}{{/with}}", {"a": {"x": "inner"}, "x": "R"}),
    ('{{"str"}}', {}),
    ('{{"str"}}', {"str": "looked up"}),
    ("{{'str'}}", {"str": "looked up"}),
    ("{{1}}", {}),
    ("{{1}}", {"1": "one"}),
    ("{{true}}", {}),
    ("{{true}}", {"true": "T"}),
    ("{{null}}", {"null": "N"}),
    ("{{undefined}}", {"undefined": "U"}),
    ("{{[a b]}}", {"a b": "spaced"}),
    ("{{[a.b]}}", {"a.b": "dotted", "a": {"b": "nested"}}),
    ("{{[a]]}}", {}),
    ("{{[]}}", {"": "empty key"}),
    ("{{a.[]}}", {"a": {"": "empty key"}}),
    ("{{[x}}", {}),
    ("\\{{x}}", {"x": "X"}),
    ("\\\\{{x}}", {"x": "X"}),
    ("\\\\\\{{x}}", {"x": "X"}),
    ("\\{{x}} {{x}}", {"x": "X"}),
    ("\\{{{x}}}", {"x": "X"}),
    ("\\{{#if x}}", {"x": "X"}),
    ("a\\b {{x}}", {"x": "X"}),
    ("{{x", {"x": "X"}),
    ("{{x}", {"x": "X"}),
    ("{{x}}}", {"x": "X"}),
    ("{{{x}}", {"x": "X"}),
    ("{{}}", {}),
    ("{{ }}", {}),
    ("{{{}}}", {}),
    ("{{#}}{{/}}", {}),
    ("{{x.y.}}", {}),
    ("{{x..}}", {}),
    ("{{a-b}}", {"a-b": "dash"}),
    ("{{a:b}}", {"a:b": "colon"}),
    ("{{a$b}}", {"a$b": "dollar"}),
    ("{{é}}", {"é": "accent"}),
    ("{{😀}}", {"😀": "emoji"}),
    ("{{a%b}}", {}),
    ('{{a"b}}', {}),
    ("{{a=b}}", {}),
    ("{{a&b}}", {}),
    ("{{a|b}}", {}),
    ("{{this.../x}}", {}),
    ("{{../../x}}", {"x": 1}),
    ("{{a/../b}}", {"b": 1}),
    ("{{@../index}}", {}),
    ("{{x}}{{{{", {"x": 1}),
]


def response_contexts(request_body: bool) -> list[dict]:
    """Contexts for the response templates; request_body adds requestBody variants."""
    base = {
        "projectKey": "default",
        "environmentKey": "production",
        "segmentKey": "heap-users",
        "segmentUrl": "https://app.launchdarkly.com/default/production/segments/heap",
        "errorMessage": "",
        "statusCode": 200,
        "requestBody": {"environmentId": "5f3e1c2b9a8d7e6f5a4b3c2d"},
    }
    failure = dict(base, errorMessage="cohort not found", statusCode=400)
    variants: list[dict] = [base, failure]
    messages = [
        'He said "hi"',
        'C:\\path\\new \\"',
        "line1\nline2\r\n\ttabbed",
        CONTROL_CHARACTERS + "\x7f",
        "\u2028\u2029",
        "</script><script>alert(1)</script>",
        ESCAPED_BY_HANDLEBARS + " &amp; {{x}}",
        "a😀b👩‍👩‍👧 é 日本語",
        "lone \ud83d high",
        "lone \ude00 low",
        " ",
        "0",
        long_string(1),
    ]
    for message in messages:
        variants.append(dict(base, errorMessage=message, statusCode=400))
    for status in [404, 500, "400", 400.0, None, MISSING]:
        variants.append(dict(failure, statusCode=status))
    for message in [MISSING, None, False, True, 0, 1, [], ["a", "b"], {}]:
        variants.append(dict(base, errorMessage=message, statusCode=500))
    keys = ["projectKey", "environmentKey", "segmentKey", "segmentUrl"]
    variants.append(dict(failure, segmentUrl="https://x.test/s?a=1&b='2'#\"x\""))
    variants.append(dict(failure, projectKey='p"\\\n😀\udfff', environmentKey=None))
    variants.append(dict(failure, segmentKey=0, segmentUrl=MISSING))
    variants.append({})
    variants.append(
        {key: f"<{key}&'\"`=>" for key in keys}
        | {"errorMessage": "<{errorMessage}&'\"`=>", "statusCode": 400}
    )
    if request_body:
        for environment_id in [
            12345,
            1.5,
            1.0,
            -0.0,
            1e21,
            True,
            False,
            None,
            MISSING,
            [],
            ["a", "b"],
            {"id": 1},
            "",
            'env"\\\n</script>😀\ud83d',
        ]:
            body = (
                {} if environment_id is MISSING else {"environmentId": environment_id}
            )
            variants.append(dict(base, requestBody=body))
        variants.append(dict(base, requestBody=None))
        variants.append(dict(base, requestBody="string body"))
        variants.append(dict(failure, requestBody=[{"environmentId": "in-array"}]))
    else:
        for variant in variants:
            variant.pop("requestBody", None)
    return [drop_missing(context) for context in variants]


def drop_missing(value):
    """The value with every MISSING dict entry removed, recursively."""
    if isinstance(value, dict):
        return {k: drop_missing(v) for k, v in value.items() if v is not MISSING}
    if isinstance(value, list):
        return [drop_missing(v) for v in value]
    return value


def with_x(value) -> dict:
    """{"x": value}, or {} for MISSING."""
    return {} if value is MISSING else {"x": value}


def build_cases() -> list[dict]:
    """Every (group, template, context) case, in a fixed order."""
    cases: list[dict] = []

    def add(group: str, template: str, context=None, *, raw: str | None = None) -> None:
        case = {"group": group, "template": template}
        if raw is None:
            case["context"] = context
        else:
            case["context_json"] = raw
        cases.append(case)

    for value in PRINT_VALUES:
        add("print", "{{x}}", with_x(value))
    for raw in RAW_CONTEXTS:
        add("print", "{{x}}", raw=raw)
    for value in TRIPLE_STASH_VALUES:
        add("print", "{{{x}}}", with_x(value))
    add("print", "{{{x}}}", raw=RAW_CONTEXTS[0])
    for value in ["abc", "", "😀é", [1, 2, 3], [], {}, {"length": 2}, 5, None, True]:
        add("print", "{{x.length}}", with_x(value))
    for template in ["{{x.[0]}}", "{{x.0.a}}"]:
        for value in ["abc", "😀", [{"a": "A"}], {"0": {"a": "K"}}, 5]:
            add("print", template, with_x(value))
    add("print", "{{a}}{{b}}{{c}}", {"a": 1, "b": "2", "c": [3]})
    add("print", "{{x}} {{x}}", {"x": 0.5})

    for template in TRUTHY_TEMPLATES:
        for value in TRUTHY_VALUES:
            add("truthiness", template, with_x(value))
        add("truthiness", template, raw='{"x": 1e-400}')
        add("truthiness", template, raw='{"x": -0}')
    for template in MORE_TRUTHY_TEMPLATES:
        for value in SOME_TRUTHY_VALUES:
            add("truthiness", template, with_x(value))

    for template in ESCAPE_TEMPLATES:
        for value in ESCAPE_STRINGS:
            add("escape", template, with_x(value))
    for template in ["{{& x}}", "{{&x}}", "{{~& x~}}"]:
        add("escape", template, {"x": ESCAPED_BY_HANDLEBARS})
    for template in LITERAL_TEXT_TEMPLATES:
        add("escape", template, {"x": "<x>"})
    add("escape", '<a href="{{x}}">{{x}}</a>', {"x": "\" onclick='a=`b`'&"})

    for template in PATH_CASES:
        add("paths", template, NESTED)
    for context in TOP_LEVEL_CONTEXTS:
        for template in TOP_LEVEL_TEMPLATES:
            add("paths", template, context)
    add("paths", "{{x}}", {"x": {"y": 1}})
    add("paths", "{{x.y}}", {"x": {"y": {"z": 1}}})
    add("paths", "{{a.b}}", {"a": "string"})
    add("paths", "{{a.b}}", {"a": 0})
    add("paths", "{{a.b}}", {"a": [{"b": 1}]})
    add("paths", "{{a.1.b}}", {"a": [{"b": 1}, {"b": 2}]})
    add("paths", "{{a.[1].b}}", {"a": {"1": {"b": "keyed"}}})
    add("paths", "{{a.10}}", {"a": list(range(11))})
    add("paths", "{{a.01}}", {"a": [5, 6]})
    add("paths", "{{a.[01]}}", {"a": [5, 6]})
    add("paths", "{{a.[-1]}}", {"a": [5, 6]})
    add("paths", "{{a.[1.0]}}", {"a": [5, 6]})
    add("paths", "{{a.[ 1]}}", {"a": [5, 6]})

    for template, context in EACH_CASES:
        add("each", template, context)
    for template, context in WITH_CASES:
        add("with", template, context)
    for template, context in BLOCK_CASES:
        add("blocks", template, context)
    for template in WHITESPACE_TEMPLATES:
        add("whitespace", template, WS_CONTEXT_TRUE)
        if "{{#" in template or "{{~#" in template or "^" in template:
            add("whitespace", template, WS_CONTEXT_FALSE)
    for template, context in SYNTAX_CASES:
        add("syntax", template, context)

    for context in response_contexts(request_body=False):
        add("heap", HEAP_TEMPLATE, context)
    for context in response_contexts(request_body=True):
        add("seeds", SEEDS_TEMPLATE, context)

    # The JSON-literal template needs no second go at strings that JSON leaves alone.
    boring = {"plain", "\\", '"', "null", "true", "0", "-0", "1e21", "[object Object]"}
    json_values: list[object] = [text for text in TRICKY_STRINGS if text not in boring]
    json_values += random_strings(seed=2024, count=12)
    json_values += [
        long_string(2),
        0,
        1.5,
        -0.0,
        1e21,
        True,
        None,
        MISSING,
        [1, "a"],
        {},
    ]
    for value in json_values:
        add("json_literal", JSON_LITERAL_TEMPLATE, with_x(value))
    for value in random_strings(seed=7, count=8, max_length=8):
        add("json_literal", '"{{x}}":{{{x}}}', {"x": value, value: "key"})
    return cases


def context_text(case: dict) -> str:
    """The JSON text node parses for a case (what loading the recorded file gives)."""
    if "context_json" in case:
        return case["context_json"]
    return json.dumps(case["context"], sort_keys=True, ensure_ascii=True)


def code_units(value: str) -> list[int]:
    """UTF-16 code units of a string (lone surrogates kept), as JavaScript sees it."""
    encoded = value.encode("utf-16-le", "surrogatepass")
    return [
        int.from_bytes(encoded[i : i + 2], "little") for i in range(0, len(encoded), 2)
    ]


def install_handlebars(folder: Path, spec: str) -> None:
    """npm install handlebars@spec into folder/node_modules."""
    subprocess.run(
        ["npm", "install", "--prefix", str(folder), f"handlebars@{spec}"]
        + ["--no-audit", "--no-fund", "--ignore-scripts", "--no-save"],
        check=True,
        stdout=sys.stderr,
    )


def ask_node(folder: Path, cases: list[dict], echo: list[str]) -> dict:
    """Render every case in one node process."""
    request = {
        "cases": [
            {"template": case["template"], "context_json": context_text(case)}
            for case in cases
        ],
        "echo": echo,
    }
    environment = dict(
        os.environ,
        HANDLEBARS_DIR=str(folder),
        NODE_PATH=str(folder / "node_modules"),
    )
    completed = subprocess.run(
        ["node", str(NODE_SCRIPT)],
        input=json.dumps(request, ensure_ascii=True).encode("ascii"),
        capture_output=True,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"node exited with {completed.returncode}")
    return json.loads(completed.stdout.decode("utf-8"))


def record(spec: str) -> dict:
    """Install handlebars, render every case and return the data to store."""
    cases = build_cases()
    keys = [(case["template"], context_text(case)) for case in cases]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, f"cases listed twice: {duplicates[:5]}"
    echo = sorted({case["template"] for case in cases} | set(TRICKY_STRINGS))
    with tempfile.TemporaryDirectory(prefix="record-handlebars-") as temporary:
        folder = Path(temporary)
        install_handlebars(folder, spec)
        package = json.loads(
            (folder / "node_modules" / "handlebars" / "package.json").read_text()
        )
        answer = ask_node(folder, cases, echo)
    assert answer["version"] == package["version"], (answer["version"], package)
    assert answer["echo"] == [code_units(s) for s in echo], "JSON changed strings"
    assert len(answer["results"]) == len(cases)
    for case, result in zip(cases, answer["results"]):
        case.update(result)
    node_version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "about": (
            "Handlebars.compile(template)(context) in node, default options; "
            "see tests/data/README_handlebars.md and record_handlebars.py"
        ),
        "handlebars": package["version"],
        "node": node_version,
        "cases": cases,
    }


def main() -> None:
    """Record and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spec", default="4", help="npm version spec of handlebars (default: 4)"
    )
    arguments = parser.parse_args()
    data = record(arguments.spec)
    # ensure_ascii keeps lone surrogates and control characters as \uXXXX escapes.
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=True) + "\n"
    OUTPUT.write_text(text, encoding="ascii")
    errors = sum("error" in case for case in data["cases"])
    print(
        f"handlebars {data['handlebars']}: {len(data['cases'])} cases "
        f"({errors} errors), {len(text) / 1e6:.2f} MB -> {OUTPUT}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
