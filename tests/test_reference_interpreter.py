"""Tests of the reference interpreter itself, on hand-written manifests and bodies.

Every case spells out the exact expected result or the exact (status, code, message).
"""

from __future__ import annotations

import copy

import pytest

from tests.reference_interpreter import (
    MISSING,
    InterpreterError,
    interpret,
    interpret_bytes,
    resolve,
)


def manifest(**parser) -> dict:
    """A whole manifest around `parser`, with unrelated fields that must be ignored."""
    return {
        "name": "Acme",
        "capabilities": {
            "other": {"ignored": True},
            "syncedSegment": {"requestParser": parser},
        },
    }


# The three example bodies of seeds/002 and a manifest for each.
BOOLEAN = manifest(
    environmentIdPath="/environmentId",
    contextKindPath="/contextKind",
    cohortIdPath="/batch/0/cohortId",
    cohortNamePath="/batch/0/cohortName",
    cohortUrlPath="/batch/0/cohortUrl",
    memberArrayPath="/batch",
    memberArrayParser={
        "memberIdPath": "/userId",
        "booleanMembershipPath": "/value",
        "cohortIdPath": "/cohortId",
        "cohortNamePath": "/cohortName",
    },
)
BOOLEAN_BODY = {
    "environmentId": "abcd123",
    "contextKind": "organization",
    "batch": [
        {
            "userId": "user-1234",
            "cohortName": "Segment 1234",
            "cohortId": "segment-1234",
            "cohortUrl": "https://example.com",
            "value": True,
        },
        {
            "userId": "user-5678",
            "cohortName": "Segment 1235",
            "cohortId": "segment-12345",
            "cohortUrl": "https://example.com",
            "value": False,
        },
    ],
}

NAMED = manifest(
    environmentIdPath="/customer_config/fields/0/value/id",
    cohortIdPath="/data/segment/id",
    cohortNamePath="/data/segment/name",
    addMemberArrayPath="/data/add",
    removeMemberArrayPath="/data/remove",
    memberArrayParser={"memberIdPath": "/id"},
)
NAMED_BODY = {
    "id_token": "CustomerIdToken",
    "action_type": "segment.users.sync",
    "customer_config": {
        "fields": [
            {
                "field_id": "workspace",
                "field_display_name": "Workspace",
                "value": {"id": "abcd123", "display_name": "Workspace 1"},
            }
        ]
    },
    "data": {
        "segment": {"id": "segment-1234", "name": "Segment 1234"},
        "add": [{"id": "user-123"}, {"id": "user-456"}],
        "remove": [{"id": "user-789"}, {"id": "user-101112"}],
    },
}

ACTION = manifest(
    environmentIdPath="/parameters/integration_project_id",
    cohortIdPath="/parameters/integration_cohort_id",
    cohortNamePath="/parameters/integration_cohort_name",
    arrayInclusion={"path": "/action", "matcher": "^add_members$"},
    memberArrayPath="/parameters/members",
    memberArrayParser={"memberIdPath": "/integration_distinct_id"},
)
ACTION_BODY = {
    "action": "add_members",
    "parameters": {
        "integration_project_id": "abcd123",
        "integration_cohort_name": "Segment 1234",
        "integration_cohort_id": "segment-1234",
        "integration_cohort_description": "description",
        "integration_session_id": "integration_session_id",
        "members": [
            {
                "email": "user-1234@customer.com",
                "integration_distinct_id": "user-1234",
                "first_name": "John",
                "last_name": "Doe",
                "phone_number": "xxx-xxx-xxxx",
            },
            {
                "email": "user-5678@customer.com",
                "integration_distinct_id": "user-5678",
                "first_name": "Jane",
                "last_name": "Doe",
                "phone_number": "xxx-xxx-xxxx",
            },
        ],
    },
}

# Small flat manifests for the rule-by-rule cases.
FLAT_BOOLEAN = manifest(
    environmentIdPath="/env",
    contextKindPath="/kind",
    cohortIdPath="/cid",
    cohortNamePath="/cname",
    cohortUrlPath="/url",
    memberArrayPath="/members",
    memberArrayParser={"memberIdPath": "/id", "booleanMembershipPath": "/in"},
)
FLAT_ACTION = manifest(
    environmentIdPath="/env",
    cohortIdPath="/cid",
    cohortNamePath="/cname",
    arrayInclusion={"path": "/action", "matcher": "^add$"},
    memberArrayPath="/members",
    memberArrayParser={"memberIdPath": "/id", "booleanMembershipPath": "/in"},
)
FLAT_NAMED = manifest(
    environmentIdPath="/env",
    cohortIdPath="/cid",
    cohortNamePath="/cname",
    addMemberArrayPath="/add",
    removeMemberArrayPath="/remove",
    memberArrayParser={
        "memberIdPath": "/id",
        "cohortIdPath": "/cohort",
        "cohortNamePath": "/name",
    },
)
OVERRIDES = manifest(
    environmentIdPath="/env",
    cohortIdPath="/cid",
    cohortNamePath="/cname",
    cohortUrlPath="/url",
    memberArrayPath="/members",
    memberArrayParser={
        "memberIdPath": "/id",
        "booleanMembershipPath": "/in",
        "cohortIdPath": "/cohort",
        "cohortNamePath": "/name",
    },
)


