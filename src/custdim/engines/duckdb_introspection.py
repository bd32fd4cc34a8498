"""Answer the catalog queries of SQL clients (pg_catalog, information_schema) on a private in-memory DuckDB.

Drivers and BI tools discover tables with large catalog queries (pgjdbc's ``getTables``/``getColumns``, SQLAlchemy's
inspector, Power BI's navigator): CASE chains, outer joins, regex operators, ``::regclass`` casts, catalog
functions. Those run here, on tables that describe only the published views, never on the catalog database itself
(whose own system tables would show file paths). Every table and macro a query may touch is created from
``describe()``'s input; a query needing something else fails and the caller falls back to an empty answer.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

PG_SCHEMA = "pgc"
INFO_SCHEMA = "pgis"
OWNER = "custdim"
NAMESPACES = [(11, "pg_catalog"), (2200, "public"), (13000, "information_schema")]
PUBLIC_OID = 2200
FIRST_OID = 16384
TYPES: dict[str, tuple[int, int, str]] = {
    # declared type -> (oid, length, category)
    "boolean": (16, 1, "B"),
    "smallint": (21, 2, "N"),
    "integer": (23, 4, "N"),
    "bigint": (20, 8, "N"),
    "real": (700, 4, "N"),
    "double precision": (701, 8, "N"),
    "numeric": (1700, -1, "N"),
    "date": (1082, 4, "D"),
    "time": (1083, 8, "D"),
    "timestamp": (1114, 8, "D"),
    "timestamptz": (1184, 8, "D"),
    "json": (114, -1, "U"),
    "text": (25, -1, "S"),
    "_text": (1009, -1, "A"),
}
TYPE_NAMES = {"boolean": "bool", "smallint": "int2", "integer": "int4", "bigint": "int8", "real": "float4",
              "double precision": "float8", "numeric": "numeric", "date": "date", "time": "time",
              "timestamp": "timestamp", "timestamptz": "timestamptz", "json": "json", "text": "text",
              "_text": "_text"}  # fmt: skip
TYPE_FORMATS = {
    **{t: t for t in ("boolean", "smallint", "integer", "bigint", "real", "double precision", "numeric", "date")},
    "time": "time without time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "json": "json",
    "text": "text",
    "_text": "text[]",
}
"""What format_type() answers for each type, as PostgreSQL words it."""
MACROS = [
    "CREATE MACRO pg_table_is_visible(x) AS true",
    "CREATE MACRO pg_type_is_visible(x) AS true",
    "CREATE MACRO pg_function_is_visible(x) AS true",
    "CREATE MACRO pg_collation_is_visible(x) AS true",
    f"CREATE MACRO pg_get_userbyid(x) AS '{OWNER}'",
    "CREATE MACRO pg_encoding_to_char(x) AS 'UTF8'",
    # A fixed schema name, not input: the macro reads the private pg_type table.
    f"CREATE MACRO format_type(t, m) AS coalesce((SELECT typformat FROM {PG_SCHEMA}.pg_type WHERE oid = t), 'text')",  # noqa: S608
    "CREATE MACRO obj_description(x) AS NULL::VARCHAR, (x, y) AS NULL::VARCHAR",
    "CREATE MACRO col_description(x, y) AS NULL::VARCHAR",
    "CREATE MACRO shobj_description(x, y) AS NULL::VARCHAR",
    "CREATE MACRO pg_get_expr(x, y) AS NULL::VARCHAR, (x, y, z) AS NULL::VARCHAR",
    "CREATE MACRO pg_get_viewdef(x) AS NULL::VARCHAR, (x, y) AS NULL::VARCHAR",
    "CREATE MACRO pg_get_indexdef(x) AS NULL::VARCHAR, (x, y, z) AS NULL::VARCHAR",
    "CREATE MACRO pg_get_constraintdef(x) AS NULL::VARCHAR, (x, y) AS NULL::VARCHAR",
    "CREATE MACRO pg_get_serial_sequence(x, y) AS NULL::VARCHAR",
    "CREATE MACRO has_table_privilege(x, y) AS true, (x, y, z) AS true",
    "CREATE MACRO has_schema_privilege(x, y) AS true, (x, y, z) AS true",
    "CREATE MACRO has_database_privilege(x, y) AS true, (x, y, z) AS true",
    "CREATE MACRO pg_has_role(x, y) AS false, (x, y, z) AS false",
    "CREATE MACRO current_schemas(x) AS ['pg_catalog', 'public']",
    "CREATE MACRO pg_relation_size(x) AS 0, (x, y) AS 0",
    "CREATE MACRO pg_total_relation_size(x) AS 0",
    "CREATE MACRO txid_current() AS 1",
]
REG_TYPES = frozenset({"regclass", "regtype", "regproc", "regprocedure", "regnamespace", "regrole", "oid"})


def _is_reg_cast(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.sql(dialect="postgres").lower() in REG_TYPES


def _kinds(rows: list[dict[str, Any]], empty: dict[str, str]) -> dict[str, str]:
    """Column kinds of rows built above, from the first row's values (``empty`` when there are no rows)."""
    if not rows:
        return empty
    return {
        k: "TEXT" if isinstance(v, str) else "BOOLEAN" if isinstance(v, bool) else "INT" for k, v in rows[0].items()
    }


