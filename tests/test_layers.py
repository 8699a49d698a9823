"""The package's layering (README, "Layout"): contracts < stages < sessions and transports < jobs < CLI."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import talkinghead

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FOLDERS = ("engine", "audio2motion", "renderer", "streaming")
DYNAMIC_IMPORTS = {"import_module", "__import__", "spec_from_file_location", "find_spec"}


def _package_files() -> list[Path]:
    return [path for folder in PACKAGE_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]


def test_import_contracts_hold():
    """``lint-imports`` on pyproject's contracts (lazy imports included) finds every contract kept."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.skip("needs import-linter (the dev extra)")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "lint_imports.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in run.stdout


def dynamic_imports(source: str) -> list[int]:
    """Lines of ``source`` that import by name at run time, other than a literal third-party name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name not in DYNAMIC_IMPORTS:
            continue
        first = node.args[0] if node.args else None
        literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if not literal or first.value.split(".")[0] == "talkinghead":
            lines.append(node.lineno)
    return lines


def test_no_module_imports_the_project_dynamically():
    """``importlib``/``__import__`` would step around the contracts: only literal third-party names are allowed."""
    offences = {str(path.relative_to(ROOT)): dynamic_imports(path.read_text()) for path in _package_files()}
    assert {path: lines for path, lines in offences.items() if lines} == {}


def test_the_scan_finds_the_ways_round_an_import_statement():
    source = ("import importlib\nm = importlib.import_module('talkinghead.jobs')\nn = __import__(name)\n"
              "o = importlib.util.find_spec('aiortc')\n")
    assert dynamic_imports(source) == [2, 3]


def test_readme_and_demos_import_only_the_facade():
    """What users copy reaches the engine through ``talkinghead`` alone."""
    texts = {"README.md": "\n".join(re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S))}
    texts |= {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "demos").glob("*.py"))}
    deep = {name: re.findall(r"^\s*(?:from|import) (talkinghead\.[\w.]+)", text, re.M) for name, text in texts.items()}
    assert "from talkinghead import" in texts["README.md"]
    assert {name: found for name, found in deep.items() if found} == {}


def test_loading_a_renderer_loads_no_other_stage():
    """A renderer and its avatars load the contracts and the renderer only: no audio2motion, no training."""
    code = ("import sys, talkinghead.renderer.avatar as a; a.avatar_renderer(a.load_avatar()); "
            "print('\\n'.join(m for m in sys.modules if m.startswith('talkinghead')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "talkinghead.renderer.photo" in loaded
    assert [m for m in loaded if not m.startswith(("talkinghead.contracts", "talkinghead.renderer"))] == ["talkinghead"]
    assert not [m for m in loaded if ".training" in m]


def test_a_live_session_draws_without_pyav():
    """A live video session of the built-in avatar needs no FFmpeg (a GPU box's image has no PyAV): PyAV is
    imported where a file is read or written. Here it is blocked outright and a session still draws."""
    code = ("import sys; sys.modules['av'] = None\n"
            "import asyncio, numpy as np\n"
            "from talkinghead import Engine, LiveConfig\n"
            "async def main():\n"
            "    engine = Engine(ears='mel')\n"
            "    async with engine.session(None, 16000, LiveConfig(pacing='fast')) as session:\n"
            "        await session.push_audio(np.zeros(8000, np.int16)); await session.end()\n"
            "        frames = [f async for f in session]\n"
            "    engine.close()\n"
            "    print(len(frames), frames[0].image.shape)\n"
            "asyncio.run(main())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    count, shape = run.stdout.split(maxsplit=1)
    assert int(count) >= 12 and shape.strip() == "(478, 490, 3)"


def test_the_facade_offers_what_the_readme_shows():
    optional = ("AvatarTracks", "TalkingHeadVideoService", "TalkingHeadVideoGenerator")  # their extras may be missing
    missing = [name for name in talkinghead.__all__ if name not in optional and not hasattr(talkinghead, name)]
    assert missing == []
    assert talkinghead.render.__name__ == "render_file" and talkinghead.dub.__module__ == "talkinghead.jobs.dub"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        talkinghead.nothing  # noqa: B018


def test_every_subpackage_ships():
    """Each folder with an ``__init__.py`` is listed in pyproject's packages (an editable install would hide one)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for package, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *parts)))
    assert found == set(setuptools["packages"])


def test_the_browser_page_ships_as_package_data():
    """Every file the page serves is matched by pyproject's package data (the wheel then holds the page);
    only npm's tooling for the vendored three.js stays out."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = patterns["talkinghead.streaming"]
    web = ROOT / "streaming" / "web"
    tooling = {"package.json", "package-lock.json", "vendor.mjs"}
    served = [p.relative_to(ROOT / "streaming").as_posix() for p in web.rglob("*")
              if p.is_file() and p.name not in tooling and "node_modules" not in p.parts]
    assert {"web/index.html", "web/client.js", "web/vendor/three.module.js"} <= set(served)
    assert [f for f in served if not any(fnmatch.fnmatch(f, pattern) for pattern in shipped)] == []


def test_serve_refuses_a_web_root_without_a_page(tmp_path, capsys):
    from talkinghead.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["serve", "--web-root", str(tmp_path), "--port", "0"])
    assert exit.value.code == 2
    assert capsys.readouterr().err.strip() == f"talkinghead: error: --web-root {tmp_path}: no index.html there"
