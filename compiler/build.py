"""Build: load, validate, lower, emit, format and verify every manifest, writing nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import black

from .diagnostics import Diagnostic, error, has_errors
from .emit import emit_package
from .format import format_source
from .load import Manifest, load_manifests
from .lower import lower
from .naming import module_name
from .validate import manifest_shape_problem, synced_segment, validate
from .verify import verify


@dataclass(frozen=True)
class BuildResult:
    """The rendered package ({path: text}, empty when the build failed) and what was said."""

    files: dict[str, str]
    diagnostics: tuple[Diagnostic, ...]
    compiled: tuple[str, ...]  # integration keys
    skipped: tuple[str, ...]  # manifest paths without a syncedSegment capability

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def build(manifests_dir: Path) -> BuildResult:
    """Read and compile every manifest under a folder; writes nothing."""
    manifests, problems = load_manifests(manifests_dir)
    result = compile_manifests(manifests)
    return BuildResult(
        {} if problems else result.files,  # a failed build produces nothing
        tuple(problems) + result.diagnostics,
        result.compiled,
        result.skipped,
    )


def compile_manifests(manifests: Sequence[Manifest]) -> BuildResult:
    """The generated package for these manifests; the input order does not matter."""
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
    files, format_problems = format_all(emit_package(modules))
    diagnostics += format_problems
    if not format_problems:
        diagnostics += verify(files, modules, {m.key: m for m in valid})
    if has_errors(diagnostics):
        return BuildResult({}, tuple(diagnostics), (), tuple(skipped))
    compiled = tuple(m.key for m in modules)
    return BuildResult(files, tuple(diagnostics), compiled, tuple(skipped))


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


def format_all(files: dict[str, str]) -> tuple[dict[str, str], list[Diagnostic]]:
    formatted, problems = {}, []
    for name, source in files.items():
        try:
            formatted[name] = format_source(source)
        except black.InvalidInput as exc:  # a compiler bug, reported like any problem
            problems.append(
                error(
                    "internal-format",
                    f"generated/{name}",
                    "",
                    f"the compiler produced invalid Python: {exc}",
                    "report this with the manifest that caused it",
                )
            )
    return formatted, problems
