"""The package as a user gets it: a wheel built from pyproject.toml, installed in a fresh venv.

The wheel is built from a copy of the sources (no build/ or *.egg-info left in the checkout,
none of their stale files in the wheel) without build isolation, then installed with
--no-deps into a venv made without pip or site-packages. The venv sees the project's
already-installed dependencies through one .pth line, so nothing is downloaded; the
compiler, its templates and its schema come from the wheel alone. The commands run in a
folder outside the checkout, so the checkout cannot stand in for what the wheel lacks.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler import __version__
from tests.conftest import ROOT, SHIPPED

PACKAGES = ("compiler", "generated", "service", "segment_sync_sdk")
# One worker builds and installs once; the rest of the suite runs beside it.
pytestmark = pytest.mark.xdist_group("installed-wheel")

# What the wheel is built from: everything but the checkout's own state and the tests.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv*", ".node", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
    ".*_cache", ".hypothesis", "tests", "bench",
)  # fmt: skip


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path  # an empty folder outside the checkout, the commands' working directory

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, cwd: Path | None = None):
        """The command's result; no PYTHONPATH, so the checkout cannot be imported."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.run(
            command, cwd=cwd or self.work, env=env, capture_output=True, text=True
        )


def run(*command: str, cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("package")
    sources = base / "sources"
    shutil.copytree(ROOT, sources, ignore=NOT_SOURCES, symlinks=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base), ".",
        cwd=sources)  # fmt: skip
    (wheel,) = base.glob("*.whl")

    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=base)
    python = str(venv / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])  # the project's, in order
    (Path(site) / "project-dependencies.pth").write_text("\n".join(deps) + "\n")
    run(*pip, "--python", python, "install", "--no-deps", "--no-index", str(wheel),
        cwd=base)  # fmt: skip

    work = base / "work"
    work.mkdir()
    return Installed(wheel, venv, work)


def test_the_wheel_holds_the_templates_the_schema_and_the_packages(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    templates = {
        f"compiler/templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")
    }
    assert templates and templates <= names
    assert "compiler/schema/synced-segment.schema.json" in names
    # every module of the checkout, subpackages too (pyproject.toml names each package)
    modules = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assert modules - names == set()
    static = ROOT / "compiler" / "playground" / "static"
    assert {f"compiler/playground/static/{p.name}" for p in static.iterdir()} <= names
    assert not any(
        name.startswith(("tests/", "bench/", "manifests/")) for name in names
    )


def test_the_version_and_the_dependencies_are_split(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        headers = email.parser.Parser().parsestr(wheel.read(metadata).decode())
    assert headers["Version"] == __version__  # the one in compiler/__init__.py
    requires = headers.get_all("Requires-Dist")
    base = {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0] for r in requires
            if "extra ==" not in r}  # fmt: skip
    assert base == {"jinja2", "jsonschema", "jsonpointer", "black"}
    (black,) = [r for r in requires if r.startswith("black") and "extra ==" not in r]
    assert ">=" in black and "<" in black and "==" not in black, black  # a range
    # the tests' own black is one version, so that .venv and CI format alike
    (pinned,) = [r for r in requires if r.startswith("black") and "extra ==" in r]
    assert "==" in pinned and 'extra == "test"' in pinned, pinned
    for extra, package in [("service", "fastapi"), ("service", "uvicorn"),
                           ("redis", "redis"), ("redis", "hiredis")]:  # fmt: skip
        assert any(
            r.startswith(package) and f'extra == "{extra}"' in r for r in requires
        ), (extra, package, requires)


@pytest.mark.parametrize("command", [("segment-sync",), ("python", "-m", "compiler")])
def test_the_installed_compiler_builds_the_committed_package(installed, command):
    """From the wheel alone, in any folder: byte for byte the committed generated/."""
    folder = installed.work / command[-1]
    shutil.copytree(SHIPPED, folder / "manifests")
    build = (installed.bin(command[0]), *command[1:], "build")
    options = ("--manifests", "manifests", "--out", "out")
    first = installed.run(*build, *options, cwd=folder)
    assert first.returncode == 0, first.stdout + first.stderr
    built = {p.name: p.read_bytes() for p in (folder / "out").glob("*.py")}
    committed = {p.name: p.read_bytes() for p in (ROOT / "generated").glob("*.py")}
    assert sorted(built) == sorted(committed)
    for name in committed:
        assert built[name] == committed[name], name

    again = installed.run(*build, *options, "--check", cwd=folder)
    assert again.returncode == 0, again.stdout + again.stderr
    # the build cache works from the wheel: nothing rendered again
    assert f"{len(committed)} files unchanged since the last build" in again.stdout


def test_the_installed_compiler_is_the_wheel_not_the_checkout(installed):
    probe = "import compiler.emit as e, jinja2; print(e.__file__); print(e.TEMPLATES)"
    result = installed.run(installed.bin("python"), "-c", probe)
    assert result.returncode == 0, result.stderr
    module, templates = result.stdout.splitlines()
    assert module.startswith(str(installed.venv)), module
    assert templates.startswith(str(installed.venv)) and templates.endswith(
        "compiler/templates"
    ), templates


@pytest.mark.parametrize(
    "command", [("segment-sync-service",), ("python", "-m", "service")]
)
def test_the_service_commands_are_installed(installed, command):
    result = installed.run(installed.bin(command[0]), *command[1:], "--help")
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout and "token" in result.stdout


@pytest.mark.parametrize(
    ("module", "extra"),
    [("fastapi", "service"), ("uvicorn", "service"), ("redis", "redis")],
)
def test_a_missing_extra_is_named_in_one_line(installed, module, extra, tmp_path):
    """As if the extra were not installed: one line naming it, exit 2, no traceback."""
    hide = f"import sys; sys.modules[{module!r}] = None\n"  # import fails as if absent
    launcher = tmp_path / "launch.py"
    launcher.write_text(hide + "from service.__main__ import main\nsys.exit(main())\n")
    db = str(tmp_path / "segments.db")
    result = installed.run(
        installed.bin("python"), str(launcher), "serve", "--port", "0", "--db", db
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        f"error: the service needs {module}, which is not installed: "
        f"pip install 'segment-sync-compiler[{extra}]'\n"
    )
    assert not Path(db).exists()  # it stopped before touching the store
