"""The published views as DDL for other engines: one base object per entity, then the derived views.

The derived views are the same Ibis expressions the DuckDB catalog uses (:func:`derived_views`), compiled for each
engine by Ibis and qualified with the target schema; the base objects are built as sqlglot trees. Every statement is
rendered by sqlglot, so names and paths are quoted by the target dialect's rules, never pasted into SQL text.

What each dialect gets:

- ``duckdb``: ``CREATE OR REPLACE VIEW "Customer" AS SELECT * FROM read_parquet(['<folder>/*.parquet'])`` (or
  ``delta_scan('<folder>')``), in the default schema like custdim's own catalog, so the same queries work.
- ``synapse`` (serverless SQL pool): ``CREATE OR ALTER VIEW [schema].[Customer]`` over ``OPENROWSET(BULK ...)``.
  The schema must exist (T-SQL has no ``CREATE SCHEMA IF NOT EXISTS``); batches are separated by ``GO`` because
  ``CREATE VIEW`` must start a batch. T-SQL has no arrays: every list a view aggregates (``.collect()``, e.g.
  dim_customer's TopBrands, TopInterests and Segments) becomes a comma-separated string,
  ``STRING_AGG(x, ', ') WITHIN GROUP (ORDER BY ...)``, by rewriting the Ibis expression before it is compiled.
- ``spark``: ``CREATE SCHEMA IF NOT EXISTS``, then per entity ``DROP TABLE IF EXISTS`` and ``CREATE TABLE ... USING
  PARQUET|DELTA LOCATION '<folder>'``. The tables are external (they have a LOCATION), so dropping one forgets the
  catalog entry and keeps the files; re-running the script after a new publish points the tables at the new
  snapshot (``CREATE TABLE IF NOT EXISTS`` would keep reading the old one). Ibis cannot compile an ordered
  ``.collect()`` for Spark: those become ``TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(keys, value))), p -> p.v)``.
- ``trino``: parquet through the Hive connector (catalog ``hive``): ``DROP TABLE IF EXISTS`` and ``CREATE TABLE
  hive.schema."Customer" (<columns>) WITH (external_location = '<folder>', format = 'PARQUET')``; delta through the
  Delta Lake connector (catalog ``delta``): ``CALL delta.system.register_table(...)``. Derived views are
  ``CREATE OR REPLACE VIEW <catalog>.schema.<view>``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any, ClassVar

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel
from sqlglot.generators.tsql import TSQLGenerator

from custdim.errors import StageError, UsageError
from custdim.lake.cdm import manifest_from_json
from custdim.stages.publish.snapshots import manifest_snapshot
from custdim.stages.publish.views import derived_views

DIALECTS = ("duckdb", "synapse", "spark", "trino")
FORMATS = ("parquet", "delta")
IBIS_DIALECT = {"duckdb": "duckdb", "synapse": "mssql", "spark": "pyspark", "trino": "trino"}
"""The Ibis compiler each dialect's derived views are compiled with."""
SQLGLOT_DIALECT = {"duckdb": "duckdb", "synapse": "tsql", "spark": "spark", "trino": "trino"}
"""The sqlglot dialect that parses each dialect's statements."""
TRINO_CATALOG = {"parquet": "hive", "delta": "delta"}
"""The Trino catalog (and connector) that reads each format."""
LIST_SEPARATOR = ", "
"""How T-SQL views join the items of a list column."""
STATEMENT_END = {"synapse": ";\nGO\n\n"}
DEFAULT_END = ";\n\n"

ENGINE_NAMES = {
    "duckdb": "DuckDB",
    "synapse": "Azure Synapse serverless SQL pool",
    "spark": "Spark SQL",
    "trino": "Trino",
}


def render_ddl(
    dialect: str,
    doc: dict[str, Any],
    schemas: dict[str, pa.Schema],
    location: str,
    fmt: str = "parquet",
    schema_name: str = "custdim",
) -> str:
    """The DDL script for ``dialect``: a comment header, then every statement of :func:`ddl_statements`.

    ``doc`` is the published manifest document, ``schemas`` the Arrow schema of each of its entities and
    ``location`` the export folder's URL as the target engine sees it. The output depends on nothing else, so the
    same inputs always give the same text.
    """
    statements = ddl_statements(dialect, doc, schemas, location, fmt, schema_name)
    end = STATEMENT_END.get(dialect, DEFAULT_END)
    return _header(dialect, doc, location, fmt, schema_name) + "\n" + "".join(s + end for s in statements)


