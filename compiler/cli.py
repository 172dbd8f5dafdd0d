"""Command line: `python -m compiler build | check | parse | try | playground`.

Mistakes in what it is given (files, folders, a missing black) are one line on stderr
and exit 2 (compiler.paths); manifest problems are diagnostics and exit 1; nothing
ends in a traceback (set COMPILER_TRACEBACK=1 to see one for a compiler bug).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from . import paths, write
from .diagnostics import ERROR, FORMATS, WARNING, Diagnostic, render_all
from .load import EXAMPLES_DIR
from .paths import UsageError

if TYPE_CHECKING:
    from .build import BuildResult
    from .trial import Trial

# The pipeline (jsonschema, jinja2, ...) is imported by the commands that run it, after
# their arguments are checked: a mistake in them is answered at once.

DEFAULT_MANIFESTS = Path("manifests")
DEFAULT_OUT = Path("generated")
REBUILD = "python -m compiler build"
BLACK = "black==25.9.0"  # as pinned in pyproject.toml


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except UsageError as mistake:
        return fail(str(mistake))
    except ModuleNotFoundError as missing:
        if not missing.name or missing.name.partition(".")[0] == "compiler":
            raise  # not a missing dependency: a bug, reported below
        return fail(not_installed(missing.name))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BrokenPipeError:  # `... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file that vanished or could not be written meanwhile
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}")
    except Exception as bug:  # noqa: BLE001 - one line, not a traceback
        if os.environ.get("COMPILER_TRACEBACK"):
            raise
        return fail(
            f"internal error ({type(bug).__name__}: {bug}); this is a compiler bug: "
            "please report it with the manifest (COMPILER_TRACEBACK=1 shows where)",
            70,
        )


def not_installed(name: str) -> str:
    return (
        f"the package {name!r} is not installed here; run the compiler inside the "
        "project's venv (`./dev check`, `./dev build`, `./dev try`), or "
        "`pip install -e .` first"
    )


# A manifest that cannot be read as a JSON object is a file mistake, like a missing one:
# exit 2, as for every file or folder a command is given. Other manifest errors exit 1.
UNREADABLE = frozenset(
    {"not-utf8", "invalid-json", "unreadable", "manifest-not-object"}
)


def exit_status(diagnostics: Sequence[Diagnostic]) -> int:
    """0 without errors; 2 when a manifest could not be read at all; else 1."""
    errors = [d for d in diagnostics if d.level == ERROR]
    if any(d.code in UNREADABLE for d in errors):
        return 2
    return 1 if errors else 0


def fail(message: str, status: int = 2) -> int:
    print(f"python -m compiler: error: {message}", file=sys.stderr)
    return status


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compiler",
        description="Compile synced-segment manifests into stdlib-only parsers.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build_cmd = commands.add_parser(
        "build",
        help="validate every manifest and write the generated package",
        description="Validate every <key>/manifest.json and write one parser module "
        "per integration, the runtime and the registry. A failed build writes nothing.",
    )
    add_manifests_option(build_cmd)
    outputs = build_cmd.add_mutually_exclusive_group()
    add_out_option(outputs)
    outputs.add_argument(
        "--single-file",
        type=Path,
        metavar="PATH",
        help="write the package as one module at PATH (runtime and every parser, "
        "the same API) instead of a folder",
    )
    build_cmd.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the output folder (or --single-file) differs "
        "from what the manifests produce (CI runs this)",
    )
    add_format_option(build_cmd)
    build_cmd.set_defaults(run=run_build)

    check_cmd = commands.add_parser(
        "check",
        help="validate and lint the manifests only",
        description="Validate and lint every manifest, and verify its templates; "
        "writes nothing, needs no black. Exit 1 on errors.",
    )
    add_manifests_option(check_cmd)
    add_format_option(check_cmd)
    check_cmd.set_defaults(run=run_check)

    parse_cmd = commands.add_parser(
        "parse",
        help="parse one request body with a generated parser",
        description="Parse BODY.json as a request to KEY's endpoint. Prints the result "
        "as JSON, or the status and message on stderr (exit 1).",
    )
    parse_cmd.add_argument("key", metavar="KEY", help="integration key, e.g. amplitude")
    parse_cmd.add_argument(
        "body", metavar="BODY.json", type=Path, help="request body file, - for stdin"
    )
    add_out_option(parse_cmd)
    parse_cmd.set_defaults(run=run_parse)

    try_cmd = commands.add_parser(
        "try",
        help="compile one manifest in memory and run bodies through it",
        description="Compile MANIFEST (a manifest.json, or its folder: the folder "
        "name is the integration key) in memory, writing nothing, and print for each "
        "BODY the to_json() result and the response (status, headers, body). Without "
        f"BODY, the folder's {EXAMPLES_DIR}/*.json are tried. Exit 1 when the "
        "manifest has errors or a body is refused.",
    )
    try_cmd.add_argument(
        "manifest", metavar="MANIFEST", type=Path, help="manifest.json or its folder"
    )
    try_cmd.add_argument(
        "bodies",
        metavar="BODY",
        type=Path,
        nargs="*",
        help="request body files, - for stdin",
    )
    try_cmd.add_argument(
        "--key", help="the integration key (default: the manifest's folder name)"
    )
    try_cmd.add_argument(
        "--module", action="store_true", help="also print the generated module"
    )
    try_cmd.add_argument(
        "--public-url",
        metavar="URL",
        help="where segmentUrl in a jsonResponseBody points",
    )
    try_cmd.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default), or one JSON object with everything",
    )
    try_cmd.set_defaults(run=run_try)

    playground_cmd = commands.add_parser(
        "playground",
        help="serve a page to edit a manifest and a body, with results as you type",
        description="Serve, on this machine only by default, a page where a manifest "
        "and a request body are edited side by side: the diagnostics are marked in the "
        "editor, and the generated module, the to_json() result and the response are "
        "shown as you type. Writes nothing.",
    )
    playground_cmd.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    playground_cmd.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port (default: 8765; 0 picks a free one)",
    )
    playground_cmd.add_argument(
        "--manifests",
        type=Path,
        metavar="DIR",
        help="the integrations to start from (default: manifests, when it exists)",
    )
    playground_cmd.add_argument(
        "--try-seconds",
        type=float,
        default=10.0,
        metavar="N",
        help="stop a try that takes longer, and say so (default: 10)",
    )
    playground_cmd.set_defaults(run=run_playground)
    return parser


def add_manifests_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        type=Path,
        default=DEFAULT_MANIFESTS,
        metavar="DIR",
        help="folder of <key>/manifest.json (default: manifests)",
    )


def add_out_option(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="the generated package folder (default: generated)",
    )


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="how diagnostics are printed: text (stderr, default), json (one array "
        "on stdout) or github (workflow annotations on stdout)",
    )


# --- build / check -------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    manifests = paths.manifests_folder(args.manifests)
    from .build import build

    result = build(manifests, formatter=None)  # verified as emitted: no black needed
    report(result, manifests, args.format)
    print(summary(result, manifests, "checked"), file=sys.stderr)
    return exit_status(result.diagnostics)


def run_build(args: argparse.Namespace) -> int:
    manifests = paths.manifests_folder(args.manifests)
    # with --single-file, --out is only where a previous build's cache is read from
    out = paths.out_folder(args.out) if args.single_file is None else args.out
    if importlib.util.find_spec("black") is None:
        raise UsageError(
            f"black is not installed: build formats the generated code with {BLACK}; "
            f"install it (`pip install {BLACK}`) or run `./dev build` (`check` and "
            "`try` work without it)"
        )
    from .build import build
    from .cache import cache_text

    say = human_output(args.format)
    if args.single_file is not None:
        return run_single_file(args, manifests, say)
    started = time.perf_counter()
    result = build(manifests, out, show_progress)
    report(result, manifests, args.format)
    if result.diagnostics:
        print(summary(result, manifests, "built"), file=sys.stderr)
    if not result.ok:
        print("build failed: nothing written", file=sys.stderr)
        return exit_status(result.diagnostics)
    seconds = time.perf_counter() - started
    reused = f", {len(result.reused)} files unchanged since the last build"
    say(
        f"compiled {len(result.compiled)} integrations in {seconds:.2f} s"
        + (reused if result.reused else "")
    )
    changes = write.plan(out, result.files)
    if args.check:
        return report_drift(out, result.files, changes, say)
    foreign = paths.foreign_files(out, list(changes.changed))
    if foreign:
        raise UsageError(
            f"--out {out}: {', '.join(foreign)} would be overwritten, but the compiler "
            "did not write it; nothing written: pick another --out, or move it away"
        )
    write.apply(out, result.files, changes)
    write.write_cache(out, cache_text(result.keys, result.files))
    for name in changes.changed:
        say(f"  wrote {out / name}")
    for name in changes.stale:
        say(f"  removed {out / name} (its manifest is gone)")
    say(
        f"{out}/: {len(changes.changed)} written, {len(changes.unchanged)} "
        f"unchanged, {len(changes.stale)} removed"
    )
    return 0


def human_output(format: str) -> Callable[[str], None]:
    """print for the lines people read: stdout, except when stdout carries JSON."""
    stream = sys.stderr if format == "json" else sys.stdout
    return lambda line: print(line, file=stream)


def run_single_file(
    args: argparse.Namespace, manifests: Path, say: Callable[[str], None]
) -> int:
    """build --single-file PATH: the package as one module (see compiler.bundle)."""
    from .build import build
    from .bundle import single_file

    target = paths.single_file_path(args.single_file)
    started = time.perf_counter()
    result = build(manifests, args.out, show_progress)  # args.out: its cache, if any
    text, problems = single_file(result.files) if result.ok else ("", [])
    result = replace(result, diagnostics=result.diagnostics + tuple(problems))
    report(result, manifests, args.format)
    if result.diagnostics:
        print(summary(result, manifests, "built"), file=sys.stderr)
    if not text:
        print("build failed: nothing written", file=sys.stderr)
        return exit_status(result.diagnostics) or 1
    seconds = time.perf_counter() - started
    say(
        f"compiled {len(result.compiled)} integrations into one module in {seconds:.2f} s"
    )
    old = target.read_bytes().decode("utf-8", "replace") if target.is_file() else None
    if args.check:
        return report_single_file_drift(target, old, text, say)
    if old == text:
        say(f"{target} is unchanged")
        return 0
    write.write_atomically(target, text.encode("utf-8"))
    say(f"  wrote {target}")
    return 0


def report_single_file_drift(
    target: Path, old: str | None, text: str, say: Callable[[str], None]
) -> int:
    if old == text:
        say(f"{target} is up to date")
        return 0
    if old is None:
        say(f"{target} does not exist; run `{REBUILD} --single-file {target}`")
        return 1
    show_diff(target, old, text, say)
    say(f"{target} is stale; run `{REBUILD} --single-file {target}`")
    return 1


def show_diff(target: Path, old: str, new: str, say: Callable[[str], None]) -> None:
    """The first 60 lines of the unified diff from the file on disk to what is built."""
    diff = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        fromfile=f"{target} (on disk)",
        tofile=f"{target} (from manifests)",
        lineterm="",
    )
    for line in list(diff)[:60]:
        say(line)


def show_progress(done: int, total: int) -> None:
    """A line per tenth of a long build, so a 1,000-manifest build shows it is alive."""
    if total >= 50 and (done == total or done % max(1, total // 10) == 0):
        print(f"  rendered {done}/{total} files", file=sys.stderr, flush=True)


def report(result: BuildResult, manifests_dir: Path, format: str = "text") -> None:
    for path in result.skipped:
        if format == "github":
            print(f"::notice file={path}::skipped: no capabilities.syncedSegment")
        else:
            print(f"{path}: skipped: no capabilities.syncedSegment", file=sys.stderr)
    text = render_all(result.diagnostics, format)
    if format == "text":
        sys.stderr.write(text)
    elif format == "json" or text:
        sys.stdout.write(text)


def summary(result: BuildResult, manifests_dir: Path, verb: str) -> str:
    errors = sum(d.level == ERROR for d in result.diagnostics)
    warnings = sum(d.level == WARNING for d in result.diagnostics)
    skipped = f" ({len(result.skipped)} skipped)" if result.skipped else ""
    return (
        f"{manifests_dir}/: {verb} {result.checked} manifest(s){skipped}: "
        f"{errors} error(s), {warnings} warning(s)"
    )


def report_drift(
    out: Path,
    files: dict[str, str],
    changes: write.Plan,
    say: Callable[[str], None] = print,
) -> int:
    if changes.up_to_date:
        say(f"{out}/ is up to date ({len(changes.unchanged)} files)")
        return 0
    for name in changes.changed:
        target = out / name
        old = target.read_text(encoding="utf-8") if target.is_file() else ""
        show_diff(target, old, files[name], say)
    for name in changes.stale:
        say(f"{out / name}: no manifest produces it any more")
    say(
        f"{out}/ is stale: {len(changes.changed)} file(s) differ, "
        f"{len(changes.stale)} stale; run `{REBUILD}`"
    )
    return 1


# --- parse -------------------------------------------------------------------------------


def run_parse(args: argparse.Namespace) -> int:
    out = paths.package_folder(args.out)
    body = paths.body_bytes(args.body)
    package = import_package(out)
    try:
        _, result = package.read_request(package.parser_for(args.key), body)
    except package.ParseError as unknown:  # no such integration
        built = ", ".join(sorted(package.INTEGRATIONS)) or "none"
        print(
            f"{unknown.status} {unknown.code}: {unknown.message}: {out}/ has "
            f"{built}; to build it, add manifests/{args.key}/manifest.json and run "
            f"`{REBUILD}`, or try it without building: `python -m compiler try "
            f"manifests/{args.key} {args.body}`",
            file=sys.stderr,
        )
        return 1
    if isinstance(result, package.ParseError):
        print(f"{result.status} {result.code}: {result.message}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return 0


def import_package(folder: Path) -> ModuleType:
    """Import a generated package from any folder, under its folder name (or a private
    one when that name is taken)."""
    name = folder.resolve().name
    if name in sys.modules or not name.isidentifier():
        name = f"_segment_sync_{abs(hash(str(folder.resolve())))}"
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


# --- try ---------------------------------------------------------------------------------


def run_try(args: argparse.Namespace) -> int:
    from .trial import try_manifest  # imports the build pipeline: only `try` needs it

    file, key = paths.manifest_argument(args.manifest, args.key)
    raw = paths.read_bytes(file, "MANIFEST")
    body_paths = args.bodies or example_bodies(file)
    bodies = {
        ("stdin" if str(p) == "-" else str(p)): paths.body_bytes(p) for p in body_paths
    }
    trial = try_manifest(key, raw, bodies, file=str(file), public_url=args.public_url)
    if args.format == "json":
        print(json.dumps(trial_json(trial), indent=2, ensure_ascii=False))
    else:
        print_trial(trial, file, args.module)
    return exit_status(trial.diagnostics) or (0 if trial.ok else 1)


def example_bodies(file: Path) -> list[Path]:
    found = sorted((file.parent / EXAMPLES_DIR).glob("*.json"))
    if not found:
        raise UsageError(
            f"give one or more BODY.json files to try (- reads stdin); "
            f"{file.parent / EXAMPLES_DIR}/ has no example bodies"
        )
    return found


def print_trial(trial: Trial, file: Path, show_module: bool) -> None:
    sys.stderr.write(render_all(trial.diagnostics))
    if not trial.module:
        print(f"{file}: {count(trial.diagnostics)}; nothing to try", file=sys.stderr)
        return
    print(f"{file}: {trial.key} compiles ({count(trial.diagnostics)})")
    if show_module:
        print(trial.module)
    for body in trial.bodies:
        print(f"--- {body.name}")
        if body.refused:
            print(f"refused: {body.error}")
        else:
            print("result (to_json):")
            print(json.dumps(body.result, indent=2, ensure_ascii=False))
        print(f"response: {body.status}")
        for name, value in body.headers.items():
            print(f"{name}: {value}")
        if body.body:
            print()
            print(body.body.decode("utf-8", errors="replace"))


def count(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.level == ERROR for d in diagnostics)
    warnings = sum(d.level == WARNING for d in diagnostics)
    return f"{errors} error(s), {warnings} warning(s)"


def trial_json(trial: Trial) -> dict[str, Any]:
    return {
        "key": trial.key,
        "ok": trial.ok,
        "diagnostics": [d.as_json() for d in trial.diagnostics],
        "module": trial.module,
        "bodies": [
            {
                "name": b.name,
                "status": b.status,
                "headers": b.headers,
                "body": b.body.decode("utf-8", errors="replace"),
                "result": b.result,
                "error": b.error or None,
            }
            for b in trial.bodies
        ],
    }


# --- playground -----------------------------------------------------------------------


def run_playground(args: argparse.Namespace) -> int:
    from .playground.server import serve  # http.server and the pipeline: only here

    manifests: Optional[Path] = None
    if args.manifests is not None:
        manifests = paths.manifests_folder(args.manifests)
    elif DEFAULT_MANIFESTS.is_dir():
        manifests = DEFAULT_MANIFESTS
    return serve(args.host, args.port, manifests, args.try_seconds)
