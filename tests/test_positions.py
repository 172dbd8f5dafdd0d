"""compiler.positions against two oracles: json.loads everywhere, json-source-map where
it is right (keys without escapes, "/" or "~"), on random documents and layouts."""

from __future__ import annotations

import json

import json_source_map
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import pointer_join
from compiler.load import manifest_from_bytes
from compiler.positions import SourceMap, string_offsets
from compiler.trial import try_manifest

ANY_TEXT = st.text(st.characters(codec=None), max_size=8)  # astral, surrogates too
PLAIN_KEYS = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\/~'),
    max_size=6,
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
          allow_infinity=False) | ANY_TEXT  # fmt: skip


def documents(keys=ANY_TEXT):
    return st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


LAYOUTS = st.fixed_dictionaries(
    {
        "indent": st.sampled_from([None, 0, 1, 2, "\t", " \r\n"]),
        "ensure_ascii": st.booleans(),
        "separators": st.sampled_from([None, (",", ":"), (" , ", " : ")]),
    }
)


def nodes(value, pointer=""):
    """(pointer, value) of every node of a document."""
    yield pointer, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from nodes(child, pointer + pointer_join(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from nodes(child, f"{pointer}/{index}")


def dumps(document, layout) -> str:
    indent = layout["indent"]
    if indent == " \r\n":  # JSON whitespace json.dumps never writes
        text = json.dumps(document, ensure_ascii=layout["ensure_ascii"], indent=1)
        return " \r\n " + text.replace("\n", "\r\n\t ") + "\n \r"
    return json.dumps(
        document,
        indent=indent,
        ensure_ascii=layout["ensure_ascii"],
        separators=layout["separators"],
    )


@settings(max_examples=150, deadline=None)
@given(documents(), LAYOUTS)
def test_every_node_span_decodes_to_its_value_and_key(document, layout):
    text = dumps(document, layout)
    source = SourceMap(text)
    for pointer, value in nodes(document):
        node = source.node(pointer)
        assert node is not None, pointer
        assert json.loads(text[node.value.start : node.value.end]) == value
        if pointer:
            key = json.loads(text[node.key.start : node.key.end]) if node.key else None
            if key is not None:  # members of objects have keys, items of arrays not
                assert pointer_join(key) == "/" + pointer.rsplit("/", 1)[-1]


@settings(max_examples=150, deadline=None)
@given(ANY_TEXT, st.booleans())
def test_string_offsets_map_each_character_to_where_it_is_written(value, ascii_only):
    text = json.dumps({"k": value}, ensure_ascii=ascii_only)
    node = SourceMap(text).node("/k")
    offsets = string_offsets(text, node.value.start)
    assert len(offsets) == len(value) + 1 and offsets[-1] == node.value.end - 1
    for i, char in enumerate(value):
        assert json.loads('"' + text[offsets[i] : offsets[i + 1]] + '"') == char


@settings(max_examples=150, deadline=None)
@given(documents(PLAIN_KEYS), LAYOUTS)
def test_agrees_with_json_source_map(document, layout):
    text = dumps(document, layout)
    oracle = json_source_map.calculate(text)
    source = SourceMap(text)
    for pointer, _ in nodes(document):
        entry = oracle[pointer]
        place = source.place(source.node(pointer).value)
        assert (place.line - 1, place.column - 1) == (
            entry.value_start.line,
            entry.value_start.column,
        )
        assert (place.end_line - 1, place.end_column - 1) == (
            entry.value_end.line,
            entry.value_end.column,
        )
        key = source.node(pointer).key
        if entry.key_start is not None:
            assert source.line_column(key.start) == (
                entry.key_start.line + 1,
                entry.key_start.column + 1,
            )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), documents()), min_size=1, max_size=6))
def test_a_duplicate_key_points_at_the_last_one_as_json_loads_reads_it(pairs):
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    document = json.loads(text)
    source = SourceMap(text)
    for pointer, value in nodes(document):
        node = source.node(pointer)
        assert json.loads(text[node.value.start : node.value.end]) == value
    present = {pointer for pointer, _ in nodes(document)}
    for key, value in pairs:  # what only an earlier duplicate had is not there
        for pointer, _ in nodes(value, pointer_join(key)):
            if pointer not in present:
                assert source.node(pointer) is None, pointer


def test_a_bom_is_not_a_column():
    text = '{\n  "capabilities": 7\n}'
    manifest, _ = manifest_from_bytes(
        "k", "m.json", "m", b"\xef\xbb\xbf" + text.encode()
    )
    diagnostics = try_manifest("k", b"\xef\xbb\xbf" + text.encode()).diagnostics
    assert manifest.text == text
    (shape,) = diagnostics  # the bad value, 7, counted from after the BOM
    assert (shape.code, shape.line, shape.column) == ("capabilities-not-object", 2, 19)


def test_a_template_mark_goes_through_the_escapes_before_it():
    template = (
        '{"a": "\\u00e9\\n\\ud83d\\ude00 \\"q\\"", "s": "{{segmntKey}}", '
        '"e": "{{errorMessage}}"}'
    )
    manifest = {
        "capabilities": {
            "syncedSegment": {
                "requestParser": {
                    "environmentIdPath": "/e",
                    "cohortIdPath": "/c",
                    "cohortNamePath": "/n",
                    "addMemberArrayPath": "/a",
                    "removeMemberArrayPath": "/r",
                    "memberArrayParser": {"memberIdPath": "/id"},
                },
                "jsonResponseBody": template,
            }
        }
    }
    text = json.dumps(manifest, indent=2)
    (typo,) = try_manifest("k", text).diagnostics
    line = text.splitlines()[typo.line - 1]
    assert line[typo.column - 1 :].startswith("{{segmntKey}}")
    assert typo.end_column - typo.column == len("{{segmntKey}}")
