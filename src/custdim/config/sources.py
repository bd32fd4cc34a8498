"""``sources:`` — where customer and activity data come from."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

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


class _Table(Model):
    """What every source table has: a name, a primary key and declared column types."""

    name: str
    primary_key: str
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Declared column types, applied strictly; they override a source's own types (database, CDM).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_identifier(v, "table name")

    @field_validator("columns")
    @classmethod
    def _types(cls, v: dict[str, str]) -> dict[str, str]:
        return {col: check_column_type(t) for col, t in v.items()}


class _Source(Model):
    """What every source has: a name, and tables named once each."""

    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_identifier(v, "source name")

    @model_validator(mode="after")
    def _unique_tables(self) -> _Source:
        seen: set[str] = set()
        for t in getattr(self, "tables", []):
            if t.name in seen:
                raise ValueError(f"table {t.name!r} is listed twice in source {self.name!r}")
            seen.add(t.name)
        return self


class ChangeFolders(Model):
    """``incremental:`` of a files table: the folder holds ``FullData/`` and
    ``IncrementalData/yyyy/mm/dd/hh/{Upserts,Deletes}/`` (Customer Insights' incremental folder contract)."""

    modified: str = Field(description="The last-modified column: for one key, the row modified last wins.")


class FileTable(_Table):
    """One table read from a file (or a folder/glob of files of one format)."""

    path: str = Field(
        description="File, folder or glob; relative paths resolve against the project folder; .gz files are unpacked."
    )
    format: Literal["csv", "parquet", "jsonl"] | None = None
    delimiter: str = ","
    header: bool = True
    column_names: list[str] | None = None
    encoding: str = "utf-8"
    quote: str = '"'
    incremental: ChangeFolders | None = Field(
        default=None, description="`path` is a folder of full data and dated upserts and deletes."
    )

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
        if self.incremental is not None and self.format != "parquet":
            modified = self.incremental.modified
            if self.columns.get(modified) not in ("timestamp", "date"):
                # Text would be compared as text: '2024-9-1' after '2024-10-1'.
                raise ValueError(
                    f"incremental.modified: declare the last-modified column's type, "
                    f"e.g. columns: {{{modified}: timestamp}} (valid: timestamp, date)"
                )
        return self

    @property
    def file_format(self) -> str:
        assert self.format is not None  # set by the validator
        return self.format


class FilesSource(_Source):
    """``type: files`` — tables landed from CSV, Parquet or JSON Lines files."""

    type: Literal["files"] = "files"
    tables: list[FileTable] = Field(min_length=1)


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# scheme://user:password@host: a password written into the project file rather than taken from the environment.
_URL_PASSWORD = re.compile(r"^[\w+.-]+://[^/@:]*:([^/@]*)@")


def env_references(text: str) -> list[str]:
    """The environment variables ``${NAME}`` references in ``text`` names, in order."""
    return _ENV_REF.findall(text)


class SqlCursor(Model):
    """``incremental:`` of a database table: read only rows whose cursor column reached the last run's highest."""

    cursor: str = Field(description="A column that grows when a row is inserted or updated (updated_at, a sequence).")


class SqlTable(_Table):
    """One table of a database source: a whole table (``table:``) or the rows of a query (``query:``)."""

    table: str | None = Field(default=None, description="Table or view, optionally schema-qualified (sales.members).")
    query: str | None = Field(default=None, description="A SELECT whose rows are the table (read-only).")
    chunk_rows: int = Field(default=50_000, ge=1, description="Rows fetched and written per chunk.")
    incremental: SqlCursor | None = None

    @model_validator(mode="after")
    def _one_of(self) -> SqlTable:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` (a table or view name) or `query` (a SELECT)")
        if self.table is not None and not re.fullmatch(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}", self.table):
            raise ValueError(f"table {self.table!r} is not a table name ([catalog.][schema.]table); use `query:`")
        return self


class SqlSource(_Source):
    """``type: sql`` — tables read from a database through a SQLAlchemy URL.

    Secrets never sit in the project file: the URL names environment variables (``url: ${POS_DB_URL}``, or
    ``postgresql://etl:${POS_DB_PASSWORD}@db/pos``), resolved when the source is read.
    """

    type: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL; ${NAME} is replaced by the environment variable NAME.")
    tables: list[SqlTable] = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _no_plain_password(cls, v: str) -> str:
        m = _URL_PASSWORD.match(v)
        if m and m.group(1) and not _ENV_REF.fullmatch(m.group(1)):
            raise ValueError(
                "the URL holds a password in plain text; take it from the environment instead, "
                "e.g. url: ${POS_DB_URL} or postgresql://user:${POS_DB_PASSWORD}@host/db"
            )
        return v


class CdmTable(_Table):
    """One entity of a CDM folder, landed as a table."""

    entity: str | None = Field(default=None, description="The entity's name in the manifest; defaults to `name`.")

    @property
    def entity_name(self) -> str:
        return self.entity or self.name


class CdmSource(_Source):
    """``type: cdm`` — entities of a Common Data Model folder (``*.manifest.cdm.json`` or ``model.json``)."""

    type: Literal["cdm"]
    manifest: str = Field(description="Path or URL of the folder's *.manifest.cdm.json or model.json.")
    tables: list[CdmTable] = Field(min_length=1)

    @field_validator("manifest")
    @classmethod
    def _manifest_file(cls, v: str) -> str:
        leaf = v.rstrip("/").rsplit("/", 1)[-1]
        if not (leaf.endswith(".manifest.cdm.json") or leaf == "model.json"):
            raise ValueError(f"{v!r} is neither a *.manifest.cdm.json nor a model.json file")
        return v


SOURCE_TYPES = ("files", "sql", "cdm")


def _source_type(value: object) -> str | None:
    # `type` may be left out for files (projects written before other source types existed).
    kind = value.get("type", "files") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in SOURCE_TYPES else None


if TYPE_CHECKING:
    Source = FilesSource | SqlSource | CdmSource
else:
    Source = Annotated[
        Annotated[FilesSource, Tag("files")] | Annotated[SqlSource, Tag("sql")] | Annotated[CdmSource, Tag("cdm")],
        Discriminator(
            _source_type,
            custom_error_type="source_type",
            custom_error_message=f"unknown source type; valid types: {', '.join(SOURCE_TYPES)}",
        ),
    ]
SourceTable = FileTable | SqlTable | CdmTable