def body(**fields) -> dict:
    """A valid flat body (no members) with `fields` set; MISSING deletes a field."""
    doc = {"env": "e1", "cid": "c1", "cname": "Cohort 1", "members": []}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not MISSING}


def change(cohort_id, name, url=None, added=(), removed=(), key="acme") -> dict:
    return {
        "segmentKey": f"{key}-{cohort_id}",
        "cohortId": cohort_id,
        "cohortName": name,
        "cohortUrl": url,
        "added": list(added),
        "removed": list(removed),
    }


def result(*changes, env="e1", kind="user") -> dict:
    return {"environmentId": env, "contextKind": kind, "changes": list(changes)}


def error(manifest_, doc, key="acme") -> tuple:
    with pytest.raises(InterpreterError) as info:
        interpret(key, manifest_, doc)
    return info.value.status, info.value.code, info.value.message


def error_bytes(raw: bytes, manifest_=FLAT_BOOLEAN) -> tuple:
    with pytest.raises(InterpreterError) as info:
        interpret_bytes("acme", manifest_, raw)
    return info.value.status, info.value.code, info.value.message


def members_result(*members, manifest_=FLAT_BOOLEAN) -> dict:
    """The changes of a flat body carrying `members`."""
    return interpret("acme", manifest_, body(members=list(members)))["changes"]


# --- the seeds/002 examples -----------------------------------------------------------


def test_seed_boolean_example_gives_two_cohorts():
    assert interpret("acme", BOOLEAN, BOOLEAN_BODY) == {
        "environmentId": "abcd123",
        "contextKind": "organization",
        "changes": [
            {
                "segmentKey": "acme-segment-1234",
                "cohortId": "segment-1234",
                "cohortName": "Segment 1234",
                "cohortUrl": "https://example.com",
                "added": ["user-1234"],
                "removed": [],
            },
            {
                "segmentKey": "acme-segment-12345",
                "cohortId": "segment-12345",
                "cohortName": "Segment 1235",
                "cohortUrl": None,
                "added": [],
                "removed": ["user-5678"],
            },
        ],
    }


def test_seed_named_arrays_example():
    assert interpret("hightouch", NAMED, NAMED_BODY) == {
        "environmentId": "abcd123",
        "contextKind": "user",
        "changes": [
            {
                "segmentKey": "hightouch-segment-1234",
                "cohortId": "segment-1234",
                "cohortName": "Segment 1234",
                "cohortUrl": None,
                "added": ["user-123", "user-456"],
                "removed": ["user-789", "user-101112"],
            }
        ],
    }


def test_seed_action_example_adds():
    assert interpret("amplitude", ACTION, ACTION_BODY) == {
        "environmentId": "abcd123",
        "contextKind": "user",
        "changes": [
            {
                "segmentKey": "amplitude-segment-1234",
                "cohortId": "segment-1234",
                "cohortName": "Segment 1234",
                "cohortUrl": None,
                "added": ["user-1234", "user-5678"],
                "removed": [],
            }
        ],
    }


def test_seed_action_example_removes_when_matcher_fails():
    doc = copy.deepcopy(ACTION_BODY)
    doc["action"] = "remove_members"
    assert interpret("amplitude", ACTION, doc)["changes"] == [
        change(
            "segment-1234",
            "Segment 1234",
            removed=["user-1234", "user-5678"],
            key="amplitude",
        )
    ]


def test_seed_bodies_through_bytes():
    import json

    raw = json.dumps(BOOLEAN_BODY).encode()
    assert interpret_bytes("acme", BOOLEAN, raw) == interpret(
        "acme", BOOLEAN, BOOLEAN_BODY
    )


# --- pointer resolution -------------------------------------------------------------

POINTER_DOC = {
    "a": {"b": 1},
    "a/b": "slash",
    "m~n": "tilde",
    "~1": "tilde-one",
    "": "empty-key",
    "0": "zero-key",
    "l": ["x", "y"],
    "s": "str",
    "n": None,
    "f": False,
    "z": 0,
    "e": "",
    "nested": [[None, {"k": "deep"}]],
}


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("/a/b", 1),
        ("/a", {"b": 1}),
        ("/a~1b", "slash"),
        ("/m~0n", "tilde"),
        ("/~01", "tilde-one"),  # ~01 unescapes to "~1", never to "/"
        ("/", "empty-key"),
        ("/0", "zero-key"),  # a numeric token on an object is a member name
        ("/l/0", "x"),
        ("/l/1", "y"),
        ("/nested/0/1/k", "deep"),
        ("/f", False),
        ("/z", 0),
        ("/e", ""),
        ("/absent", MISSING),
        ("/a/c", MISSING),
        ("/l/2", MISSING),  # out of range
        ("/l/-", MISSING),
        ("/l/-1", MISSING),
        ("/l/01", MISSING),  # leading zero
        ("/l/00", MISSING),
        ("/l/x", MISSING),
        ("/l/ 1", MISSING),
        ("/l/1 ", MISSING),
        ("/l/+1", MISSING),
        ("/l/\u0661", MISSING),  # ARABIC-INDIC DIGIT ONE: int() would take it
        ("/l/99999999999999999999999999", MISSING),
        ("/l/" + "9" * 5000, MISSING),
        ("/s/0", MISSING),  # stepping into a scalar
        ("/z/0", MISSING),
        ("/f/x", MISSING),
        ("/n", MISSING),  # null is no value
        ("/n/x", MISSING),  # stepping into null
        ("/nested/0/0", MISSING),
        ("/nested/0/0/k", MISSING),
    ],
)
def test_resolve(pointer, expected):
    got = resolve(POINTER_DOC, pointer)
    assert got is expected if expected is MISSING else got == expected


