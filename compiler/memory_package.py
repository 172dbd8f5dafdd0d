"""Import a generated package from its {file name: source} map, never from the disk.

`try` and the playground compile one manifest and run its parser at once: a meta-path
finder serves the files under a fresh package name, so the package's own lazy
`importlib.import_module("." + name, __name__)` works as it does from a folder, and
nothing is left in sys.modules afterwards.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import itertools
import sys
import threading
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Iterator, Mapping, Optional, Sequence

_names = itertools.count()
_lock = threading.Lock()


class _SourceLoader(importlib.abc.Loader):
    def __init__(self, source: str, filename: str) -> None:
        self.source = source
        self.filename = filename

    def create_module(self, spec: ModuleSpec) -> Optional[ModuleType]:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self.source, self.filename, "exec"), module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `<package>` and `<package>.<module>` in the registered file maps."""

    def __init__(self) -> None:
        self.packages: dict[str, Mapping[str, str]] = {}

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]] = None,
        target: Optional[ModuleType] = None,
    ) -> Optional[ModuleSpec]:
        package, _, module = fullname.partition(".")
        files = self.packages.get(package)
        if files is None or "." in module:
            return None
        name = f"{module}.py" if module else "__init__.py"
        if name not in files:
            return None
        loader = _SourceLoader(files[name], f"<{package}/{name}>")
        return importlib.util.spec_from_loader(fullname, loader, is_package=not module)


_finder = _Finder()


@contextmanager
def imported(files: Mapping[str, str]) -> Iterator[ModuleType]:
    """The package made of these files, imported under a name of its own."""
    name = f"_segment_sync_in_memory_{next(_names)}"
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.append(_finder)
        _finder.packages[name] = dict(files)
    try:
        yield importlib.import_module(name)
    finally:
        with _lock:
            del _finder.packages[name]
            for module in [m for m in sys.modules if m.partition(".")[0] == name]:
                del sys.modules[module]
