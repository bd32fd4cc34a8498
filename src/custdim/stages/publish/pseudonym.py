"""Pseudonymization of exported fields: a keyed hash (HMAC-SHA256, lower-case hex) in place of each value.

The key never lives in the project file: it comes from an environment variable (``export.secret_env``, by default
CUSTDIM_PSEUDONYM_KEY) or, when that is unset, from ``export.secret_file``. The same key gives the same pseudonym
for the same value in every run and every entity, so exports stay joinable on the hashed fields; without the key a
pseudonym cannot be recomputed from a guessed email or phone number (which a plain hash would allow).
Only the export is pseudonymized: the lake's work zone keeps the values unification needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custdim.contracts import CUSTOMER, MATCH_PAIRS
from custdim.errors import ConfigError

if TYPE_CHECKING:
    from custdim.config.project import ProjectConfig

MIN_KEY_CHARS = 16
BLOCKING_KEY = "BlockingKey"  # holds normalized values of whatever fields a rule blocks on


def load_key(config: ProjectConfig) -> bytes:
    """The pseudonymization key; a ConfigError saying where to put it when it is missing or too short."""
    export = config.export
    key = os.environ.get(export.secret_env, "")
    origin = f"the environment variable {export.secret_env}"
    if not key and export.secret_file:
        path = Path(config.resolve(export.secret_file))
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(config.file, "export.secret_file", f"cannot read the key file {path}: {exc}") from None
        origin = f"the key file {path}"
    if not key:
        where = f" or the file export.secret_file names ({export.secret_file})" if export.secret_file else ""
        raise ConfigError(
            config.file,
            "export.pseudonymize",
            f"pseudonymizing {', '.join(export.pseudonymize)} needs a key: set the environment variable "
            f"{export.secret_env}{where} (at least {MIN_KEY_CHARS} characters; never in the project file)",
        )
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            config.file,
            "export.pseudonymize",
            f"the key in {origin} has {len(key)} characters; use at least {MIN_KEY_CHARS}",
        )
    return key.encode("utf-8")


def columns(config: ProjectConfig) -> dict[str, list[str]]:
    """Which columns of which exported entity are pseudonymized (empty when nothing is)."""
    customer = config.pseudonymized_columns()
    if not customer:
        return {}
    return {CUSTOMER: customer, MATCH_PAIRS: [BLOCKING_KEY]}


def pseudonym(key: bytes, value: str) -> str:
    """The pseudonym of one value (HMAC-SHA256 of its UTF-8 bytes, hex)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_array(key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Replace every non-null value (or list element) by its pseudonym; nulls stay null, lists keep their shape.

    Each distinct value is hashed once: emails and phones repeat across a customer's lists and records.
    """
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array([hash_array(key, c) for c in values.chunks], type=_hashed_type(values.type))
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        flat = hash_array(key, values.flatten())  # the elements of the non-null lists, in order
        lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if pa.types.is_large_list(values.type):
            return pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), flat, mask=values.is_null())
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat, mask=values.is_null())
    text = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    encoded = pc.dictionary_encode(text)
    hashed = pa.array([pseudonym(key, v) for v in encoded.dictionary.to_pylist()], type=pa.string())
    return pc.take(hashed, encoded.indices)


def _hashed_type(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_list(dtype):
        return pa.list_(pa.string())
    if pa.types.is_large_list(dtype):
        return pa.large_list(pa.string())
    return pa.string()


def transform(key: bytes, names: list[str]) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """A batch transform replacing the columns ``names`` of each record batch by their pseudonyms."""

    def apply(batch: pa.RecordBatch) -> pa.RecordBatch:
        cols = [
            hash_array(key, col) if field.name in names else col
            for field, col in zip(batch.schema, batch.columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(cols, schema=hashed_schema(batch.schema, names))

    return apply


def hashed_schema(schema: pa.Schema, names: list[str]) -> pa.Schema:
    """The schema after pseudonymization: hashed columns become text (lists of text)."""
    return pa.schema(
        [pa.field(f.name, _hashed_type(f.type), f.nullable) if f.name in names else f for f in schema],
        metadata=schema.metadata,
    )