def test_resolve_empty_pointer_is_the_node_itself():
    assert resolve(POINTER_DOC, "") is POINTER_DOC
    assert resolve(None, "") is MISSING


# --- id-like values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        (" ", " "),
        (42, "42"),
        (-7, "-7"),
        (0, "0"),
        (2**64 + 1, "18446744073709551617"),
    ],
)
def test_id_like_values(value, expected):
    assert interpret("acme", FLAT_BOOLEAN, body(env=value))["environmentId"] == expected


@pytest.mark.parametrize(
    ("value", "described"),
    [
        ("", "an empty string"),
        (42.0, "a number"),
        (1.5, "a number"),
        (True, "a boolean"),
        (False, "a boolean"),
        ({}, "an object"),
        ([], "an array"),
        (["a"], "an array"),
    ],
)
def test_id_like_invalid(value, described):
    assert error(FLAT_BOOLEAN, body(env=value)) == (
        400,
        "invalid_value",
        'environmentIdPath "/env": expected a non-empty string or an integer, '
        f"got {described}",
    )


@pytest.mark.parametrize("value", [MISSING, None])
def test_id_like_missing_or_null(value):
    assert error(FLAT_BOOLEAN, body(env=value)) == (
        400,
        "missing_value",
        'environmentIdPath "/env": no value in request body',
    )


def test_pointer_in_message_is_json_quoted_without_ascii_escaping():
    m = manifest(
        environmentIdPath='/umgebung/é"\\',
        cohortIdPath="/cid",
        cohortNamePath="/cname",
        memberArrayPath="/members",
        memberArrayParser={"memberIdPath": "/id", "booleanMembershipPath": "/in"},
    )
    assert error(m, body()) == (
        400,
        "missing_value",
        'environmentIdPath "/umgebung/é\\"\\\\": no value in request body',
    )


def test_cohort_id_and_name_errors_name_their_property():
    assert error(FLAT_BOOLEAN, body(cid=MISSING)) == (
        400,
        "missing_value",
        'cohortIdPath "/cid": no value in request body',
    )
    assert error(FLAT_BOOLEAN, body(cname=1.5)) == (
        400,
        "invalid_value",
        'cohortNamePath "/cname": expected a non-empty string or an integer, '
        "got a number",
    )


def test_integer_cohort_id_and_name():
    assert interpret("acme", FLAT_BOOLEAN, body(cid=12, cname=-3)) == result(
        change("12", "-3")
    )


# --- body shape ---------------------------------------------------------------------


@pytest.mark.parametrize("doc", [[], [{}], "x", 1, 1.5, True, None])
def test_body_must_be_an_object(doc):
    assert error(FLAT_BOOLEAN, doc) == (
        400,
        "not_an_object",
        "request body must be a JSON object",
    )


# --- context kind -------------------------------------------------------------------


def test_context_kind_defaults_to_user():
    no_path = manifest(
        environmentIdPath="/env",
        cohortIdPath="/cid",
        cohortNamePath="/cname",
        memberArrayPath="/members",
        memberArrayParser={"memberIdPath": "/id", "booleanMembershipPath": "/in"},
    )
    # without contextKindPath a value at /kind is not even looked at
    assert interpret("acme", no_path, body(kind=5))["contextKind"] == "user"
    assert interpret("acme", FLAT_BOOLEAN, body())["contextKind"] == "user"
    assert interpret("acme", FLAT_BOOLEAN, body(kind=None))["contextKind"] == "user"


@pytest.mark.parametrize(
    "kind", ["organization", "a.b_c-D9", "Kind", "MULTI", "x", "-"]
)
def test_context_kind_valid(kind):
    assert interpret("acme", FLAT_BOOLEAN, body(kind=kind))["contextKind"] == kind


