"""Command line: `python -m compiler build | check | parse`."""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Sequence

from . import write
from .build import BuildResult, build
from .cache import cache_text
from .diagnostics import ERROR, WARNING

DEFAULT_MANIFESTS = Path("manifests")
DEFAULT_OUT = Path("generated")
REBUILD = "python -m compiler build"


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    return args.run(args)


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
    add_out_option(build_cmd)
    build_cmd.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the output folder differs from what "
        "the manifests produce (CI runs this)",
    )
    build_cmd.set_defaults(run=run_build)

    check_cmd = commands.add_parser(
        "check",
        help="validate and lint the manifests only",
        description="Validate and lint every manifest; exit 1 on errors.",
    )
    add_manifests_option(check_cmd)
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
    return parser


def add_manifests_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifests",
        type=Path,
        default=DEFAULT_MANIFESTS,
        metavar="DIR",
        help="folder of <key>/manifest.json (default: manifests)",
    )


def add_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="the generated package folder (default: generated)",
    )


# --- build / check -------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    result = build(args.manifests)
    report(result, args.manifests)
    return 0 if result.ok else 1


def run_build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    result = build(args.manifests, args.out, show_progress)
    report(result, args.manifests)
    if not result.ok:
        print("build failed: nothing written", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started
    reused = f", {len(result.reused)} files unchanged since the last build"
    print(
        f"compiled {len(result.compiled)} integrations in {seconds:.2f} s"
        + (reused if result.reused else "")
    )
    changes = write.plan(args.out, result.files)
    if args.check:
        return report_drift(args.out, result.files, changes)
    write.apply(args.out, result.files, changes)
    write.write_cache(args.out, cache_text(result.keys, result.files))
    for name in changes.changed:
        print(f"  wrote {args.out / name}")
    for name in changes.stale:
        print(f"  removed {args.out / name} (its manifest is gone)")
    print(
        f"{args.out}/: {len(changes.changed)} written, {len(changes.unchanged)} "
        f"unchanged, {len(changes.stale)} removed"
    )
    return 0


def show_progress(done: int, total: int) -> None:
    """A line per tenth of a long build, so a 1,000-manifest build shows it is alive."""
    if total >= 50 and (done == total or done % max(1, total // 10) == 0):
        print(f"  rendered {done}/{total} files", file=sys.stderr, flush=True)


def report(result: BuildResult, manifests_dir: Path) -> None:
    for path in result.skipped:
        print(f"{path}: skipped: no capabilities.syncedSegment", file=sys.stderr)
    for diagnostic in result.diagnostics:
        print(diagnostic.render(), file=sys.stderr)
    errors = sum(d.level == ERROR for d in result.diagnostics)
    warnings = sum(d.level == WARNING for d in result.diagnostics)
    if errors or warnings:
        print(
            f"{manifests_dir}/: {errors} error(s), {warnings} warning(s)",
            file=sys.stderr,
        )


def report_drift(out: Path, files: dict[str, str], changes: write.Plan) -> int:
    if changes.up_to_date:
        print(f"{out}/ is up to date ({len(changes.unchanged)} files)")
        return 0
    for name in changes.changed:
        target = out / name
        old = target.read_text(encoding="utf-8") if target.is_file() else ""
        diff = difflib.unified_diff(
            old.splitlines(keepends=True),
            files[name].splitlines(keepends=True),
            fromfile=f"{target} (on disk)",
            tofile=f"{target} (from manifests)",
        )
        sys.stdout.writelines(list(diff)[:60])
    for name in changes.stale:
        print(f"{out / name}: no manifest produces it any more")
    print(
        f"{out}/ is stale: {len(changes.changed)} file(s) differ, "
        f"{len(changes.stale)} stale; run `{REBUILD}`"
    )
    return 1


# --- parse -------------------------------------------------------------------------------


def run_parse(args: argparse.Namespace) -> int:
    if not (args.out / "__init__.py").is_file():
        print(f"{args.out}/ has no generated package; run `{REBUILD}`", file=sys.stderr)
        return 1
    package = import_package(args.out)
    body = sys.stdin.buffer.read() if str(args.body) == "-" else args.body.read_bytes()
    try:
        _, result = package.read_request(package.parser_for(args.key), body)
    except package.ParseError as unknown:  # no such integration
        result = unknown
    if isinstance(result, package.ParseError):
        print(f"{result.status} {result.code}: {result.message}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return 0


def import_package(folder: Path) -> ModuleType:
    """Import a generated package from any folder, under its own folder name."""
    name = folder.resolve().name
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package