def ddl_statements(
    dialect: str,
    doc: dict[str, Any],
    schemas: dict[str, pa.Schema],
    location: str,
    fmt: str = "parquet",
    schema_name: str = "custdim",
) -> list[str]:
    """The statements of :func:`render_ddl`, each without its terminator."""
    if dialect not in DIALECTS:
        raise UsageError(f"--dialect must be one of {', '.join(DIALECTS)}; got {dialect!r}")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if not location or any(ord(c) < 32 for c in location):
        raise UsageError(f"--location must be a non-empty URL or path without control characters; got {location!r}")
    if not schema_name or any(ord(c) < 32 for c in schema_name):
        raise UsageError(f"the schema name must be non-empty, without control characters; got {schema_name!r}")
    folders = entity_folders(doc)
    missing = [name for name in folders if name not in schemas]
    if missing:
        raise StageError(f"no schema for the published entities {', '.join(missing)}")
    root = location.rstrip("/") or location
    paths = {name: f"{root}/{folder}" for name, folder in folders.items()}
    entity_schemas = {name: schemas[name] for name in folders}
    target = _Target(dialect, fmt, schema_name, set(folders))
    out = [_render(dialect, s) for s in _base_statements(target, paths, entity_schemas)]
    for name, view in derived_views(entity_schemas).items():
        out.append(_derived_view(target, name, view))
    return out


def entity_folders(doc: dict[str, Any]) -> dict[str, str]:
    """Each entity's partition folder relative to the export folder, in manifest order."""
    _, entities = manifest_from_json(doc)
    folders = {}
    for name, _, locations in entities:
        dirs = sorted({posixpath.dirname(loc) for loc in locations})
        if len(dirs) != 1:
            found = ", ".join(dirs) or "none"
            raise StageError(f"entity {name} of the manifest needs its partitions in one folder; found: {found}")
        folders[name] = dirs[0]
    return folders


def pbids(host: str, port: int, database: str) -> dict[str, Any]:
    """A Power BI data source file (``.pbids``) that opens a DirectQuery connection to a PostgreSQL endpoint.

    Power BI asks for the credentials when the file is opened; none are stored in it.
    """
    return {
        "version": "0.1",
        "connections": [
            {
                "details": {
                    "protocol": "postgresql",
                    "address": {"server": f"{host}:{port}", "database": database},
                    "authentication": None,
                    "query": None,
                },
                "options": {},
                "mode": "DirectQuery",
            }
        ],
    }


class _Target:
    """Where the objects go: the dialect, the data format, and how to name an entity's or a view's object."""

    def __init__(self, dialect: str, fmt: str, schema_name: str, entities: set[str]) -> None:
        self.dialect = dialect
        self.fmt = fmt
        self.schema_name = schema_name
        self.entities = entities
        self.catalog = TRINO_CATALOG[fmt] if dialect == "trino" else None

    def schema(self) -> exp.Table:
        """The schema as a (catalog-qualified) name, for CREATE SCHEMA."""
        return exp.Table(this=_ident(self.schema_name, False), db=_ident(self.catalog, False))

    def table(self, name: str) -> exp.Table:
        """The object of an entity or a view: unqualified for DuckDB, schema- (and catalog-) qualified otherwise.

        Object names are quoted (they keep their case where the engine keeps case); Spark's are quoted only when
        they need to be (Spark ignores case, and ``custdim.Customer`` reads better).
        """
        quoted = self.dialect != "spark"
        if self.dialect == "duckdb":
            return exp.Table(this=_ident(name, True))
        if self.dialect == "trino" and self.fmt == "delta" and name in self.entities:
            # register_table stores the name lowercased, unquoted; the views refer to it the same way.
            return exp.Table(
                this=_ident(name.lower(), False),
                db=_ident(self.schema_name, False),
                catalog=_ident(self.catalog, False),
            )
        return exp.Table(
            this=_ident(name, quoted),
            db=_ident(self.schema_name, self.dialect == "synapse"),
            catalog=_ident(self.catalog, False),
        )