@pytest.mark.parametrize(
    ("value", "described"),
    [(5, "a number"), (True, "a boolean"), ({}, "an object"), (["org"], "an array")],
)
def test_context_kind_not_a_string(value, described):
    assert error(FLAT_BOOLEAN, body(kind=value)) == (
        400,
        "invalid_value",
        f'contextKindPath "/kind": expected a string, got {described}',
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("kind", '"kind"'),
        ("multi", '"multi"'),
        ("", '""'),
        ("org\n", '"org\\n"'),  # `$` would accept the trailing newline
        ("a b", '"a b"'),
        ("a/b", '"a/b"'),
        ("ünï", '"ünï"'),
        ("\uff41", '"\uff41"'),  # FULLWIDTH LATIN SMALL LETTER A
        ('q"', '"q\\""'),
    ],
)
def test_context_kind_invalid(value, shown):
    assert error(FLAT_BOOLEAN, body(kind=value)) == (
        400,
        "invalid_value",
        f'contextKindPath "/kind": {shown} is not a valid context kind',
    )


# --- cohort url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({}, None),
        ({"url": None}, None),
        ({"url": ""}, ""),
        ({"url": "https://x"}, "https://x"),
    ],
)
def test_cohort_url(fields, url):
    assert interpret("acme", FLAT_BOOLEAN, body(**fields)) == result(
        change("c1", "Cohort 1", url)
    )


def test_cohort_url_without_path_is_none():
    assert interpret("acme", FLAT_NAMED, body(url="https://x"))["changes"] == [
        change("c1", "Cohort 1")
    ]


@pytest.mark.parametrize(
    ("value", "described"), [(5, "a number"), (False, "a boolean")]
)
def test_cohort_url_not_a_string(value, described):
    assert error(FLAT_BOOLEAN, body(url=value)) == (
        400,
        "invalid_value",
        f'cohortUrlPath "/url": expected a string, got {described}',
    )


# --- order of evaluation ------------------------------------------------------------


def test_order_body_then_environment_then_kind():
    bad = body(env=MISSING, kind=5, cid=MISSING, cname=MISSING, url=5, members=5)
    assert (
        error(FLAT_BOOLEAN, bad)[2]
        == 'environmentIdPath "/env": no value in request body'
    )
    bad["env"] = "e"
    bad["kind"] = "multi"
    assert error(FLAT_BOOLEAN, bad)[2] == (
        'contextKindPath "/kind": "multi" is not a valid context kind'
    )


def test_order_kind_cohort_id_name_url_members():
    bad = body(kind=5, cid=MISSING, cname=MISSING, url=5, members=5)
    assert (
        error(FLAT_BOOLEAN, bad)[2]
        == 'contextKindPath "/kind": expected a string, got a number'
    )
    bad["kind"] = "org"
    assert (
        error(FLAT_BOOLEAN, bad)[2] == 'cohortIdPath "/cid": no value in request body'
    )
    bad["cid"] = "c"
    assert (
        error(FLAT_BOOLEAN, bad)[2]
        == 'cohortNamePath "/cname": no value in request body'
    )
    bad["cname"] = "n"
    assert (
        error(FLAT_BOOLEAN, bad)[2]
        == 'cohortUrlPath "/url": expected a string, got a number'
    )
    bad["url"] = "u"
    assert (
        error(FLAT_BOOLEAN, bad)[2]
        == 'memberArrayPath "/members": expected an array, got a number'
    )


def test_order_members_in_array_order_id_before_membership():
    members = [{"id": "a", "in": 1}, {"in": True}]
    assert error(FLAT_BOOLEAN, body(members=members))[2] == (
        'member 0 of "/members": memberArrayParser.booleanMembershipPath "/in": '
        "expected true or false, got a number"
    )
    members = [{"id": "a", "in": True}, {"id": [], "in": "yes"}, 5]
    assert error(FLAT_BOOLEAN, body(members=members))[2] == (
        'member 1 of "/members": memberArrayParser.memberIdPath "/id": '
        "expected a non-empty string or an integer, got an array"
    )


# --- boolean mode -------------------------------------------------------------------


@pytest.mark.parametrize("members", [MISSING, None])
def test_boolean_member_array_required(members):
    assert error(FLAT_BOOLEAN, body(members=members)) == (
        400,
        "missing_value",
        'memberArrayPath "/members": no value in request body',
    )


@pytest.mark.parametrize(
    ("members", "described"),
    [
        ({}, "an object"),
        ("", "an empty string"),
        ("a", "a string"),
        (True, "a boolean"),
    ],
)
def test_boolean_member_array_not_a_list(members, described):
    assert error(FLAT_BOOLEAN, body(members=members)) == (
        400,
        "invalid_value",
        f'memberArrayPath "/members": expected an array, got {described}',
    )


def test_boolean_empty_member_array_is_valid():
    assert interpret("acme", FLAT_BOOLEAN, body(kind="org", url="u")) == result(
        change("c1", "Cohort 1", "u"), kind="org"
    )


def test_boolean_add_and_remove():
    assert members_result(
        {"id": "a", "in": True}, {"id": 7, "in": False}, {"id": "b", "in": True}
    ) == [change("c1", "Cohort 1", added=["a", "b"], removed=["7"])]


@pytest.mark.parametrize("member", [5, "a", None, ["a"], True])
def test_member_not_an_object(member):
    assert error(FLAT_BOOLEAN, body(members=[{"id": "a", "in": True}, member])) == (
        400,
        "invalid_member",
        'member 1 of "/members" is not an object',
    )


