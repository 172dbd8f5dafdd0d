"""Record node's answers for `new RegExp(pattern).test(input)` in js_regex_cases.json.

    python tests/data/record_js_regex.py    # needs `node` on PATH; rewrites the JSON

tests/test_jsregex.py replays the recording against compiler/jsregex.py. Inputs are the
shared TRICKY_INPUTS plus, per pattern, hand-picked extras and strings from a generator
seeded by the pattern itself, so re-running gives the same file unless node changes.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_SCRIPT = HERE / "record_js_regex.mjs"
OUTPUT = HERE / "js_regex_cases.json"
RANDOM_INPUTS_PER_PATTERN = 48

# Strings every pattern is tested against: line terminators, non-ASCII look-alikes of \d
# \w \s characters, case-folding traps, astral characters and lone surrogates, partner
# values.
TRICKY_INPUTS = [
    "",
    "\n",
    "a\n",
    "\na",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\u0085",
    "\t",
    "\v",
    "\f",
    " ",
    "\u00a0",
    "\u1680",
    "\u180e",
    "\u2000",
    "\u200a",
    "\u200b",
    "\u202f",
    "\u205f",
    "\u3000",
    "\ufeff",
    "\x00",
    "\x08",
    "\x01",
    "é",
    "١",
    "٣",
    "²",
    "ß",
    "ſ",
    "\u212a",
    "K",
    "k",
    "ǅ",
    "😀",
    "a😀b",
    "\ud83d",
    "\ude00",
    "\ude00\ud83d",
    "x\ud83d",
    "add",
    "add ",
    " add",
    "add\n",
    "ADD",
    "Add",
    "addd",
    "add_member",
    "remove_member",
    "add_member\n",
    "add_members",
    "members",
    "member",
    "add_memberremove_member",
    "x add_member",
    "a",
    "b",
    "c",
    "aa",
    "ab",
    "abc",
    "aaa",
    "bc",
    "_",
    "0",
    "9",
    "z",
    "Z",
    "{",
    "}",
    "]",
    "[",
    "-",
    "\\",
    "^",
    "$",
    ".",
    "{1}",
    "a{",
    "a{,5}",
    "k<a>",
    "foo bar",
    "foo_bar",
]


# (pattern, extra inputs). Grouped by construct; the JS SyntaxError ones are recorded
# too.
PATTERNS: list[tuple[str, list[str]]] = [
    # The partner matchers seen in manifests.
    (r"^add$", []),
    (r"^add_member$", []),
    (r"^(add_member|remove_member)$", []),
    (r"^(members|add_members)$", []),
    # Literals, and characters that are special to Python but literal in JavaScript.
    ("", []),
    ("a", []),
    ("abc", []),
    ("a b", ["a b", "ab"]),
    ("#", ["#"]),
    ("a#b", ["a#b"]),
    ("a\nb", ["a\nb"]),
    ("&~%,=!<>:/'\"", ["&~%,=!<>:/'\""]),
    ("é", ["é", "e\u0301"]),
    ("😀", []),
    ("😀+", ["😀\ude00\ude00", "\ud83d\ude00\ud83d"]),
    ("^😀$", []),
    ("^\ud83d", []),
    ("\ude00$", []),
    (r"\\", []),
    (r"\/", ["/"]),
    (r"\-", []),
    (r"\.", []),
    (r"\*\+\?", ["*+?"]),
    (r"\$\^", ["$^"]),
    (r"\(\)\[\]\{\}\|", ["()[]{}|"]),
    # Python-only syntax: the first few are JS syntax errors, the rest are literal in
    # JS.
    (r"(?P<a>x)", []),
    (r"(?P=a)", []),
    (r"(?#comment)", []),
    (r"(?>a)", []),
    (r"(?i)a", []),
    (r"(?i:a)", []),
    (r"(?-i:a)", []),
    (r"(?m)^a", []),
    (r"(?s).", []),
    (r"(?x)a b", []),
    (r"\A", ["A"]),
    (r"\Z", ["Z"]),
    (r"\z", []),
    (r"\G", ["G"]),
    (r"\Q.\E", ["Q.E", "QxE"]),
    (r"\N{LATIN SMALL LETTER A}", ["N{LATIN SMALL LETTER A}"]),
    (r"\U00000041", ["U00000041", "A"]),
    (r"\h\R\X\K\L\l", ["hRXKLl"]),
    (r"[[:alpha:]]", ["a]", ":]", "[]"]),
    (r"[a&&b]", ["&"]),
    (r"[a--b]", []),
    (r"[a||b]", ["|"]),
    (r"[a~~b]", ["~"]),
    # Anchors.
    (r"^", []),
    (r"$", []),
    (r"^$", []),
    (r"^a", []),
    (r"a$", []),
    (r"a$b", []),
    (r"^^a$$", []),
    (r"$^", []),
    (r"(^a|b$)", []),
    (r"\n$", []),
    (r"^\n", []),
    # Dot.
    (r".", []),
    (r"^.$", []),
    (r"^..$", []),
    (r"a.c", ["a\nc", "a\u2028c", "a\u0085c", "a c"]),
    (r"^.*$", ["a\u2028", "abc\r"]),
    (r".+", []),
    # Class escapes and word boundaries.
    (r"\d", []),
    (r"\D", []),
    (r"^\d+$", ["123", "12a", "١٢٣"]),
    (r"\w", []),
    (r"^\w+$", ["add_member", "ſk", "é"]),
    (r"\W", []),
    (r"\s", []),
    (r"^\s+$", ["\t\n\v\f\r \u00a0\u2028\ufeff"]),
    (r"\S", []),
    (r"\b", []),
    (r"\B", []),
    (r"\bfoo\b", ["foo", "foo.", "xfoo", "foo_", "éfooé", "ſfoo"]),
    (r"a\Bb", ["ab", "a b"]),
    (r"\b\B", []),
    (r"^\b", []),
    (r"\b$", []),
    (r"\Ba", ["ba", "_a", " a", "éa"]),
    # Character classes.
    (r"[abc]", []),
    (r"[^abc]", []),
    (r"[a-z]", []),
    (r"^[^a-z]$", []),
    (r"[]", []),
    (r"[^]", []),
    (r"a[]", []),
    (r"a[]*", []),
    (r"a[]+", []),
    (r"^[^]+$", []),
    (r"^[^]$", []),
    (r"[a-]", []),
    (r"[-a]", []),
    (r"[a-z-]", []),
    (r"[\d-z]", ["-", "5", "y"]),
    (r"[a-\d]", ["-", "5", "b"]),
    (r"[\w-\d]", ["-", "5", "."]),
    (r"[\s\S]", []),
    (r"[\D\d]", []),
    (r"[^\d\D]", []),
    (r"[^\W]", []),
    (r"[\b]", ["\x08", "b"]),
    (r"[\B]", ["B"]),
    (r"[\-]", []),
    (r"[\]]", []),
    (r"[]]", ["]"]),
    (r"[[]", []),
    (r"[a[]]", ["a]", "[]"]),
    (r"[\^]", []),
    (r"[^^]", []),
    (r"[z-a]", []),
    (r"[\x41-\x5a]", ["A", "M", "Z", "a"]),
    (r"[\u0041-\u005A]", ["A", "M", "Z", "a"]),
    (r"[\cJ]", []),
    (r"[\c1]", ["\x11", "1", "c"]),
    (r"[\c_]", ["\x1f", "_"]),
    (r"[\c]", ["c"]),
    (r"[\c-a]", []),
    (r"[\c*]", ["*", "c"]),
    (r"[\0]", []),
    (r"[\1]", []),
    (r"[\12]", []),
    (r"[\400]", ["\x20", "0"]),
    (r"[\8]", ["8"]),
    (r"[😀]", []),
    (r"^[😀]$", []),
    (r"^[😀]{2}$", ["\ude00\ud83d"]),
    (r"[😀-😁]", []),
    (r"^[\ud800-\udfff]+$", []),
    (r"[.]", []),
    (r"[$^]", []),
    (r"[\n-\r]", []),
    (r"[a-a]", []),
    (r"[\s]", []),
    (r"[^\s]", []),
    (r"[\k]", ["k"]),
    (r"[\p{L}]", ["p", "{", "L", "}"]),
    (r"[\u{41}]", ["u", "{", "4", "1", "}", "A"]),
    # Character escapes.
    (r"\x41", ["A"]),
    (r"\x4", ["x4"]),
    (r"\xg1", ["xg1"]),
    (r"\u0041", ["A"]),
    (r"\u004", ["u004"]),
    (r"\u{41}", ["u{41}", "u" * 41, "u" * 40]),
    (r"^\u{2}$", ["uu", "u"]),
    (r"\ud83d", []),
    (r"^\ud83d\ude00$", []),
    (r"\cA", ["\x01"]),
    (r"\cj", ["\n"]),
    (r"\c1", ["\\c1"]),
    (r"\c", ["\\c"]),
    (r"a\c", ["a\\c"]),
    (r"\c*", ["\\", "\\ccc"]),
    (r"\0", []),
    (r"\00", []),
    (r"\01", ["\x01"]),
    (r"\08", ["\x008", "8"]),
    (r"\012", []),
    (r"\0123", ["\n3", "\x0a"]),
    (r"\1", ["\x01"]),
    (r"\12", []),
    (r"\18", ["\x018"]),
    (r"\377", ["\xff"]),
    (r"\400", ["\x200", " 0"]),
    (r"\8", ["8"]),
    (r"\9", ["9"]),
    (r"\a\e\g\i\j\l\m\o\q\y\z", ["aegijlmoqyz"]),
    (r"\p{L}", ["p{L}"]),
    (r"\P{L}", ["P{L}"]),
    (r"\k", []),
    (r"\k<a>", []),
    (r"\_", []),
    (r"\ ", []),
    (r"\é", []),
    (r"\😀", []),
    (r"\f\v\t\n\r", ["\f\v\t\n\r"]),
    (r"(a)\2", ["a\x02"]),
    (r"(a)\10", ["a\x08"]),
    ("\\", []),
    # Groups.
    (r"(a)", []),
    (r"(?:a)", []),
    (r"(a)|b", []),
    (r"(?:)", []),
    (r"()", []),
    (r"(|a)", []),
    (r"((a))", []),
    (r"(?<name>a)", []),
    (r"(?<$a>x)", ["x"]),
    (r"(?<_a1>x)", ["x"]),
    (r"(?<é>x)", ["x"]),
    (r"(?<\u0061>x)", ["x"]),
    (r"(?<1a>x)", []),
    (r"(?<a-b>x)", []),
    (r"(?<>x)", []),
    (r"(?<a>x)(?<a>y)", []),
    (r"(?<a>x)|(?<a>y)", []),
    (r"(?<a", []),
    (r"(?<a>x", []),
    (r"(?", []),
    (r"(?:", []),
    (r"(?=", []),
    (r"(", []),
    (r")", []),
    (r"a)", []),
    (r"(a", []),
    (r"(a))", []),
    (r"(?<a>x)\k<b>", []),
    (r"(?<a>x)\k", []),
    (r"(?<a>x)\k<a", []),
    (r"(?<a>x)[\k]", []),
    # Backreferences: valid JavaScript, refused by translate().
    (r"(a)\1", []),
    (r"(a)|\1b", []),
    (r"\1(a)", []),
    (r"(a\1)", []),
    (r"(?:(a)|b)\1", []),
    (r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10", []),
    (r"(?<a>x)\k<a>", []),
    (r"\k<a>(?<a>x)", []),
    # Lookarounds.
    (r"(?=a)", []),
    (r"(?!a)", []),
    (r"a(?=b)", []),
    (r"a(?!b)", []),
    (r"(?=a)*", []),
    (r"(?=a)+", []),
    (r"(?=a)?b", []),
    (r"(?=a){2}", []),
    (r"(?=a){0}b", []),
    (r"(?!a)*b", []),
    (r"(?=a)*?", []),
    (r"(?!a)+b", []),
    (r"(?<=a)b", []),
    (r"(?<!a)b", []),
    (r"(?<=ab)c", ["abc"]),
    (r"(?<=a|bc)d", ["ad", "bcd", "cd"]),
    (r"(?<!a|bc)d", ["ad", "bcd", "cd", "d"]),
    (r"(?<=a{2})b", ["aab", "ab"]),
    (r"(?<=\b)a", []),
    (r"(?<=^)a", []),
    (r"(?<=(?=a)a)", []),
    (r"(?<=(a))b", []),
    (r"(?<=[]a)b", []),
    (r"(?<=.)$", []),
    (r"(?<=😀)b", ["😀b"]),
    (r"(?<=a+)b", []),
    (r"(?<=a*)b", []),
    (r"(?<=a?)b", []),
    (r"(?<=(?:a|bc))d", []),
    (r"(?<=a{1,2})b", []),
    (r"(?<=a)*", []),
    (r"(?<!a)+", []),
    (r"(?<=(?=a)*b)c", ["bc", "abc"]),
    (r"(?<!^)a", ["a", "ba"]),
    (r"(?<=\d{3})x", ["123x", "12x"]),
    (r"(?<=[\s\S])$", []),
    # Quantifiers.
    (r"a*", []),
    (r"a+", []),
    (r"a?", []),
    (r"^a{2}$", []),
    (r"^a{2,}$", ["aaaa"]),
    (r"^a{2,3}$", ["aaaa"]),
    (r"^a*?$", []),
    (r"a+?", []),
    (r"^a??$", []),
    (r"a{2}?", []),
    (r"a{2,}?", []),
    (r"a**", []),
    (r"a*+", []),
    (r"a+*", []),
    (r"a???", []),
    (r"a{2}{3}", []),
    (r"*", []),
    (r"+", []),
    (r"?", []),
    (r"{1}", []),
    (r"{1,}", []),
    (r"a|*", []),
    (r"(*)", []),
    (r"^*", []),
    (r"$+", []),
    (r"\b*", []),
    (r"\B+", []),
    (r"a{", ["a{"]),
    (r"a{1", ["a{1"]),
    (r"a{1,", ["a{1,"]),
    (r"a{1,2", ["a{1,2"]),
    (r"a{,5}", []),
    (r"a{,}", ["a{,}"]),
    (r"a{ 1}", ["a{ 1}"]),
    (r"a{1,x}", ["a{1,x}"]),
    (r"{", []),
    (r"}", []),
    (r"a}", ["a}"]),
    (r"{}", ["{}"]),
    (r"{a}", ["{a}"]),
    (r"^{*$", ["{{{"]),
    (r"]+", ["]]"]),
    (r"x{2,1}", []),
    (r"{2,1}", []),
    (r"x{99999999999}", ["x"]),
    (r"x{0,99999999999}", []),
    (r"^x{2147483647,2147483648}$", ["xx"]),
    (r"x{99999999999,1}", []),
    (r"^(?:a*)*$", []),
    (r"(?:a|)*b", []),
    (r"^(?:a*)+$", []),
    (r"(a*)*b", []),
    (r"(?:)*", []),
    (r"(?:^)*a", []),
    (r"(?:$)+", []),
    (r"(?:\b)+a", []),
    (r"^(a|ab)(c|bcd)(d*)$", ["abcd", "acd", "abcdd"]),
    (r"^(a+)+$", ["aaaa", "aaab"]),
    (r"^(?:a{0,2}b?){2}$", ["aab", "abab", "babab"]),
    # Alternation.
    (r"a|b", []),
    (r"a|", []),
    (r"|", []),
    (r"|a", []),
    (r"||", []),
    (r"a|b|c", []),
    (r"^(?:a|b)$", []),
    # Deep nesting: valid JavaScript, refused by translate().
    ("(" * 400 + "a" + ")" * 400, []),
    # Odds and ends.
    (r"\c0", ["\\c0", "\x10"]),
    (r"^\cZ$", ["\x1a"]),
    (r"(?:ab){0}c", []),
    (r"a{0}", []),
    (r"[^\ud800-\udfff]", []),
]

# Patterns checked against every one of the 65536 code units, one code unit per string.
EVERY_CODE_UNIT_PATTERNS = [
    r"^\s$",
    r"^\S$",
    r"^\w$",
    r"^\W$",
    r"^\d$",
    r"^\D$",
    r"^.$",
    r"^[^]$",
    r"\b",
    r"^\B$",
    r"^[\s\d]$",
    r"^[^\s\w]$",
]

# Always in a pattern's random alphabet; the pattern's own code units are added to
# these.
BASE_ALPHABET = list("ab_0 -\n") + [
    "é",
    "😀",
    "\ud83d",
    "\ude00",
    "\u2028",
    "\x00",
    "A",
]
METACHARACTERS = re.compile(r"[\\^$.*+?()\[\]{}|]+")


def hinted_characters(pattern: str) -> list[str]:
    """Characters the pattern's escapes stand for, so random inputs can contain them."""
    hints = [
        chr(int(digits, 16)) for digits in re.findall(r"\\x([0-9a-fA-F]{2})", pattern)
    ]
    hints += [
        chr(int(digits, 16)) for digits in re.findall(r"\\u([0-9a-fA-F]{4})", pattern)
    ]
    hints += [
        chr(ord(letter) % 32) for letter in re.findall(r"\\c([A-Za-z0-9_])", pattern)
    ]
    hints += [
        chr(int(digits, 8)) for digits in re.findall(r"\\([0-3][0-7]{0,2})", pattern)
    ]
    return hints