def _ident(name: str | None, quoted: bool) -> exp.Identifier | None:
    """An identifier, quoted when asked to or when the name needs it (spaces, quotes, leading digits)."""
    if name is None:
        return None
    return exp.to_identifier(name, quoted=True) if quoted else exp.to_identifier(name)


# ---------------------------------------------------------------------------------------------------------------
# Base objects.


def _base_statements(target: _Target, paths: dict[str, str], schemas: dict[str, pa.Schema]) -> list[exp.Expr]:
    build: dict[str, Callable[[_Target, str, str, pa.Schema], list[exp.Expr]]] = {
        "duckdb": _duckdb_base,
        "synapse": _synapse_base,
        "spark": _spark_base,
        "trino": _trino_base,
    }
    out: list[exp.Expr] = []
    if target.dialect in ("spark", "trino"):
        out.append(exp.Create(this=target.schema(), kind="SCHEMA", exists=True))
    for name, path in paths.items():
        out += build[target.dialect](target, name, path, schemas[name])
    return out


def _view(target: _Target, name: str, query: exp.Expr) -> exp.Create:
    return exp.Create(this=target.table(name), kind="VIEW", replace=True, expression=query)


def _duckdb_base(target: _Target, name: str, path: str, schema: pa.Schema) -> list[exp.Expr]:
    if target.fmt == "delta":
        source: exp.Expr = exp.func("delta_scan", exp.Literal.string(path))
    else:
        source = exp.func("read_parquet", exp.Array(expressions=[exp.Literal.string(f"{path}/*.parquet")]))
    return [_view(target, name, sqlglot.select("*").from_(source))]


class OpenRowset(exp.Expression):
    """T-SQL's ``OPENROWSET(BULK '<url>', FORMAT = '<format>')``, which sqlglot can neither parse nor build."""

    arg_types: ClassVar[dict[str, bool]] = {"bulk": True, "format": True}


def _synapse_base(target: _Target, name: str, path: str, schema: pa.Schema) -> list[exp.Expr]:
    if target.fmt == "delta":
        rowset = OpenRowset(bulk=exp.Literal.string(f"{path}/"), format=exp.Literal.string("DELTA"))
    else:
        rowset = OpenRowset(bulk=exp.Literal.string(f"{path}/*.parquet"), format=exp.Literal.string("PARQUET"))
    source = exp.Table(this=rowset, alias=exp.TableAlias(this=_ident("r", True)))
    return [_view(target, name, sqlglot.select("*").from_(source))]


def _spark_base(target: _Target, name: str, path: str, schema: pa.Schema) -> list[exp.Expr]:
    properties = exp.Properties(
        expressions=[
            exp.FileFormatProperty(this=exp.Var(this=target.fmt.upper())),
            exp.LocationProperty(this=exp.Literal.string(path)),
        ]
    )
    return [
        exp.Drop(tables=[target.table(name)], kind="TABLE", exists=True),
        exp.Create(this=target.table(name), kind="TABLE", properties=properties),
    ]


def _trino_base(target: _Target, name: str, path: str, schema: pa.Schema) -> list[exp.Expr]:
    if target.fmt == "delta":
        args = {"schema_name": target.schema_name, "table_name": name.lower(), "table_location": path}
        call = exp.Anonymous(
            this="register_table",
            expressions=[exp.Kwarg(this=_ident(k, False), expression=exp.Literal.string(v)) for k, v in args.items()],
        )
        procedure = exp.Dot.build([exp.to_identifier(TRINO_CATALOG["delta"]), exp.to_identifier("system"), call])
        # sqlglot parses CALL as a command whose text it keeps: render the call itself with sqlglot.
        text = procedure.sql(dialect="trino", normalize_functions=False, unsupported_level=ErrorLevel.RAISE)
        return [exp.Command(this="CALL", expression=exp.Literal.string(text))]
    columns = [exp.ColumnDef(this=_ident(f.name, True), kind=trino_type(f.type, f"{name}.{f.name}")) for f in schema]
    properties = exp.Properties(
        expressions=[
            exp.Property(this=exp.to_identifier("external_location"), value=exp.Literal.string(path)),
            exp.Property(this=exp.to_identifier("format"), value=exp.Literal.string("PARQUET")),
        ]
    )
    return [
        exp.Drop(tables=[target.table(name)], kind="TABLE", exists=True),
        exp.Create(this=exp.Schema(this=target.table(name), expressions=columns), kind="TABLE", properties=properties),
    ]