@pytest.mark.parametrize("member", [{"in": True}, {"id": None, "in": True}])
def test_member_id_missing(member):
    assert error(FLAT_BOOLEAN, body(members=[member])) == (
        400,
        "missing_value",
        'member 0 of "/members": memberArrayParser.memberIdPath "/id": '
        "no value in request body",
    )


@pytest.mark.parametrize(
    ("value", "described"),
    [("", "an empty string"), (1.0, "a number"), (False, "a boolean")],
)
def test_member_id_invalid(value, described):
    assert error(FLAT_BOOLEAN, body(members=[{"id": value, "in": True}])) == (
        400,
        "invalid_value",
        'member 0 of "/members": memberArrayParser.memberIdPath "/id": '
        f"expected a non-empty string or an integer, got {described}",
    )


@pytest.mark.parametrize("member", [{"id": "a"}, {"id": "a", "in": None}])
def test_boolean_membership_missing(member):
    assert error(FLAT_BOOLEAN, body(members=[member])) == (
        400,
        "missing_value",
        'member 0 of "/members": memberArrayParser.booleanMembershipPath "/in": '
        "no value in request body",
    )


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (1, "a number"),
        (0, "a number"),
        (1.0, "a number"),
        ("true", "a string"),
        ("", "an empty string"),
        ([True], "an array"),
        ({}, "an object"),
    ],
)
def test_boolean_membership_invalid(value, described):
    assert error(FLAT_BOOLEAN, body(members=[{"id": "a", "in": value}])) == (
        400,
        "invalid_value",
        'member 0 of "/members": memberArrayParser.booleanMembershipPath "/in": '
        f"expected true or false, got {described}",
    )


def test_member_id_path_empty_pointer_is_the_member():
    m = copy.deepcopy(FLAT_BOOLEAN)
    m["capabilities"]["syncedSegment"]["requestParser"]["memberArrayParser"][
        "memberIdPath"
    ] = ""
    assert error(m, body(members=[{"in": True}])) == (
        400,
        "invalid_value",
        'member 0 of "/members": memberArrayParser.memberIdPath "": '
        "expected a non-empty string or an integer, got an object",
    )


# --- action mode --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "included"),
    [
        ("add", True),
        ("remove", False),
        ("ADD", False),
        ("add\n", False),  # JavaScript `$` does not match before a trailing newline
        (" add", False),
        ("adds", False),
        ("", False),
    ],
)
def test_action_matcher_decides(action, included):
    doc = body(action=action, members=[{"id": "a"}, {"id": 2}])
    ops = {"added": ["a", "2"]} if included else {"removed": ["a", "2"]}
    assert interpret("acme", FLAT_ACTION, doc) == result(
        change("c1", "Cohort 1", **ops)
    )


def test_action_matcher_is_a_search_not_a_full_match():
    m = copy.deepcopy(FLAT_ACTION)
    m["capabilities"]["syncedSegment"]["requestParser"]["arrayInclusion"][
        "matcher"
    ] = "add"
    doc = body(action="please_add_them", members=[{"id": "a"}])
    assert interpret("acme", m, doc)["changes"] == [
        change("c1", "Cohort 1", added=["a"])
    ]
    doc = body(action="please_ADD_them", members=[{"id": "a"}])
    assert interpret("acme", m, doc)["changes"] == [
        change("c1", "Cohort 1", removed=["a"])
    ]


def test_action_ignores_boolean_membership_path():
    # FLAT_ACTION also has booleanMembershipPath "/in": never read, never checked.
    doc = body(action="add", members=[{"id": "a", "in": False}, {"id": "b", "in": "x"}])
    assert interpret("acme", FLAT_ACTION, doc)["changes"] == [
        change("c1", "Cohort 1", added=["a", "b"])
    ]


@pytest.mark.parametrize("action", [MISSING, None])
def test_action_missing(action):
    assert error(FLAT_ACTION, body(action=action)) == (
        400,
        "missing_value",
        'arrayInclusion.path "/action": no value in request body',
    )


@pytest.mark.parametrize(
    ("action", "described"),
    [(1, "a number"), (True, "a boolean"), (["add"], "an array"), ({}, "an object")],
)
def test_action_not_a_string(action, described):
    assert error(FLAT_ACTION, body(action=action)) == (
        400,
        "invalid_value",
        f'arrayInclusion.path "/action": expected a string, got {described}',
    )


def test_action_checked_before_member_array():
    assert error(FLAT_ACTION, body(action=MISSING, members=MISSING))[2] == (
        'arrayInclusion.path "/action": no value in request body'
    )
    assert error(FLAT_ACTION, body(action=5, members=[5]))[2] == (
        'arrayInclusion.path "/action": expected a string, got a number'
    )


