"""Intelligent mapping: suggest a semantic type for each column of a source table.

Two kinds of evidence are combined per column:

- **The column name.** It is split into words (camelCase, snake_case, kebab-case, digits), lower-cased, folded to
  ASCII (``Straße`` -> ``strasse``) and stripped of owner prefixes (``cust_``, ``customer_``, ``contact_``, ``c_``,
  ...). The words are looked up in a synonym table per type (:data:`NAME_SYNONYMS`). An exact match counts more than a
  synonym found inside a longer name (``billing_zip``); words such as ``opt_in``, ``verified`` or ``type`` cancel a
  match (``email_opt_in`` is not an e-mail address).
- **The values.** A sample of non-null values (as text) is checked for e-mail addresses, phone numbers, postal codes,
  dates, given names (the ``nicknames`` package's name list), full names, genders, countries, states, coordinates,
  street lines, one-line addresses and company names.

Name and value evidence that agree reinforce each other. Values that clearly disagree lower the name's confidence, and
clear value evidence can win over a misleading name (a column called ``contact`` holding e-mail addresses becomes
``Identity.Service.Email``). Some columns get no suggestion at all: key-like columns (an id-ish name such as
``contact_id``, ``kundennr``), free text (``notes``, long sentences) and columns of unsupported Arrow types.
A type (precisely: its unified field name) is suggested for at most one column of a table; the most confident column
keeps it.

Custom types are suggested only when the whole column name (after prefix stripping) is one of the phrases in
:data:`CUSTOM_SYNONYMS`, e.g. ``card_number`` / ``loyalty_card`` -> ``Loyalty.CardNumber`` and ``loyalty_id`` ->
``Loyalty.LoyaltyId``. Anything looser (``credit_card_number``, ``member_id``) gets no custom suggestion.

Pure: pyarrow, the standard library and ``nicknames`` only; no I/O beyond reading the package's name list once.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from custdim.semantic.suggest.names import CUSTOM_SYNONYMS, NAME_SYNONYMS
from custdim.semantic.suggest.values import _candidates, _field

__all__ = ["CUSTOM_SYNONYMS", "NAME_SYNONYMS", "Suggestion", "suggest_mapping", "suggestions_yaml"]


@dataclass(frozen=True)
class Suggestion:
    """A suggested ``column: semantic_type`` entry, how sure we are (0..1) and why."""

    column: str
    semantic_type: str
    confidence: float
    reason: str


# Sampling
# --------------------------------------------------------------------------------------------------------------------


def _is_dated(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_date(data_type) or pa.types.is_timestamp(data_type))


def _is_supported(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
        or pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
        or _is_dated(data_type)
    )


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    """Non-empty values as trimmed strings."""
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        column = column.cast(data_type.value_type)
        data_type = column.type
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    array = pc.drop_null(array)
    array = pc.cast(array, pa.string())
    array = pc.utf8_trim_whitespace(array)
    return pc.filter(array, pc.not_equal(array, ""))


def _sample(table: pa.Table, sample_rows: int) -> pa.Table:
    """Evenly spread rows (deterministic), so sorted tables are not judged by their first rows only."""
    n = table.num_rows
    if n <= sample_rows:
        return table
    return table.take(pa.array([i * n // sample_rows for i in range(sample_rows)], pa.int64()))


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def suggest_mapping(table: pa.Table, *, sample_rows: int = 2000) -> list[Suggestion]:
    """Suggest a semantic type for each column of ``table`` that looks like a customer attribute.

    Looks at column names and at up to ``sample_rows`` evenly spread rows (non-null values, as text). Returns
    suggestions in column order; a column gets at most one suggestion, a type (its unified field) at most one column.
    Low-confidence suggestions (down to 0.2) are included so that callers can show them; filter on ``confidence``
    (:func:`suggestions_yaml` does, at 0.5 by default). Key-like columns, free text and columns of nested or binary
    Arrow types get no suggestion.
    """
    if sample_rows < 1:
        raise ValueError(f"sample_rows must be at least 1, got {sample_rows}")
    sample = _sample(table, sample_rows)
    pool: list[tuple[float, int, str, str]] = []
    for index, field in enumerate(table.schema):
        value_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        values: pa.Array | None = None
        if _is_supported(value_type):
            values = _as_text(sample.column(index))
            if len(values) < min(50, sample_rows) and sample.num_rows < table.num_rows:
                # A sparse column: look further than the sample for enough values.
                values = _as_text(table.column(index).drop_null().slice(0, sample_rows))
        elif not pa.types.is_null(value_type):
            continue
        temporal = _is_dated(value_type)
        for conf, semantic_type, reason in _candidates(field.name, values, temporal, str(value_type)):
            pool.append((conf, index, semantic_type, reason))

    # Greedy: the most confident (column, type) pair first; each column and each unified field is used once.
    pool.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken_columns: set[int] = set()
    taken_fields: set[str] = set()
    chosen: dict[int, Suggestion] = {}
    for conf, index, semantic_type, reason in pool:
        if index in taken_columns or _field(semantic_type) in taken_fields:
            continue
        taken_columns.add(index)
        taken_fields.add(_field(semantic_type))
        chosen[index] = Suggestion(table.schema.names[index], semantic_type, round(conf, 3), reason)
    return [chosen[i] for i in sorted(chosen)]


_PLAIN_YAML = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_YAML_SPECIAL = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def _yaml_key(text: str) -> str:
    if _PLAIN_YAML.match(text) and text.lower() not in _YAML_SPECIAL:
        return text
    return json.dumps(text, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def suggestions_yaml(table_name: str, suggestions: Sequence[Suggestion], min_confidence: float = 0.5) -> str:
    """Render suggestions as a ``unify.tables`` entry to paste into ``custdim.yaml``.

    Suggestions with ``confidence >= min_confidence`` become ``column: Type`` lines, each with a comment giving the
    confidence and the reason; weaker ones follow as commented-out lines, so the user sees them without mapping them.
    If no suggestion is confident enough, the whole entry is commented out (an entry needs at least one field).
    """
    active = [s for s in suggestions if s.confidence >= min_confidence]
    weak = [s for s in suggestions if s.confidence < min_confidence]
    entries = [(f"{_yaml_key(s.column)}: {s.semantic_type}", s, "") for s in active]
    entries += [(f"# {_yaml_key(s.column)}: {s.semantic_type}", s, f" (below {min_confidence:.2f})") for s in weak]
    width = max((len(e) for e, _, _ in entries), default=0)
    lines = [f"- table: {_yaml_key(table_name)}", "  fields:"]
    lines += [f"    {e:<{width}}  # {s.confidence:.2f}: {_one_line(s.reason)}{note}" for e, s, note in entries]
    if not active:
        note = f"# {_one_line(table_name)}: no suggestion reached confidence {min_confidence:.2f}"
        lines = [note, *(x if x.lstrip().startswith("#") else f"# {x}" for x in lines)]
    return "".join(f"    {x}\n" for x in lines)
