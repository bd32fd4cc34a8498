"""The layering the project promises: only engine adapters know an engine; the CLI starts without heavy imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "custdim"
ENGINE_MODULES = {"duckdb", "pyspark"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_engine_adapters_import_an_engine() -> None:
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "engines" not in p.relative_to(SRC).parts and imported_roots(p) & ENGINE_MODULES
    ]
    assert offenders == []


def test_stages_never_import_the_cli_or_the_facade() -> None:
    for p in (SRC / "stages").rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        assert "custdim.cli" not in text and "custdim.project" not in text, p


def test_cli_help_does_not_load_engines() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from custdim.cli.main import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = sorted(m for m in ('duckdb', 'pyspark', 'ibis', 'pandas', 'scipy') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
