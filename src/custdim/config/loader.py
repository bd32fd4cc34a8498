"""Read ``custdim.yaml`` into a :class:`ProjectConfig`; every problem becomes a ConfigError naming file and key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from custdim.config.project import CrossCheckError, ProjectConfig
from custdim.config.sources import SOURCE_TYPES
from custdim.config.unify import Condition, Rule
from custdim.errors import ConfigError

PROJECT_FILE = "custdim.yaml"
MAX_LISTED = 10
# Parts of a pydantic error location that name a union member or validator, not a key of the file.
_NOT_A_KEY = re.compile(r"^(int|str|float|bool|none)$|^[\w-]+\[.*\]$")


class _DuplicateKey(Exception):
    def __init__(self, path: str, mark: yaml.Mark, first: yaml.Mark) -> None:
        self.path, self.mark, self.first = path, mark, first
        super().__init__(path)


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping: plain YAML keeps the last one without a word."""

    def construct_document(self, node: yaml.Node) -> Any:
        """Check the whole document for repeated keys, then build it as SafeLoader does."""
        _check_unique_keys(node, "", set())
        return super().construct_document(node)


def _check_unique_keys(node: yaml.Node, path: str, seen: set[int]) -> None:
    if id(node) in seen:  # anchors and aliases share nodes, and may even refer to themselves
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                _check_unique_keys(value_node, path, seen)
                continue
            child = f"{path}.{key_node.value}" if path else str(key_node.value)
            ident = (key_node.tag, key_node.value)
            if ident in first:
                raise _DuplicateKey(child, key_node.start_mark, first[ident].start_mark)
            first[ident] = key_node
            _check_unique_keys(value_node, child, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_unique_keys(item, f"{path}[{i}]", seen)


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
    text = read_project_text(file)
    try:
        data: Any = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(
            str(file),
            exc.path,
            f"key given twice (line {exc.mark.line + 1}, column {exc.mark.column + 1}; first at line "
            f"{exc.first.line + 1}): YAML would silently keep the last one; remove one of them",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise ConfigError(str(file), f"line {line}", f"not valid YAML: character {char} is not allowed") from None
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
    check_referenced_files(config)
    return config


def read_project_text(file: Path) -> str:
    """The project file as text: it must be UTF-8 (a byte-order mark is allowed)."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(str(file), "", f"cannot read the project file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            str(file),
            f"line {line}",
            f"not UTF-8 at byte {exc.start} (0x{raw[exc.start]:02x}); save it as UTF-8",
        ) from None


def _rule_conditions(config: ProjectConfig) -> Iterator[tuple[str, Condition]]:
    """Every condition of every rule and exception, with its key path."""
    unify = config.unify
    rule_sets: list[tuple[str, list[Rule]]] = [
        (f"unify.dedupe[{i}].rules", d.rules) for i, d in enumerate(unify.dedupe)
    ]
    rule_sets += [("unify.match.rules", unify.match.rules)] if unify.match else []
    for prefix, rules in rule_sets:
        for r, rule in enumerate(rules):
            for c, cond in enumerate(rule.conditions):
                yield f"{prefix}[{r}].conditions[{c}]", cond
            for e, exception in enumerate(rule.exceptions):
                for c, cond in enumerate(exception):
                    yield f"{prefix}[{r}].exceptions[{e}][{c}]", cond


def referenced_files(config: ProjectConfig) -> list[tuple[str, str]]:
    """(key path, resolved path) of every list file the project names: aliases, bypass, always/never_match."""
    out: list[tuple[str, str]] = []
    for where, cond in _rule_conditions(config):
        if cond.aliases is not None:
            out.append((f"{where}.aliases", config.resolve(cond.aliases)))
        if isinstance(cond.bypass, str):
            out.append((f"{where}.bypass", config.resolve(cond.bypass)))
    match = config.unify.match
    for key, spec in (("always_match", match.always_match), ("never_match", match.never_match)) if match else ():
        if spec is not None:
            out.append((f"unify.match.{key}", config.resolve(spec)))
    return out


def check_referenced_files(config: ProjectConfig) -> None:
    """Files named by the project must exist and be UTF-8 now, not only when a stage deep into a run opens them."""
    problems = []
    for key, path in referenced_files(config):
        if "://" in path:
            continue
        if not Path(path).is_file():
            problems.append((key, f"file not found: {path} (relative paths resolve against the project folder)"))
            continue
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            problems.append((key, f"cannot read {path}: {exc.strerror or exc}"))
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                (key, f"{path} is not UTF-8 at byte {exc.start} (0x{raw[exc.start]:02x}); save it as UTF-8")
            )
    if problems:
        raise config_error(config.file, problems)


def key_path(loc: tuple[int | str, ...]) -> str:
    """('sources', 0, 'tables', 1, 'format') -> 'sources[0].tables[1].format'."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i == 2 and loc[0] == "sources" and part in SOURCE_TYPES:
            continue  # the tag of the source type's union member, not a key
        elif not _NOT_A_KEY.match(part) or not out:
            out += ("." if out else "") + part
    return out


def config_error(file: str, problems: list[tuple[str, str]]) -> ConfigError:
    """One ConfigError for (key path, message) problems: the first one, then the list when there are several."""
    key, message = problems[0]
    if len(problems) == 1:
        return ConfigError(file, key, message)
    detail = "\n".join(f"  {k or '(top)'}: {m}" for k, m in problems[:MAX_LISTED])
    more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return ConfigError(file, key, f"{message}\n{len(problems)} problems:\n{detail}{more}")


def _to_config_error(file: str, exc: ValidationError) -> ConfigError:
    problems = []
    for err in exc.errors(include_url=False):
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required key is missing"
        problems.append((key_path(tuple(err["loc"])), msg))
    return config_error(file, problems)