def test_action_member_array_rules_as_boolean_mode():
    assert error(FLAT_ACTION, body(action="add", members=None)) == (
        400,
        "missing_value",
        'memberArrayPath "/members": no value in request body',
    )
    assert error(FLAT_ACTION, body(action="add", members={"id": "a"})) == (
        400,
        "invalid_value",
        'memberArrayPath "/members": expected an array, got an object',
    )
    assert error(FLAT_ACTION, body(action="add", members=[{"id": "a"}, []])) == (
        400,
        "invalid_member",
        'member 1 of "/members" is not an object',
    )
    assert interpret("acme", FLAT_ACTION, body(action="add")) == result(
        change("c1", "Cohort 1")
    )


# --- named arrays mode --------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{}, {"add": None, "remove": None}, {"add": [], "remove": []}, {"add": None}],
)
def test_named_arrays_missing_or_null_are_empty(fields):
    assert interpret("acme", FLAT_NAMED, body(**fields)) == result(
        change("c1", "Cohort 1")
    )


def test_named_arrays_add_then_remove():
    doc = body(
        add=[{"id": "a"}, {"id": "b"}, {"id": "a"}], remove=[{"id": "c"}, {"id": "a"}]
    )
    assert interpret("acme", FLAT_NAMED, doc)["changes"] == [
        change("c1", "Cohort 1", added=["b"], removed=["a", "c"])
    ]


def test_named_arrays_only_remove():
    doc = body(remove=[{"id": 5}])
    assert interpret("acme", FLAT_NAMED, doc)["changes"] == [
        change("c1", "Cohort 1", removed=["5"])
    ]


def test_named_arrays_not_lists():
    assert error(FLAT_NAMED, body(add={}, remove="x")) == (
        400,
        "invalid_value",
        'addMemberArrayPath "/add": expected an array, got an object',
    )
    assert error(FLAT_NAMED, body(add=[], remove="x")) == (
        400,
        "invalid_value",
        'removeMemberArrayPath "/remove": expected an array, got a string',
    )


def test_named_arrays_both_checked_before_members():
    assert error(FLAT_NAMED, body(add=[5], remove=0)) == (
        400,
        "invalid_value",
        'removeMemberArrayPath "/remove": expected an array, got a number',
    )


def test_named_arrays_member_errors_name_their_array():
    assert error(FLAT_NAMED, body(add=[{"id": "a"}], remove=[{"id": "b"}, "c"])) == (
        400,
        "invalid_member",
        'member 1 of "/remove" is not an object',
    )
    assert error(FLAT_NAMED, body(add=[{"id": "a"}, {"id": ""}])) == (
        400,
        "invalid_value",
        'member 1 of "/add": memberArrayParser.memberIdPath "/id": '
        "expected a non-empty string or an integer, got an empty string",
    )
    assert error(FLAT_NAMED, body(add=[{"id": "a"}], remove=[{}])) == (
        400,
        "missing_value",
        'member 0 of "/remove": memberArrayParser.memberIdPath "/id": '
        "no value in request body",
    )


def test_named_arrays_add_errors_come_before_remove_errors():
    assert error(FLAT_NAMED, body(add=[{"id": "a"}, 1], remove=[2])) == (
        400,
        "invalid_member",
        'member 1 of "/add" is not an object',
    )


# --- operation order ----------------------------------------------------------------


def test_last_operation_wins_and_first_position_is_kept():
    changes = members_result(
        {"id": "a", "in": True},
        {"id": "b", "in": True},
        {"id": "a", "in": False},
        {"id": "c", "in": True},
        {"id": "a", "in": True},
    )
    assert changes == [change("c1", "Cohort 1", added=["a", "b", "c"])]


def test_removed_in_order_of_first_appearance():
    changes = members_result(
        {"id": "a", "in": True},
        {"id": "b", "in": False},
        {"id": "a", "in": False},
    )
    assert changes == [change("c1", "Cohort 1", removed=["a", "b"])]


def test_integer_and_string_member_ids_are_the_same_member():
    changes = members_result({"id": 7, "in": True}, {"id": "7", "in": False})
    assert changes == [change("c1", "Cohort 1", removed=["7"])]


def test_duplicates_appear_once():
    changes = members_result({"id": "a", "in": False}, {"id": "a", "in": False})
    assert changes == [change("c1", "Cohort 1", removed=["a"])]


# --- per-member cohort overrides ----------------------------------------------------


def test_overrides_split_cohorts_in_order_of_first_appearance():
    doc = body(
        url="https://c1",
        members=[
            {"id": "a", "in": True, "cohort": "c2", "name": "Two"},
            {"id": "b", "in": True, "cohort": "c3", "name": "Three"},
            {"id": "c", "in": False, "cohort": "c2", "name": "Renamed"},
            {"id": "d", "in": True},
            {"id": "a", "in": False, "cohort": "c3"},
        ],
    )
    assert interpret("acme", OVERRIDES, doc) == result(
        change("c1", "Cohort 1", "https://c1", added=["d"]),
        change("c2", "Two", added=["a"], removed=["c"]),
        change("c3", "Three", added=["b"], removed=["a"]),
    )


def test_request_level_cohort_first_even_without_members():
    doc = body(members=[{"id": "a", "in": True, "cohort": "c2"}])
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1"),
        change("c2", "Cohort 1", added=["a"]),  # no name override: request-level name
    ]