_TRINO_SCALARS: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_int8, "TINYINT"),
    (pa.types.is_int16, "SMALLINT"),
    (pa.types.is_int32, "INTEGER"),
    (pa.types.is_int64, "BIGINT"),
    (pa.types.is_uint8, "SMALLINT"),
    (pa.types.is_uint16, "INTEGER"),
    (pa.types.is_uint32, "BIGINT"),
    (pa.types.is_uint64, "DECIMAL(20, 0)"),
    (pa.types.is_float16, "REAL"),
    (pa.types.is_float32, "REAL"),
    (pa.types.is_float64, "DOUBLE"),
    (pa.types.is_string, "VARCHAR"),
    (pa.types.is_large_string, "VARCHAR"),
    (pa.types.is_binary, "VARBINARY"),
    (pa.types.is_large_binary, "VARBINARY"),
    (pa.types.is_date, "DATE"),
    # The Hive connector declares timestamps at its configured precision, milliseconds unless the catalog says
    # otherwise (a CREATE TABLE with timestamp(6) fails there), and has no zoned type: Parquet's UTC-adjusted
    # timestamps are read as plain timestamps.
    (pa.types.is_timestamp, "TIMESTAMP(3)"),
]


def trino_type(dtype: pa.DataType, column: str = "") -> exp.DataType:
    """The Trino (Hive connector) column type of an Arrow type; StageError naming the column when there is none."""
    if pa.types.is_dictionary(dtype):
        return trino_type(dtype.value_type, column)
    if pa.types.is_decimal(dtype):
        return exp.DataType.build(f"DECIMAL({dtype.precision}, {dtype.scale})", dialect="trino")
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        inner = trino_type(dtype.value_type, column)
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[inner], nested=True)
    if pa.types.is_map(dtype):
        key, item = trino_type(dtype.key_type, column), trino_type(dtype.item_type, column)
        return exp.DataType(this=exp.DataType.Type.MAP, expressions=[key, item], nested=True)
    if pa.types.is_struct(dtype):
        fields = [
            exp.ColumnDef(this=_ident(f.name, True), kind=trino_type(f.type, f"{column}.{f.name}")) for f in dtype
        ]
        return exp.DataType(this=exp.DataType.Type.STRUCT, expressions=fields, nested=True)
    for check, name in _TRINO_SCALARS:
        if check(dtype):
            return exp.DataType.build(name, dialect="trino")
    raise StageError(f"column {column} has the type {dtype}, which Trino's Hive connector cannot declare")


# ---------------------------------------------------------------------------------------------------------------
# Derived views.


class _PySparkOptions(ibis.config.Config):  # type: ignore[misc]
    """The one option Ibis's PySpark compiler reads, with the backend's default, for when pyspark is absent."""

    treat_nan_as_null: bool = False


def _ensure_pyspark_options() -> None:
    # Ibis registers the PySpark compiler's options only when its backend (and pyspark) loads; writing Spark DDL
    # needs neither.
    if getattr(ibis.options, "pyspark", None) is None:
        ibis.options.pyspark = _PySparkOptions()


def strings_for_arrays(expr: ir.Table) -> ir.Table:
    """``expr`` with every array aggregation (``.collect()``) replaced by a string aggregation of the items cast to
    text, joined by LIST_SEPARATOR in the same order, for engines without arrays (T-SQL): nulls are skipped as
    before, and a group without items stays null."""

    def replace(node: Any, kwargs: dict[str, Any] | None) -> Any:
        if kwargs is not None:
            node = node.copy(**kwargs)
        if not isinstance(node, ops.ArrayCollect):
            return node
        if node.distinct:
            raise StageError("a view collects distinct values, which T-SQL's STRING_AGG cannot do")
        arg = node.arg if node.arg.dtype.is_string() else ops.Cast(node.arg, dt.string)
        return ops.GroupConcat(arg, sep=LIST_SEPARATOR, order_by=node.order_by, where=node.where)

    return expr.op().replace(replace).to_expr()


