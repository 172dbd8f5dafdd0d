"""Verify: run the formatted package in memory and render every jsonResponseBody.

A template whose JSON-escaped rendering of a sample success or error response is not
valid JSON fails the build, so that a partner never receives a broken body.
"""

from __future__ import annotations

import itertools
import json
import sys
import types
from typing import Any, Iterator

from . import ir
from .diagnostics import Diagnostic, error
from .load import Manifest
from .naming import RUNTIME_MODULE

# Messages as the parsers write them: quotes and backslashes included on purpose.
SAMPLE_ERROR = 'cohortIdPath "/batch/0/cohortId": expected a string, got "\\\\"'
_packages = itertools.count()


def verify(
    files: dict[str, str],
    modules: list[ir.ParserModule],
    manifests: dict[str, Manifest],
) -> list[Diagnostic]:
    """Problems found by rendering each template with sample contexts."""
    templated = [m for m in modules if m.response is not None]
    if not templated:
        return []
    problems = []
    with InMemoryPackage(files) as package:
        runtime = getattr(package, RUNTIME_MODULE)
        for module in templated:
            generated = package.load(module.module_name)
            for label, context in sample_contexts(runtime):
                problem = render_problem(generated, context)
                if problem:  # one report per template: the first failing sample
                    problems.append(
                        error(
                            "response-not-json",
                            manifests[module.key].path,
                            "/capabilities/syncedSegment/jsonResponseBody",
                            f"jsonResponseBody renders invalid JSON for a {label}: "
                            f"{problem}",
                            "make the template's literal text valid JSON around "
                            "its mustaches (commas, braces, quotes)",
                        )
                    )
                    break
    return problems


def sample_contexts(
    runtime: types.ModuleType,
) -> Iterator[tuple[str, dict[str, Any]]]:
    body = {"environmentId": "env-1", "cohortId": "c-1"}
    url = "https://flags.example.com"
    yield "success response", runtime.response_context(
        body, 200, "", "env-1", "k-c-1", url
    )
    yield "400 error response", runtime.response_context(
        body, 400, SAMPLE_ERROR, None, None, url
    )
    yield "response to an undecodable body", runtime.response_context(
        None, 400, "not JSON", None, None, url
    )


def render_problem(generated: types.ModuleType, context: dict[str, Any]) -> str:
    try:
        generated.render_response(context, False)  # handlebars.js semantics must run
        text = generated.render_response(context, True)
        json.loads(text)
        text.encode("utf-8")
    except ValueError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a template bug, reported as a problem
        return f"{type(exc).__name__}: {exc}"
    return ""


class InMemoryPackage:
    """The generated files as an importable package that never touches the disk."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.name = f"_segment_sync_verify_{next(_packages)}"

    def __enter__(self) -> InMemoryPackage:
        self.package = types.ModuleType(self.name)
        self.package.__path__ = []
        sys.modules[self.name] = self.package
        setattr(self, RUNTIME_MODULE, self.load(RUNTIME_MODULE))
        return self

    def load(self, module_name: str) -> types.ModuleType:
        full = f"{self.name}.{module_name}"
        module = types.ModuleType(full)
        module.__package__ = self.name
        sys.modules[full] = module
        setattr(self.package, module_name, module)
        code = compile(
            self.files[f"{module_name}.py"], f"<generated {module_name}>", "exec"
        )
        exec(code, module.__dict__)
        return module

    def __exit__(self, *exc_info: object) -> None:
        for name in [
            n for n in sys.modules if n == self.name or n.startswith(self.name + ".")
        ]:
            del sys.modules[name]
