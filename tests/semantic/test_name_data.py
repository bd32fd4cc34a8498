"""The name data shipped with ``custdim.semantic`` is exactly what its script produces, and is all names.py reads."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_name_data.py"


def load_script() -> ModuleType:
    """Import scripts/build_name_data.py (a script, not a package module) by path."""
    spec = importlib.util.spec_from_file_location("build_name_data", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_files_are_the_script_output(tmp_path: Path) -> None:
    written = load_script().generate(tmp_path)
    shipped = resources.files("custdim.semantic").joinpath("data")
    assert sorted(p.name for p in written) == sorted(p.name for p in shipped.iterdir() if p.name.endswith(".csv"))
    for path in written:
        data = path.read_bytes()
        assert b"\r" not in data and data.decode("utf-8").startswith("# custdim ")
        # On a Faker or nicknames upgrade that changes their data: keep the shipped files (pin the old data in the
        # script if need be), or regenerate them knowingly: new data changes match keys and so CustomerIds.
        assert data == shipped.joinpath(path.name).read_bytes(), f"{path.name} differs from the script's output"


def test_names_needs_neither_faker_nor_nicknames_at_import() -> None:
    code = (
        "import sys, custdim.semantic.names as n; assert len(n.NICKNAMES) > 500; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faker', 'nicknames')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
