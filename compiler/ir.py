"""IR: what one generated parser module does, decided and ready to emit.

Every string field named `*_literal` is already a Python literal (made with `repr`), so templates
never escape anything; `comment` fields are single printable lines safe after `#`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Union

BOOLEAN = "boolean"  # a true/false per member
ACTION = "action"  # one action string for the whole batch
NAMED = "named"  # separate add and remove arrays


@dataclass(frozen=True)
class Step:
    """One pointer token: an object member name, and also an array index when it is one."""

    key_literal: str
    index: Optional[int]


@dataclass(frozen=True)
class Read:
    """One manifest property's pointer, split into steps, with its wording for messages."""

    steps: tuple[Step, ...]
    label_literal: str  # the property and quoted pointer, as error messages say them
    comment: str


@dataclass(frozen=True)
class MemberArray:
    """A member array and, for named arrays, whether its members are added."""

    read: Read
    variable: str  # the Python name of the array in the generated code
    ids_variable: str  # the Python name of its members' ids (a dict of them, in order)
    quoted_literal: str  # the quoted pointer, for "member 3 of "/batch" ..." messages
    included: Optional[bool]  # None: decided per member or by the action
    included_code: str  # the expression of a member's membership: True, False, included
    # What the loop over a request's only cohort fills with its members: the dict's name,
    # its values' type, and the statement that records one member in it.
    collected: str
    collected_type: str
    collect_member: str


@dataclass(frozen=True)
class Matcher:
    """arrayInclusion.matcher, translated from JavaScript to Python `re`."""

    comment: str
    pattern_literal: str
    # The runtime function that tests an action the way JavaScript does, or None when
    # searching the action as it is gives the same answer (jsregex.subject_form).
    test_function: Optional[str]


@dataclass(frozen=True)
class FastPath:
    """Member pointers of one token each, read for a whole array at once.

    All literals; membership_key in boolean mode, cohort_key with per-member overrides.
    """

    member_id_key: str
    membership_key: Optional[str]
    cohort_key: Optional[str]
    name_key: str  # the cohortNamePath override's literal, or "None"
    min_members: int  # arrays with fewer members take the exact loop
    comment: str  # what the C-level checks vouch for, for the generated comment


@dataclass(frozen=True)
class ParserModule:
    """Everything one integration's generated parser needs."""

    key: str
    key_literal: str
    module_name: str
    source: str  # manifest path for the header
    sha256: str
    mode: str  # BOOLEAN, ACTION or NAMED
    environment_id: Read
    context_kind: Optional[Read]
    cohort_id: Read
    cohort_name: Read
    cohort_url: Optional[Read]
    arrays: tuple[MemberArray, ...]  # one array, or add then remove
    member_id: Read
    membership: Optional[Read]  # BOOLEAN mode
    action: Optional[Read]  # ACTION mode
    matcher: Optional[Matcher]  # ACTION mode
    member_cohort_id: Optional[Read]
    member_cohort_name: Optional[Read]
    fast: Optional[FastPath]  # None: the exact loop alone (a pointer of several tokens)
    response: Optional[ResponseTemplate]  # the compiled jsonResponseBody


@dataclass(frozen=True)
class Registry:
    """The generated package's key -> module table."""

    entries: tuple[
        tuple[str, str], ...
    ]  # (key literal, module name literal), sorted by key


# --- jsonResponseBody: a Handlebars template as a tree of output steps ------------------


@dataclass(frozen=True)
class Text:
    """Literal template text, output as it is."""

    kind: ClassVar[str] = "text"
    literal: str
    value: str


@dataclass(frozen=True)
class Output:
    """A mustache: a value printed as handlebars.js prints it."""

    kind: ClassVar[str] = "output"
    expression: str  # Python expression of the value
    escaped: bool  # {{x}} is HTML-escaped; {{{x}}} is not
    in_string: bool  # inside a JSON string literal of the template text
    comment: str


@dataclass(frozen=True)
class Conditional:
    """#if or #unless, with its else branch (possibly empty)."""

    kind: ClassVar[str] = "conditional"
    expression: str
    negated: bool  # #unless
    then: tuple[ResponseNode, ...]
    otherwise: tuple[ResponseNode, ...]
    comment: str


@dataclass(frozen=True)
class Each:
    """#each over an array or an object's keys; the else branch when nothing iterates."""

    kind: ClassVar[str] = "each"
    expression: str
    items: str  # the generated list of (item, @index, @key, @first, @last)
    targets: str  # the for-loop target, e.g. "c1, index1, _, _, _"
    body: tuple[ResponseNode, ...]
    otherwise: tuple[ResponseNode, ...]
    comment: str


@dataclass(frozen=True)
class With:
    """#with: a new context for its body, or the else branch when the value is empty."""

    kind: ClassVar[str] = "with"
    expression: str
    context: str
    body: tuple[ResponseNode, ...]
    otherwise: tuple[ResponseNode, ...]
    comment: str


@dataclass(frozen=True)
class Run:
    """Straight-line text and mustaches of the plain rendering, checked and emitted at once.

    Every name holds one mustache's value; `strings` must be str needing no escaping
    (`escaped_check`/`raw_check` concatenate them for one search each), `scalars` must be
    integers or booleans. `concatenation` joins literals and names into the output.
    """

    kind: ClassVar[str] = "run"
    reads: tuple[tuple[str, str, str], ...]  # (name, expression, comment)
    strings: tuple[str, ...]
    escaped_check: str
    raw_check: str
    scalars: tuple[str, ...]
    concatenation: str


ResponseNode = Union[Text, Output, Conditional, Each, With, Run]


@dataclass(frozen=True)
class ResponseTemplate:
    """A compiled jsonResponseBody."""

    body: tuple[ResponseNode, ...]
    source_comment: str  # the template, for the generated function's comment
    proven: bool  # renders valid JSON whenever all values are plain (jsonproof)
    plain_body: tuple[ResponseNode, ...]  # body with straight-line stretches as Runs