def random_inputs(pattern: str, count: int) -> list[str]:
    """Deterministic strings made of the pattern's characters and literal fragments."""
    rng = random.Random(zlib.crc32(pattern.encode("utf-8", "surrogatepass")))
    alphabet = sorted(set(BASE_ALPHABET + list(pattern) + hinted_characters(pattern)))
    fragments = [piece for piece in METACHARACTERS.split(pattern) if piece] or ["a"]
    inputs = []
    for _ in range(count):
        if rng.random() < 0.5:
            length = rng.randrange(0, 9)
            inputs.append("".join(rng.choice(alphabet) for _ in range(length)))
        else:
            pieces = [rng.choice(fragments) for _ in range(rng.randrange(1, 4))]
            if rng.random() < 0.5:
                pieces.insert(rng.randrange(len(pieces) + 1), rng.choice(alphabet))
            inputs.append("".join(pieces))
    return inputs


def code_units(value: str) -> list[int]:
    """UTF-16 code units of a string (lone surrogates kept), as JavaScript sees it."""
    encoded = value.encode("utf-16-le", "surrogatepass")
    return [
        int.from_bytes(encoded[i : i + 2], "little") for i in range(0, len(encoded), 2)
    ]


def ask_node(requests: list[dict]) -> list[dict]:
    """Send all requests to one node process and return its answers, in order."""
    stdin = "".join(json.dumps(request) + "\n" for request in requests)
    completed = subprocess.run(
        ["node", str(NODE_SCRIPT)],
        input=stdin.encode("ascii"),  # json.dumps escapes every non-ASCII code unit
        capture_output=True,
        check=True,
    )
    answers = [
        json.loads(line) for line in completed.stdout.decode("utf-8").splitlines()
    ]
    assert len(answers) == len(requests), completed.stderr.decode()
    return answers