def sorted_collects(expr: ir.Table) -> ir.Table:
    """``expr`` with every ordered array aggregation (``.collect(order_by=...)``) spelled as a sort of collected
    ``(keys, value)`` structs, then the values: Ibis cannot compile an ordered collect for Spark, whose
    ``array_sort`` orders structs field by field. Ascending keys only; null values are skipped as before."""

    def replace(node: Any, kwargs: dict[str, Any] | None) -> Any:
        if kwargs is not None:
            node = node.copy(**kwargs)
        if not isinstance(node, ops.ArrayCollect) or not node.order_by:
            return node
        if node.distinct or node.include_null or not all(key.ascending for key in node.order_by):
            raise StageError("a view collects an ordered list Spark cannot build (distinct, nulls or descending)")
        value = node.arg.to_expr()
        fields = {f"k{i}": key.arg.to_expr() for i, key in enumerate(node.order_by)}
        keep = value.notnull() if node.where is None else value.notnull() & node.where.to_expr()
        pairs = ibis.struct({**fields, "v": value}).collect(where=keep)
        return pairs.sort().map(lambda pair: pair.v).op()

    return expr.op().replace(replace).to_expr()


def _derived_view(target: _Target, name: str, view: ir.Table) -> str:
    import ibis.backends.sql.compilers as sc

    if target.dialect == "synapse":
        view = strings_for_arrays(view)
    if target.dialect == "spark":
        view = sorted_collects(view)
        _ensure_pyspark_options()
    compiler = getattr(sc, IBIS_DIALECT[target.dialect]).compiler
    query = compiler.to_sqlglot(view.unbind())
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if not table.args.get("db") and table.name in target.entities and table.name not in ctes:
            qualified = target.table(table.name)
            qualified.set("alias", table.args.get("alias"))
            table.replace(qualified)
    create = _view(target, name, query)
    return str(create.sql(dialect=compiler.dialect, pretty=True, unsupported_level=ErrorLevel.RAISE))


# ---------------------------------------------------------------------------------------------------------------
# Rendering.


def _openrowset_sql(generator: Any, e: OpenRowset) -> str:
    return f"OPENROWSET(BULK {generator.sql(e, 'bulk')}, FORMAT = {generator.sql(e, 'format')})"


class _SynapseGenerator(TSQLGenerator):
    """T-SQL, plus OPENROWSET."""

    TRANSFORMS: ClassVar[dict[type[exp.Expr], Callable[..., str]]] = {
        **TSQLGenerator.TRANSFORMS,
        OpenRowset: _openrowset_sql,
    }


def _render(dialect: str, statement: exp.Expr) -> str:
    if dialect == "synapse":
        generator = _SynapseGenerator(dialect="tsql", pretty=True, unsupported_level=ErrorLevel.RAISE)
        return str(generator.generate(statement))
    return str(statement.sql(dialect=SQLGLOT_DIALECT[dialect], pretty=True, unsupported_level=ErrorLevel.RAISE))


def _header(dialect: str, doc: dict[str, Any], location: str, fmt: str, schema_name: str) -> str:
    snapshot = manifest_snapshot(doc) or "(none)"
    lines = [
        f"custdim: the published customer data as {ENGINE_NAMES[dialect]} objects (`custdim ddl --dialect {dialect}`).",
        f"Export folder: {location}",
        f"Snapshot: {snapshot}; data format: {fmt}.",
        "One object per exported entity, then the derived views (dim_customer, fact_activity, dim_date).",
        "Run it again after every publish: the objects point at one snapshot's folders.",
    ]
    if dialect == "duckdb":
        lines.append("The views go to the default schema, like custdim's own catalog.")
    elif dialect == "synapse":
        create = exp.Create(this=exp.Table(this=_ident(schema_name, True)), kind="SCHEMA").sql(dialect="tsql")
        lines.append(f"Create the schema first if it does not exist: {create}.")
        lines.append(
            "List columns (TopBrands, TopInterests, Segments) are comma-separated strings: T-SQL has no arrays."
        )
    elif dialect == "spark":
        lines.append("The tables are external: dropping one keeps its files.")
    elif dialect == "trino" and fmt == "delta":
        lines.append("A table registered before must be unregistered first: CALL delta.system.unregister_table(...).")
    elif dialect == "trino":
        lines.append("The tables are external (Hive connector): dropping one keeps its files.")
    return "".join(f"-- {line}\n" for line in lines)