@pytest.mark.parametrize("cohort", [MISSING, None, "", 1.5, True, False, {}, ["c2"]])
def test_override_id_not_id_like_uses_request_cohort(cohort):
    member = {"id": "a", "in": True, "cohort": cohort, "name": "Other"}
    if cohort is MISSING:
        del member["cohort"]
    doc = body(members=[member])
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1", added=["a"])
    ]


@pytest.mark.parametrize("name", [None, "", 2.5, True, {}, []])
def test_override_name_not_id_like_uses_request_name(name):
    doc = body(members=[{"id": "a", "in": True, "cohort": "c2", "name": name}])
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1"),
        change("c2", "Cohort 1", added=["a"]),
    ]


def test_override_integer_id_and_name_are_normalized():
    doc = body(
        members=[
            {"id": "a", "in": True, "cohort": 12, "name": 34},
            {"id": "b", "in": True, "cohort": "12", "name": "ignored"},
        ]
    )
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1"),
        change("12", "34", added=["a", "b"]),
    ]


def test_override_of_request_cohort_keeps_its_name_and_url():
    doc = body(
        url="u", members=[{"id": "a", "in": True, "cohort": "c1", "name": "New"}]
    )
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1", "u", added=["a"])
    ]


def test_override_cohort_equal_to_request_cohort_as_integer():
    doc = body(cid=5, members=[{"id": "a", "in": True, "cohort": "5", "name": "New"}])
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("5", "Cohort 1", added=["a"])
    ]


def test_overrides_in_named_mode():
    doc = body(
        add=[{"id": "a", "cohort": "c2", "name": "Two"}, {"id": "b"}],
        remove=[{"id": "a", "cohort": "c2"}, {"id": "c", "cohort": "c3"}],
    )
    assert interpret("acme", FLAT_NAMED, doc)["changes"] == [
        change("c1", "Cohort 1", added=["b"]),
        change("c2", "Two", removed=["a"]),
        change("c3", "Cohort 1", removed=["c"]),
    ]


def test_overrides_in_action_mode():
    m = copy.deepcopy(FLAT_ACTION)
    member_parser = m["capabilities"]["syncedSegment"]["requestParser"][
        "memberArrayParser"
    ]
    member_parser["cohortIdPath"] = "/meta/cohort"
    doc = body(
        action="remove", members=[{"id": "a", "meta": {"cohort": "c9"}}, {"id": "b"}]
    )
    assert interpret("acme", m, doc)["changes"] == [
        change("c1", "Cohort 1", removed=["b"]),
        change("c9", "Cohort 1", removed=["a"]),
    ]


def test_override_values_are_never_errors():
    doc = body(members=[{"id": "a", "in": True, "cohort": [1], "name": {"x": 1}}])
    assert interpret("acme", OVERRIDES, doc)["changes"] == [
        change("c1", "Cohort 1", added=["a"])
    ]


# --- segment key --------------------------------------------------------------------


def test_segment_key_uses_the_integration_key_as_given():
    doc = body(members=[{"id": "a", "in": True, "cohort": 7}])
    assert [
        c["segmentKey"] for c in interpret("Acme.IO_x", OVERRIDES, doc)["changes"]
    ] == [
        "Acme.IO_x-c1",
        "Acme.IO_x-7",
    ]


def test_result_key_order():
    got = interpret("acme", BOOLEAN, BOOLEAN_BODY)
    assert list(got) == ["environmentId", "contextKind", "changes"]
    assert list(got["changes"][0]) == [
        "segmentKey",
        "cohortId",
        "cohortName",
        "cohortUrl",
        "added",
        "removed",
    ]


def test_interpret_does_not_modify_its_inputs():
    doc, m = copy.deepcopy(BOOLEAN_BODY), copy.deepcopy(BOOLEAN)
    interpret("acme", m, doc)
    assert (doc, m) == (BOOLEAN_BODY, BOOLEAN)


# --- body decoding (interpret_bytes) ------------------------------------------------

FLAT_OK = b'{"env": "e1", "cid": "c1", "cname": "Cohort 1", "members": []}'


def test_bytes_valid_body():
    assert interpret_bytes("acme", FLAT_BOOLEAN, FLAT_OK) == result(
        change("c1", "Cohort 1")
    )


def test_bytes_whitespace_around_the_body():
    assert interpret_bytes(
        "acme", FLAT_BOOLEAN, b" \t\r\n" + FLAT_OK + b"\n "
    ) == result(change("c1", "Cohort 1"))


def test_bytes_one_leading_bom_is_skipped():
    assert interpret_bytes("acme", FLAT_BOOLEAN, b"\xef\xbb\xbf" + FLAT_OK) == result(
        change("c1", "Cohort 1")
    )