def check_round_trip(strings: list[str]) -> None:
    """Fail unless node receives exactly the code units Python meant to send."""
    (answer,) = ask_node([{"echo": strings}])
    expected = [code_units(value) for value in strings]
    assert (
        answer["code_units"] == expected
    ), "JSON changed some strings on the way to node"


def record() -> dict:
    """Ask node about every pattern and return the data to store."""
    patterns = [pattern for pattern, _ in PATTERNS]
    assert len(set(patterns)) == len(patterns), "a pattern is listed twice"
    cases = []
    for pattern, extras in PATTERNS:
        own_inputs = list(
            dict.fromkeys(extras + random_inputs(pattern, RANDOM_INPUTS_PER_PATTERN))
        )
        own_inputs = [value for value in own_inputs if value not in TRICKY_INPUTS]
        cases.append({"pattern": pattern, "inputs": own_inputs})
    all_inputs = TRICKY_INPUTS + [value for case in cases for value in case["inputs"]]
    check_round_trip(all_inputs)

    requests = [
        {"pattern": case["pattern"], "inputs": TRICKY_INPUTS + case["inputs"]}
        for case in cases
    ]
    requests += [
        {"pattern": pattern, "every_code_unit": True}
        for pattern in EVERY_CODE_UNIT_PATTERNS
    ]
    answers = ask_node(requests)
    for case, answer in zip(cases, answers):
        if "error" in answer:
            case["error"] = answer["error"]
            del case["inputs"]  # nothing to match against
        else:
            case["error"] = None
            case["results"] = "".join(
                "1" if result else "0" for result in answer["results"]
            )
    node_version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "about": "new RegExp(pattern).test(input) in node; see record_js_regex.py",
        "node": node_version,
        "tricky_inputs": TRICKY_INPUTS,
        "cases": cases,
        "every_code_unit": [
            {"pattern": pattern, "ranges": answer["ranges"]}
            for pattern, answer in zip(EVERY_CODE_UNIT_PATTERNS, answers[len(cases) :])
        ],
    }


def main() -> None:
    """Record and write the JSON file."""
    data = record()
    # ensure_ascii keeps lone surrogates as \\udXXX escapes, which both json modules
    # decode.
    text = json.dumps(data, ensure_ascii=True, indent=1) + "\n"
    OUTPUT.write_text(text, encoding="ascii")
    valid = sum(case["error"] is None for case in data["cases"])
    total = sum(len(case.get("results", "")) for case in data["cases"])
    print(
        f"{len(data['cases'])} patterns ({valid} valid), {total} recorded results, "
        f"{len(text) / 1e6:.2f} MB -> {OUTPUT}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
