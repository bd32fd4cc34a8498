"""Read ``custdim.yaml`` into a :class:`ProjectConfig`; every problem becomes a ConfigError naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from custdim.config.project import CrossCheckError, ProjectConfig
from custdim.errors import ConfigError

PROJECT_FILE = "custdim.yaml"


def find_project_file(path: str | Path) -> Path:
    """Accept a project folder or the file itself."""
    p = Path(path)
    if p.is_dir():
        p = p / PROJECT_FILE
    if not p.exists():
        raise ConfigError(str(p), "", "project file not found (run `custdim demo` to create an example project)")
    return p


def load_project_config(path: str | Path) -> ProjectConfig:
    """Load and validate a project file (or the ``custdim.yaml`` inside a folder)."""
    file = find_project_file(path)
    try:
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(str(file), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(file), "", "expected a mapping of keys (name, lake, engine, sources, unify, ...)")
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(str(file), exc) from None
    config._root = file.parent.resolve()
    config._file = str(file)
    try:
        config.cross_check()
    except CrossCheckError as exc:
        raise ConfigError(str(file), exc.key, str(exc)) from None
    return config


def key_path(loc: tuple[int | str, ...]) -> str:
    """('sources', 0, 'tables', 1, 'format') -> 'sources[0].tables[1].format'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "literal[", "int", "str")) or not out:
            out += ("." if out else "") + part
    return out


def _to_config_error(file: str, exc: ValidationError) -> ConfigError:
    errors = exc.errors(include_url=False)
    lines = []
    for err in errors[:10]:
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required key is missing"
        lines.append((key_path(tuple(err["loc"])), msg))
    if len(lines) == 1:
        return ConfigError(file, lines[0][0], lines[0][1])
    detail = "\n".join(f"  {k or '(top)'}: {m}" for k, m in lines)
    more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
    return ConfigError(file, lines[0][0], f"{lines[0][1]}\n{len(errors)} problems:\n{detail}{more}")
