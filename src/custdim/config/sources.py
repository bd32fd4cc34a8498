"""``sources:`` — where customer and activity data come from."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator, model_validator

from custdim.config.base import Model, check_identifier

# Types a user may declare for a column; anything undeclared in a CSV lands as text so that identifiers,
# postcodes and phone numbers keep their leading zeros.
_SIMPLE_TYPES = ("string", "int", "bigint", "double", "boolean", "date", "timestamp")
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")
FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def check_column_type(value: str) -> str:
    """Validate a declared column type such as ``date`` or ``decimal(12,2)``."""
    v = value.strip().lower()
    if v in _SIMPLE_TYPES:
        return v
    m = _DECIMAL.match(v)
    if m and int(m.group(2)) <= int(m.group(1)) <= 38:
        return f"decimal({m.group(1)},{m.group(2)})"
    raise ValueError(f"unknown column type {value!r}; valid types: {', '.join(_SIMPLE_TYPES)}, decimal(p,s)")


class FileTable(Model):
    """One table read from a file (or a folder/glob of files of one format)."""

    name: str
    path: str = Field(
        description="File, folder or glob; relative paths resolve against the project folder; .gz files are unpacked."
    )
    format: Literal["csv", "parquet", "jsonl"] | None = None
    primary_key: str
    columns: dict[str, str] = Field(default_factory=dict, description="Declared column types.")
    delimiter: str = ","
    header: bool = True
    column_names: list[str] | None = None
    encoding: str = "utf-8"
    quote: str = '"'

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_identifier(v, "table name")

    @field_validator("columns")
    @classmethod
    def _types(cls, v: dict[str, str]) -> dict[str, str]:
        return {col: check_column_type(t) for col, t in v.items()}

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if v == "\\t":
            v = "\t"
        if len(v) != 1:
            raise ValueError(f"must be a single character, got {v!r}")
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str) -> str:
        import codecs

        try:
            text_codec = codecs.lookup(v)._is_text_encoding
        except LookupError:
            text_codec = False
        if not text_codec:  # 'base64', 'zlib' and the like are codecs, but not text encodings
            raise ValueError(f"unknown encoding {v!r}; common valid values: utf-8, utf-8-sig, latin-1, cp1252, utf-16")
        return v

    @model_validator(mode="after")
    def _checks(self) -> FileTable:
        if self.format is None:
            path = PurePosixPath(self.path)
            if path.suffix.lower() == ".gz":  # contacts.csv.gz: a compressed CSV, read transparently
                path = path.with_suffix("")
            suffix = path.suffix.lower()
            if suffix not in _EXTENSIONS:
                raise ValueError(
                    f"cannot tell the format of {self.path!r} from its extension; "
                    f"set format to one of: {', '.join(FORMATS)}"
                )
            object.__setattr__(self, "format", _EXTENSIONS[suffix])
        if not self.header and not self.column_names:
            raise ValueError("a CSV without a header row needs column_names")
        return self

    @property
    def file_format(self) -> str:
        assert self.format is not None  # set by the validator
        return self.format


class FilesSource(Model):
    """``type: files`` — tables landed from CSV, Parquet or JSON Lines files."""

    name: str
    type: Literal["files"] = "files"
    tables: list[FileTable] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_identifier(v, "source name")

    @model_validator(mode="after")
    def _unique_tables(self) -> FilesSource:
        seen: set[str] = set()
        for t in self.tables:
            if t.name in seen:
                raise ValueError(f"table {t.name!r} is listed twice in source {self.name!r}")
            seen.add(t.name)
        return self


Source = FilesSource
