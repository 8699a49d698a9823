"""Check the import contracts of ``pyproject.toml`` ([tool.importlinter]) on this checkout.

    python scripts/lint_imports.py

The subpackages live in several top-level folders (``[tool.setuptools]
package-dir``), while import-linter reads one package tree: the folders are
copied, as the wheel lays them out, into a temporary tree that it analyses.
Exits with ``lint-imports``' status.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def assemble(target: Path) -> None:
    """The package as installed: each ``package-dir`` folder copied to its import path under ``target``."""
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(folders.items(), key=lambda item: item[0].count(".")):
        destination = target.joinpath(*package.split("."))
        shutil.copytree(ROOT / folder, destination, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "assets"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tree:
        assemble(Path(tree))
        command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", str(ROOT / "pyproject.toml")]
        return subprocess.run(command, cwd=tree, env={"PYTHONPATH": tree, "PATH": ""}).returncode


if __name__ == "__main__":
    sys.exit(main())
