"""The JSON proof is sound: a template it proves renders valid JSON for every plain context.

The runtime skips parsing the plain renderer's output on the strength of this proof, so
random templates (JSON fragments, mustaches and blocks) are checked against real renders.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compiler.emit import render
from compiler.handlebars import TemplateError
from compiler.jsonproof import proven_valid
from compiler.lower_response import lower_template

FRAGMENTS = ['{', '}', '[', ']', ',', ':', ' ', '"k": ', '"a"', '1', '-2.5e3', 'true',
             'null', '"', '\\n', '{{x}}', '"{{s}}"', '"{{{s}}}"', '{{n}}', '"{{t}}-{{s}}"',
             '{"a": {{x}}}', '[{{n}}]', '"\\u00e9"']  # fmt: skip
BLOCKS = ["{{#if c}}", "{{else}}", "{{/if}}", "{{#each xs}}", "{{/each}}",
          "{{#with o}}", "{{/with}}", "{{#unless c}}", "{{/unless}}"]  # fmt: skip
PLAIN_STRINGS = st.text(alphabet="abc XYZ019:/.-_é", max_size=6)
PLAIN_SCALARS = st.one_of(st.integers(-(2**53), 2**53), st.booleans())
CONTEXTS = st.fixed_dictionaries(
    {
        "x": PLAIN_SCALARS,
        "n": PLAIN_SCALARS,
        "s": PLAIN_STRINGS,
        "t": PLAIN_STRINGS,
        "c": st.booleans(),
        "xs": st.lists(st.fixed_dictionaries({"s": PLAIN_STRINGS, "n": PLAIN_SCALARS}),
                       max_size=3),
        "o": st.fixed_dictionaries({"s": PLAIN_STRINGS, "x": PLAIN_SCALARS}),
    }
)  # fmt: skip


def renderers(template: str, runtime):
    response = lower_template(template)
    namespace = {"_runtime": runtime}
    exec(compile(render("response.py.j2", response=response), "<t>", "exec"), namespace)
    return response, namespace.get("render_plain"), namespace["render_response"]


@pytest.fixture(scope="module")
def runtime(shipped):
    return shipped._runtime


def test_proven_templates_render_valid_json_for_every_plain_context(runtime):
    proven, rendered = [], []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        pieces=st.lists(st.sampled_from(FRAGMENTS + BLOCKS), min_size=1, max_size=14),
        data=st.data(),
    )
    def check(pieces, data):
        try:
            response, render_plain, render_response = renderers(
                "".join(pieces), runtime
            )
        except TemplateError:
            assume(False)  # unbalanced blocks and the like: not templates
        assume(response.proven)
        proven.append(pieces)
        # drawn only now: most random templates are refused above, and drawing their
        # contexts first was most of this test's time
        for context in data.draw(st.lists(CONTEXTS, min_size=1, max_size=4)):
            text = render_plain(context)
            if text is None:  # e.g. an integer inside a string: not plain, checked path
                continue
            rendered.append(text)
            json.loads(text)  # valid JSON, as proven
            assert text == render_response(context, False)  # and handlebars.js's output

    check()
    assert len(proven) > 50 and len(rendered) > 50, "must reach proven templates"


@pytest.mark.parametrize(
    ("template", "proven"),
    [
        ('{"a": "{{s}}", "b": {{n}} }', True),
        ('{"a": [{{#each xs}}"{{s}}"{{/each}}]}', False),  # "a""b": missing commas
        ('{"a": [{{#each xs}}{{#unless @first}},{{/unless}}{{n}}{{/each}}]}', False),
        ('{"a": {{#if c}}1{{else}}2{{/if}} }', True),
        ('{"a": {{#if c}}1{{/if}} }', False),  # nothing where a value must be
        ('{"a": -{{n}} }', False),  # a hole inside a number token
        ('{"a": {{n}}{{n}} }', False),
        ("{{#each xs}}[{{/each}}", False),
    ],
)
def test_what_the_proof_accepts(template, proven):
    assert proven_valid(lower_template(template)) is proven
