"""Build: load, validate, lower, emit, format and verify every manifest, writing nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Optional, Sequence

from . import ir
from .cache import PreviousBuild, file_key, read_previous
from .diagnostics import ERROR, Diagnostic, error, has_errors, placed
from .emit import (
    REGISTRY_FILE,
    RUNTIME_FILE,
    emit_module,
    emit_registry,
    emit_runtime,
    module_file,
)
from .format import FormatError, format_each, format_source, format_sources
from .load import Manifest, load_manifests
from .lower import lower
from .naming import module_name
from .validate import manifest_shape_problem, synced_segment, validate
from .verify import verify

Progress = Callable[[int, int], None]  # (files rendered so far, files to render)
Formatter = Callable[[str], str]


@dataclass(frozen=True)
class BuildResult:
    """The rendered package ({path: text}, empty when the build failed) and what was said."""

    files: dict[str, str]
    diagnostics: tuple[Diagnostic, ...]
    compiled: tuple[str, ...]  # integration keys
    skipped: tuple[str, ...]  # manifest paths without a syncedSegment capability
    keys: dict[str, str] = field(default_factory=dict)  # file -> cache key
    reused: tuple[str, ...] = ()  # files taken from the previous build unrendered
    checked: int = 0  # manifests read (or that failed to be read)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def build(
    manifests_dir: Path,
    out_dir: Optional[Path] = None,
    progress: Optional[Progress] = None,
    formatter: Optional[Formatter] = format_source,
) -> BuildResult:
    """Read and compile every manifest under a folder; writes nothing.

    With out_dir, files whose inputs are unchanged since the build that wrote it are
    taken from it instead of being rendered again (see compiler.cache). formatter None
    leaves the code as emitted: `check` verifies it so without needing black.
    """
    manifests, problems = load_manifests(manifests_dir)
    previous = read_previous(out_dir) if out_dir is not None else PreviousBuild()
    result = compile_manifests(manifests, previous, progress, formatter)
    failed = has_errors(problems) or not result.ok
    return BuildResult(
        {} if failed else result.files,  # a failed build produces nothing
        tuple(problems) + result.diagnostics,
        result.compiled,
        result.skipped,
        result.keys,
        result.reused,
        result.checked + sum(p.level == ERROR for p in problems),
    )


def compile_manifests(
    manifests: Sequence[Manifest],
    previous: Optional[PreviousBuild] = None,
    progress: Optional[Progress] = None,
    formatter: Optional[Formatter] = format_source,
) -> BuildResult:
    """The generated package for these manifests; the input order does not matter.

    Every diagnostic about a manifest carries the line and column of its node.
    """
    result = compile_unplaced(manifests, previous, progress, formatter)
    maps = {m.path: m.source_map() for m in manifests}
    placed_diagnostics = tuple(placed(d, maps.get(d.file)) for d in result.diagnostics)
    return replace(result, diagnostics=placed_diagnostics)


def compile_unplaced(
    manifests: Sequence[Manifest],
    previous: Optional[PreviousBuild],
    progress: Optional[Progress],
    formatter: Optional[Formatter],
) -> BuildResult:
    previous = previous or PreviousBuild()
    diagnostics: list[Diagnostic] = []
    valid: list[Manifest] = []
    skipped: list[str] = []
    for manifest in sorted(manifests, key=lambda m: m.key):
        shape = manifest_shape_problem(manifest)
        if shape is not None:
            diagnostics.append(shape)
        elif synced_segment(manifest) is None:
            skipped.append(manifest.path)
        else:
            problems = validate(manifest)
            diagnostics += problems
            if not has_errors(problems):
                valid.append(manifest)
    collisions = module_name_collisions(valid)
    diagnostics += collisions
    clashing = {d.file for d in collisions}
    valid = [m for m in valid if m.path not in clashing]
    # Every manifest that validated is compiled and verified, even when another one
    # failed, so that one build reports every error; a failed build keeps no files.
    modules = [lower(manifest) for manifest in valid]
    sources = file_sources(modules)
    files, keys, reused = {}, {}, []
    emitted: dict[str, str] = {}
    for name, (key, emit) in sources.items():
        keys[name] = key
        text = previous.reusable(name, key)
        if text is not None:
            files[name] = text
            reused.append(name)
        else:
            emitted[name] = emit()
    if formatter is format_source:
        # black: parser modules of one shape are formatted once (see compiler.format)
        formatted, not_python = format_sources(
            emitted, {module_file(m) for m in modules}, progress
        )
    else:
        formatted, not_python = format_each(emitted, formatter, progress)
    files.update(formatted)
    diagnostics += [format_problem(n, not_python[n]) for n in sorted(not_python)]
    rendered = list(emitted)
    if RUNTIME_FILE in files and all(module_file(m) in files for m in modules):
        # Verified even when other manifests failed, so one build reports every
        # error. A reused file was verified when it was made.
        fresh = [m for m in modules if module_file(m) in rendered]
        diagnostics += verify(files, fresh, {m.key: m for m in valid})
    if has_errors(diagnostics):
        return BuildResult(
            {}, tuple(diagnostics), (), tuple(skipped), checked=len(manifests)
        )
    compiled = tuple(m.key for m in modules)
    return BuildResult(
        files,
        tuple(diagnostics),
        compiled,
        tuple(skipped),
        keys,
        tuple(reused),
        len(manifests),
    )


def file_sources(
    modules: list[ir.ParserModule],
) -> dict[str, tuple[str, Callable[[], str]]]:
    """Every file of the package: its cache key and how to render it."""
    sources: dict[str, tuple[str, Callable[[], str]]] = {}
    for m in modules:
        sources[module_file(m)] = (
            file_key(m.key, m.source, m.sha256),
            partial(emit_module, m),
        )
    sources[RUNTIME_FILE] = (file_key(RUNTIME_FILE), emit_runtime)
    registry_inputs = [
        f"{m.key}={m.module_name}:{m.source}:{m.sha256}" for m in modules
    ]
    sources[REGISTRY_FILE] = (
        file_key(REGISTRY_FILE, *registry_inputs),
        lambda: emit_registry(modules),
    )
    return sources


def format_problem(name: str, exc: FormatError) -> Diagnostic:
    return error(
        "internal-format",
        f"generated/{name}",
        "",
        f"the compiler produced invalid Python: {exc}",
        "report this with the manifest that caused it",
    )


def module_name_collisions(manifests: Sequence[Manifest]) -> list[Diagnostic]:
    by_name = defaultdict(list)
    for manifest in manifests:
        by_name[module_name(manifest.key)].append(manifest)
    problems = []
    for name, clashing in sorted(by_name.items()):
        if len(clashing) < 2:
            continue
        keys = ", ".join(m.key for m in clashing)
        for manifest in clashing:
            problems.append(
                error(
                    "module-name-collision",
                    manifest.path,
                    "",
                    f"integration keys {keys} all become the module {name}.py",
                    "rename one of the folders so that the keys differ in more "
                    "than '.', '-' and '_'",
                )
            )
    return problems