def _table(columns: dict[str, str], rows: list[dict[str, Any]]) -> pa.Table:
    kinds = {
        "INT": pa.int64(),
        "TEXT": pa.string(),
        "BOOLEAN": pa.bool_(),
        "DOUBLE": pa.float64(),
        "TEXT[]": pa.list_(pa.string()),
    }
    schema = pa.schema([(name, kinds[kind]) for name, kind in columns.items()])
    return pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows], schema=schema)


class Introspection:
    """Catalog tables for ``views`` (name -> {column: declared type}); ``derived`` are views, the others tables."""

    def __init__(self, views: dict[str, dict[str, str]], derived: frozenset[str], database: str) -> None:
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
        self.relations: dict[str, int] = {}
        tables = self._tables(views, derived, database)
        self._con.execute(f"CREATE SCHEMA {PG_SCHEMA}")
        self._con.execute(f"CREATE SCHEMA {INFO_SCHEMA}")
        for (schema, name), table in tables.items():
            self._con.register("_incoming", table)
            self._con.execute(f'CREATE TABLE {schema}."{name}" AS SELECT * FROM _incoming')  # noqa: S608 - fixed names
            self._con.unregister("_incoming")
        for macro in MACROS:
            self._con.execute(macro)
        # Nothing else may be read or written: no files, no settings.
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")

    def _tables(
        self, views: dict[str, dict[str, str]], derived: frozenset[str], database: str
    ) -> dict[tuple[str, str], pa.Table]:
        classes, attributes, info_tables, info_columns = [], [], [], []
        for i, (name, columns) in enumerate(views.items()):
            oid = FIRST_OID + i
            self.relations[name] = oid
            kind = "v" if name in derived else "r"
            classes.append({"oid": oid, "relname": name, "relnamespace": PUBLIC_OID, "relkind": kind, "relowner": 10,
                            "relam": 2 if kind == "r" else 0, "reltuples": -1, "relpages": 0, "relhasindex": False,
                            "relpersistence": "p", "reltablespace": 0, "relispartition": False,
                            "relrowsecurity": False, "relforcerowsecurity": False, "relreplident": "d",
                            "reloftype": 0, "relhastriggers": False, "relchecks": 0, "relhasrules": kind == "v",
                            "reltoastrelid": 0, "relnatts": len(columns), "relhassubclass": False,
                            "relhasoids": False, "relisshared": False, "reltype": 0})  # fmt: skip
            info_tables.append({"table_catalog": database, "table_schema": "public", "table_name": name,
                                "table_type": "VIEW" if kind == "v" else "BASE TABLE", "is_insertable_into": "NO",
                                "is_typed": "NO"})  # fmt: skip
            for n, (column, declared) in enumerate(columns.items(), start=1):
                type_oid = TYPES.get(declared, TYPES["text"])[0]
                attributes.append({"attrelid": oid, "attname": column, "atttypid": type_oid, "attnum": n,
                                   "attnotnull": False, "atthasdef": False, "attisdropped": False, "attidentity": "",
                                   "attgenerated": "", "attcollation": 0, "atttypmod": -1, "attstattarget": -1,
                                   "attlen": TYPES.get(declared, TYPES["text"])[1], "attndims": 0,
                                   "attislocal": True, "attinhcount": 0})  # fmt: skip
                info_columns.append({"table_catalog": database, "table_schema": "public", "table_name": name,
                                     "column_name": column, "ordinal_position": n, "column_default": None,
                                     "is_nullable": "YES", "data_type": declared,
                                     "udt_name": TYPE_NAMES.get(declared, "text"), "udt_schema": "pg_catalog",
                                     "udt_catalog": database, "is_updatable": "NO"})  # fmt: skip
        types = [{"oid": oid, "typname": TYPE_NAMES[decl], "typnamespace": 11, "typtype": "b", "typlen": length,
                  "typelem": 25 if decl == "_text" else 0, "typbasetype": 0, "typrelid": 0, "typcategory": cat,
                  "typdelim": ",", "typcollation": 100 if cat == "S" else 0, "typnotnull": False, "typtypmod": -1,
                  "typndims": 0, "typowner": 10, "typarray": 1009 if decl == "text" else 0, "typisdefined": True,
                  "typformat": TYPE_FORMATS[decl]}
                 for decl, (oid, length, cat) in TYPES.items()]  # fmt: skip
        text, integer, boolean = "TEXT", "INT", "BOOLEAN"
        pg = {
            "pg_namespace": _table({"oid": integer, "nspname": text, "nspowner": integer, "nspacl": text},
                                   [{"oid": o, "nspname": n, "nspowner": 10} for o, n in NAMESPACES]),
            "pg_class": _table(_kinds(classes, {"oid": integer, "relname": text}), classes),
            "pg_attribute": _table(_kinds(attributes, {"attrelid": integer}), attributes),
            "pg_type": _table(_kinds(types, {}), types),
            "pg_description": _table({"objoid": integer, "classoid": integer, "objsubid": integer,
                                      "description": text}, []),
            "pg_attrdef": _table({"oid": integer, "adrelid": integer, "adnum": integer, "adbin": text}, []),
            "pg_constraint": _table({"oid": integer, "conname": text, "conrelid": integer, "contype": text,
                                     "connamespace": integer, "confrelid": integer, "conkey": text,
                                     "confkey": text, "conindid": integer}, []),
            "pg_index": _table({"indexrelid": integer, "indrelid": integer, "indisprimary": boolean,
                                "indisunique": boolean, "indkey": text, "indnatts": integer}, []),
            "pg_inherits": _table({"inhrelid": integer, "inhparent": integer, "inhseqno": integer}, []),
            "pg_am": _table({"oid": integer, "amname": text, "amtype": text}, [{"oid": 2, "amname": "heap",
                                                                              "amtype": "t"}]),
            "pg_roles": _table({"oid": integer, "rolname": text, "rolsuper": boolean},
                               [{"oid": 10, "rolname": OWNER, "rolsuper": False}]),
            "pg_user": _table({"usesysid": integer, "usename": text}, [{"usesysid": 10, "usename": OWNER}]),
            "pg_database": _table({"oid": integer, "datname": text, "datdba": integer, "encoding": integer,
                                   "datcollate": text, "datctype": text, "datistemplate": boolean,
                                   "datallowconn": boolean, "datacl": "TEXT[]", "datlocprovider": text,
                                   "daticulocale": text, "daticurules": text},
                                  [{"oid": 1, "datname": database, "datdba": 10, "encoding": 6, "datcollate": "C",
                                    "datctype": "C", "datistemplate": False, "datallowconn": True,
                                    "datlocprovider": "c"}]),
            "pg_tables": _table({"schemaname": text, "tablename": text, "tableowner": text},
                                [{"schemaname": "public", "tablename": c["relname"], "tableowner": OWNER}
                                 for c in classes if c["relkind"] == "r"]),
            "pg_views": _table({"schemaname": text, "viewname": text, "viewowner": text, "definition": text},
                               [{"schemaname": "public", "viewname": c["relname"], "viewowner": OWNER}
                                for c in classes if c["relkind"] == "v"]),
            "pg_proc": _table({"oid": integer, "proname": text, "pronamespace": integer}, []),
            "pg_trigger": _table({"oid": integer, "tgname": text, "tgrelid": integer}, []),
            "pg_rewrite": _table({"oid": integer, "rulename": text, "ev_class": integer}, []),
            "pg_collation": _table({"oid": integer, "collname": text, "collnamespace": integer}, []),
            "pg_sequence": _table({"seqrelid": integer, "seqtypid": integer, "seqstart": integer,
                                   "seqincrement": integer, "seqmax": integer, "seqmin": integer,
                                   "seqcache": integer, "seqcycle": boolean}, []),
            "pg_enum": _table({"oid": integer, "enumtypid": integer, "enumlabel": text}, []),
            "pg_settings": _table({"name": text, "setting": text}, [{"name": "max_index_keys", "setting": "32"}]),
            "pg_tablespace": _table({"oid": integer, "spcname": text}, []),
            "pg_extension": _table({"oid": integer, "extname": text}, []),
        }  # fmt: skip
        info = {
            "tables": _table(dict.fromkeys(info_tables[0], text) if info_tables else {"table_name": text}, info_tables),
            "columns": _table(
                {k: (integer if k == "ordinal_position" else text) for k in info_columns[0]}
                if info_columns
                else {"column_name": text},
                info_columns,
            ),
            "schemata": _table({"catalog_name": text, "schema_name": text, "schema_owner": text},
                               [{"catalog_name": database, "schema_name": n, "schema_owner": OWNER}
                                for _, n in NAMESPACES]),
            "views": _table({"table_catalog": text, "table_schema": text, "table_name": text,
                             "view_definition": text},
                            [{"table_catalog": database, "table_schema": "public", "table_name": t["table_name"]}
                             for t in info_tables if t["table_type"] == "VIEW"]),
        }  # fmt: skip
        out = {(PG_SCHEMA, name): table for name, table in pg.items()}
        out.update({(INFO_SCHEMA, name): table for name, table in info.items()})
        return out

    def rewrite(self, tree: exp.Expr) -> str:
        """A client's catalog query (postgres dialect tree) as DuckDB SQL over the private catalog tables."""

        def fix(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Table) and not isinstance(node.this, exp.Func):
                db = (node.db or "").lower()
                name = node.name
                target = INFO_SCHEMA if db == "information_schema" else None
                if db == "pg_catalog" or (not db and name.lower().startswith("pg_")):
                    target = PG_SCHEMA
                if target is not None:
                    moved = node.copy()
                    moved.set("db", exp.to_identifier(target))
                    moved.set("catalog", None)
                    return moved
            if isinstance(node, exp.Column) and (node.text("db") or "").lower() in ("pg_catalog", "information_schema"):
                column = node.copy()
                column.set("db", None)
                column.set("catalog", None)
                return column
            if isinstance(node, exp.Anonymous) and node.name.lower() == "json_build_object":
                return exp.Anonymous(this="json_object", expressions=[e.transform(fix) for e in node.expressions])
            if _is_reg_cast(node):
                inner = node.this
                while _is_reg_cast(inner):
                    inner = inner.this
                if isinstance(inner, exp.Literal) and inner.is_string:
                    # 'name'::regclass is the relation's oid (unknown names: none, as PostgreSQL would fail).
                    oid = self.relations.get(inner.this.split(".")[-1].strip('"'))
                    return exp.Literal.number(oid) if oid is not None else exp.null()
                fixed: exp.Expr = inner.transform(fix)
                return fixed
            return node

        return str(tree.transform(fix).sql(dialect="duckdb"))

    def query(self, sql: str) -> pa.Table:
        with self._lock:
            cur = self._con.cursor()
        try:
            return cur.sql(sql).to_arrow_table()
        finally:
            cur.close()

    def close(self) -> None:
        self._con.close()
