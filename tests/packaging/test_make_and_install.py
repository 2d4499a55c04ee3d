"""The README's two commands install what they need and no more, without warnings."""
from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(tmp_path: Path, target: str) -> str:
    """`make -n TARGET` in a copy of the Makefile and pyproject.toml: the commands it would run."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        if not (tmp_path / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    return subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True,
                          check=True).stdout


def pip_installs(commands: str) -> list[str]:
    return [line for line in commands.splitlines() if "pip install" in line and "--upgrade pip" not in line]


def test_make_run_installs_the_runtime_only(tmp_path):
    installs = pip_installs(dry_run(tmp_path, "run"))
    assert installs and all("[test]" not in line for line in installs), installs
    assert any(line.rstrip().endswith("-e .") for line in installs), installs


def test_make_test_installs_the_test_extras(tmp_path):
    assert any("'.[test]'" in line for line in pip_installs(dry_run(tmp_path, "test")))


def test_runtime_and_test_installs_have_their_own_stamps(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    commands = dry_run(tmp_path, "run")
    stamp = next(line.split()[-1] for line in commands.splitlines() if line.startswith("touch"))
    (tmp_path / ".venv" / "bin" / "python").touch()
    (tmp_path / stamp).touch()      # as after a `make run`: `make test` still installs the extras
    assert not pip_installs(dry_run(tmp_path, "run"))
    assert any("'.[test]'" in line for line in pip_installs(dry_run(tmp_path, "test")))


def test_editable_install_is_a_plain_path_entry():
    """setuptools picks its warning-free editable strategy (a .pth file) only when the package
    folder is declared: with the flat layout left implicit it installs an import hook and prints
    a BuildBackendWarning block at every first `make run`."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"].get("package-dir") == {"": "."}