def test_bytes_second_bom_is_not_json():
    assert error_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + FLAT_OK) == (
        400,
        "invalid_json",
        "request body is not valid JSON",
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff{}",
        b'{"env": "\xc3"}',
        b"\xef\xbb\xbf\xfe",
        b'{"env": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8 is not UTF-8
        b"\xef\xbb",  # a truncated BOM
        b'{"env": "e\xc0\xaf"}',  # overlong encoding
    ],
)
def test_bytes_not_utf8(raw):
    assert error_bytes(raw) == (
        400,
        "invalid_encoding",
        "request body is not valid UTF-8",
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" ",
        b"\xef\xbb\xbf",
        b"{",
        b"{} x",
        b"{}{}",
        b"{'env': 'e1'}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"NaN",
        b'{"a": 01}',
        b'{"a": 1.}',
        b'{"a": .5}',
        b'{"a": +1}',
        b'{"a": [1,]}',
        b'{"a": 1,}',
        b'{"a": "tab\there"}',  # a raw control character inside a string
        b'{"a": "\\x41"}',
        b'{"a": true, }',
        b"\x00{}",
    ],
)
def test_bytes_not_json(raw):
    assert error_bytes(raw) == (400, "invalid_json", "request body is not valid JSON")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"env": "\\ud800"}',
        b'{"env": "e1", "x": ["a", "\\udfff"]}',
        b'{"\\udc00": 1}',  # in a key
        b'{"x": {"y": [{"\\ud83dz": 1}]}}',
        b'{"x": "\\ude00\\ud83d"}',  # a pair in the wrong order is two unpaired halves
        b'{"x": "\\ud83d\\u0041"}',
        b'"\\ud800"',  # checked before the top-level type
    ],
)
def test_bytes_unpaired_surrogate(raw):
    assert error_bytes(raw) == (
        400,
        "invalid_json",
        "request body contains an unpaired surrogate escape",
    )


def test_bytes_surrogate_pair_is_fine():
    raw = b'{"env": "\\ud83d\\ude00", "cid": "c\\u00e9", "cname": "n", "members": []}'
    assert interpret_bytes("acme", FLAT_BOOLEAN, raw) == result(
        change("c\u00e9", "n"), env="\U0001f600"
    )


def test_bytes_too_deep():
    depth = 100_000
    raw = b'{"x": ' + b"[" * depth + b"]" * depth + b"}"
    assert error_bytes(raw) == (400, "too_deep", "request body is nested too deeply")


def test_bytes_64_levels_parse():
    nested = b"[" * 63 + b"1" + b"]" * 63  # 64 levels with the top-level object
    raw = FLAT_OK[:-1] + b', "deep": ' + nested + b"}"
    assert interpret_bytes("acme", FLAT_BOOLEAN, raw) == result(
        change("c1", "Cohort 1")
    )


def test_bytes_top_level_not_an_object():
    assert error_bytes(b"[]") == (
        400,
        "not_an_object",
        "request body must be a JSON object",
    )
    assert error_bytes(b"null") == (
        400,
        "not_an_object",
        "request body must be a JSON object",
    )


def test_bytes_duplicate_keys_last_wins():
    raw = b'{"env": "first", "env": "second", "cid": "c1", "cname": "n", "members": []}'
    assert interpret_bytes("acme", FLAT_BOOLEAN, raw)["environmentId"] == "second"
    raw = b'{"env": "e", "env": null, "cid": "c1", "cname": "n", "members": []}'
    assert error_bytes(raw) == (
        400,
        "missing_value",
        'environmentIdPath "/env": no value in request body',
    )


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (b"42", "42"),
        (b"-7", "-7"),
        (b"-0", "0"),
        (b"0", "0"),
        (b"9007199254740993", "9007199254740993"),  # 2**53 + 1, not rounded
        (b"123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)
def test_bytes_integer_literals_are_ids(literal, expected):
    raw = b'{"env": ' + literal + b', "cid": "c1", "cname": "n", "members": []}'
    assert interpret_bytes("acme", FLAT_BOOLEAN, raw)["environmentId"] == expected


@pytest.mark.parametrize(
    "literal", [b"42.0", b"4.2e1", b"42e0", b"1E2", b"-0.0", b"1e400"]
)
def test_bytes_non_integer_numbers_are_not_ids(literal):
    raw = b'{"env": ' + literal + b', "cid": "c1", "cname": "n", "members": []}'
    assert error_bytes(raw) == (
        400,
        "invalid_value",
        'environmentIdPath "/env": expected a non-empty string or an integer, '
        "got a number",
    )


def test_bytes_true_is_not_an_integer_id():
    raw = b'{"env": true, "cid": "c1", "cname": "n", "members": []}'
    assert error_bytes(raw)[2] == (
        'environmentIdPath "/env": expected a non-empty string or an integer, '
        "got a boolean"
    )


def test_bytes_integer_past_python_digit_limit_is_a_400():
    # CPython 3.11+ refuses integer literals longer than sys.get_int_max_str_digits()
    # (4300); such a body is refused with a 400 that says why, never a 500.
    raw = b'{"env": ' + b"1" * 5000 + b', "cid": "c1", "cname": "n", "members": []}'
    assert error_bytes(raw) == (
        400,
        "invalid_json",
        "request body has an integer of more than 4300 digits",
    )
