"""Real upstream manifests: every published syncedSegment capability builds unchanged.

Each file in ../shared/reference/upstream-manifests/ holds {"key", "syncedSegment"} as
LaunchDarkly publishes it. Wrapped into a full integration-framework manifest (the other
top-level fields and capabilities a real one carries), all of them compile in one build,
and the only things said are the known flaws: the upstream Tealium matcher, and the
seeds/002 response template in LaunchDarkly's second example integration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.build import build
from compiler.diagnostics import WARNING
from compiler.naming import module_name

SHARED = Path(__file__).resolve().parents[2] / "shared"
UPSTREAM = SHARED / "reference" / "upstream-manifests"
MATCHER = "/capabilities/syncedSegment/requestParser/arrayInclusion/matcher"
RESPONSE = "/capabilities/syncedSegment/jsonResponseBody"

pytestmark = pytest.mark.skipif(
    not UPSTREAM.is_dir(),
    reason=f"{UPSTREAM} is absent: the upstream reference manifests live beside the "
    "repository, in the shared folder, not in it",
)


def upstream() -> dict[str, dict]:
    """{key: syncedSegment} of every published integration."""
    published = {}
    for path in sorted(UPSTREAM.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        published[entry["key"]] = entry["syncedSegment"]
    return published


def full_manifest(key: str, synced_segment: dict) -> dict:
    """The capability in a manifest shaped like launchdarkly/integration-framework's."""
    title = key.replace("-", " ").title()
    return {
        "name": title,
        "version": "1.0.0",
        "overview": f"Sync {title} cohorts to LaunchDarkly Big Segments.",
        "description": f"Sync {title} audiences to LaunchDarkly to target flags.",
        "author": "LaunchDarkly",
        "supportEmail": "support@launchdarkly.com",
        "links": {
            "site": f"https://www.{key}.example.com/",
            "launchdarklyDocs": "https://docs.launchdarkly.com/home/synced-segments",
            "supportWebsite": f"https://www.{key}.example.com/support",
            "privacyPolicy": "https://launchdarkly.com/policies/privacy",
        },
        "categories": ["synced-segments", "data"],
        "icons": {"square": "assets/square.svg", "horizontal": "assets/horizontal.svg"},
        "legacy": False,
        "formVariables": [
            {
                "key": "apiKey",
                "name": "API key",
                "type": "string",
                "description": f"Your {title} API key",
                "isSecret": True,
            },
            {
                "key": "region",
                "name": "Region",
                "type": "enum",
                "allowedValues": ["us", "eu"],
                "defaultValue": "us",
                "isOptional": True,
                "description": "Where your data lives",
            },
        ],
        "capabilities": {
            "auditLogEventsHook": {
                "endpoint": {
                    "url": "https://api.{{region}}.example.com/events",
                    "method": "POST",
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "Authorization", "value": "Bearer {{apiKey}}"},
                    ],
                },
                "templates": {"flag": "templates/flag.json.hbs"},
                "defaultPolicy": [
                    {
                        "effect": "allow",
                        "resources": ["proj/*:env/production:flag/*"],
                        "actions": ["*"],
                    }
                ],
            },
            "syncedSegment": synced_segment,
            "trigger": {
                "documentation": f"https://www.{key}.example.com/docs/triggers",
                "parser": {"eventName": "/event", "value": "/value"},
            },
        },
    }


@pytest.fixture(scope="module")
def published() -> dict[str, dict]:
    return upstream()


@pytest.fixture(scope="module")
def upstream_build(published, tmp_path_factory):
    manifests = tmp_path_factory.mktemp("upstream") / "manifests"
    for key, synced_segment in published.items():
        (manifests / key).mkdir(parents=True)
        text = json.dumps(full_manifest(key, synced_segment), indent=2)
        (manifests / key / "manifest.json").write_text(text, encoding="utf-8")
    return build(manifests)


def test_there_are_upstream_manifests(published):
    assert len(published) >= 10  # it holds a dozen; an empty glob would prove nothing


def test_the_build_succeeds_and_compiles_every_key(upstream_build, published):
    assert upstream_build.ok, [d.render() for d in upstream_build.diagnostics]
    assert sorted(upstream_build.compiled) == sorted(published)
    assert upstream_build.skipped == ()
    for key in published:
        assert f"{module_name(key)}.py" in upstream_build.files


def test_the_only_diagnostics_are_the_known_lints(upstream_build, published):
    expected = {
        ("tealium-synced-segments", "matcher-accepts-removal", MATCHER),
        # the seeds/002 template, which reads requestBody.environmentId from a body
        # whose environment id sits at /parameters/mixpanel_project_id: it always
        # answers "environmentId": "" (see the test below)
        ("example-synced-segment-integration2", "template-unread-body", RESPONSE),
    }
    for key, synced_segment in published.items():
        template = synced_segment.get("jsonResponseBody")
        if template is not None and "errorMessage" not in template:
            expected.add((key, "response-without-error", RESPONSE))
    said = {
        (Path(d.file).parent.name, d.code, d.pointer)
        for d in upstream_build.diagnostics
    }
    assert said == expected
    assert len(upstream_build.diagnostics) == len(expected)
    assert all(d.level == WARNING for d in upstream_build.diagnostics)


def test_the_tealium_warning_names_the_removal_it_accepts(upstream_build):
    (warning,) = [
        d for d in upstream_build.diagnostics if d.code == "matcher-accepts-removal"
    ]
    assert '"remove_member"' in warning.message
    assert warning.file.endswith("tealium-synced-segments/manifest.json")


def test_the_template_warning_names_the_pointer_that_reads_the_environment(
    upstream_build,
):
    (warning,) = [
        d for d in upstream_build.diagnostics if d.code == "template-unread-body"
    ]
    assert "{{requestBody.environmentId}}" in warning.message
    assert warning.hint == (
        'environmentIdPath reads "/parameters/mixpanel_project_id": did you mean '
        "{{requestBody.parameters.mixpanel_project_id}}?"
    )
    assert "{{requestBody.parameters.mixpanel_project_id}}" in warning.replacement
