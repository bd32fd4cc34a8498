"""Read the metadata of a Common Data Model folder: an entity's attributes and where its partitions are.

Two kinds of folder are understood: a ``*.manifest.cdm.json`` (with its entity schema documents, sub-manifests
and referenced entities) and the legacy ``model.json`` that Customer Insights and Power BI dataflows write. Only
the JSON is read here, never a partition; files are opened through fsspec, so a folder may sit on a lake.

Locations (see docs/sources-cdm.md):

- relative paths join the folder of the document that names them;
- in manifests and schema documents, corpus paths (``/Contact/part.csv`` or adapter-prefixed ``local:/...``,
  ``adls:/...``) join the *root*: the folder of the manifest named in the project file, where the CDM SDK's
  adapter would be mounted;
- in model.json, whose locations are absolute by definition, ``/...`` is a path on the file system, and an https
  location of a model.json read from a local copy is looked up below that copy's folder;
- URLs (``scheme://...``) are opened as they are.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import fsspec

from custdim.errors import SourceError

MODEL_JSON = "model.json"
DEFAULT_DECIMAL = (38, 10)
"""decimal(p,s) for a Decimal attribute whose precision and scale the metadata leaves open: wide enough for the
values CDM producers write, and a value with more digits is rejected with its reason rather than rounded."""

_MAX_DEPTH = 16  # sub-manifests, referenced entities and base entities nest at most this deep
_CORPUS_PATH = re.compile(r"^([A-Za-z][\w.-]+):/(?!/)(.*)$")  # local:/x, adls:/x; a one-letter prefix is a drive
_DEFINITION_SPLIT = re.compile(r"^(.*?\.cdm\.json)(?:[/#](.*))?$")
# CDM data formats (and model.json / CDM data type names), lower case, -> custdim declared types. Json, Binary
# and names not listed are left undeclared: they land as read (text from CSV, the stored type from Parquet).
_TYPES = {
    "string": "string",
    "char": "string",
    "guid": "string",
    "time": "string",
    "byte": "int",
    "int16": "int",
    "int32": "int",
    "integer": "int",
    "smallinteger": "int",
    "int64": "bigint",
    "biginteger": "bigint",
    "float": "double",
    "double": "double",
    "real": "double",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamp",
    "datetimeoffset": "timestamp",
}


class UnknownEntityError(SourceError):
    """The folder declares no entity of that name (the message lists those it declares)."""


@dataclass(frozen=True)
class CsvSettings:
    """How a CSV partition is written, from the ``is.partition.format.CSV`` trait or model.json settings."""

    header: bool = False  # the trait's columnHeaders has no default; model.json's default is false
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"


@dataclass(frozen=True)
class PartitionFormat:
    kind: str  # csv or parquet
    csv: CsvSettings | None = None


@dataclass(frozen=True)
class Partition:
    """One data partition: a file."""

    location: str  # as written in the metadata, for messages
    url: str  # resolved, for fsspec
    format: PartitionFormat


@dataclass(frozen=True)
class PartitionPattern:
    """Files under ``root`` whose path below it ("/2026/part-1.csv") matches ``regex`` entirely."""

    name: str
    root: str  # resolved, for fsspec
    regex: str
    format: PartitionFormat | None  # None: each file's name says it

    def files(self, where: str) -> list[Partition]:
        """The matching files, sorted by path; SourceError when ``root`` is not a folder."""
        fs, root = fsspec.core.url_to_fs(self.root)
        if not fs.isdir(root):
            raise SourceError(f"{where}: partition pattern {self.name!r}: folder {self.root} not found")
        regex = re.compile(self.regex)
        prefix = self.root[: len(self.root) - len(root)] if self.root.endswith(root) else ""
        out = []
        for path in sorted(fs.find(root)):
            below = "/" + path[len(root) :].lstrip("/")
            if regex.fullmatch(below):
                location = posixpath.join(self.root, below.lstrip("/"))
                fmt = self.format or _format_from_name(path, where, CsvSettings())
                out.append(Partition(location, f"{prefix}{path}" if prefix else path, fmt))
        return out


@dataclass(frozen=True)
class Attribute:
    name: str
    data_format: str  # as the metadata says (Int64, dateTime, ...); "" when it says nothing
    precision: int | None = None
    scale: int | None = None

    @property
    def declared(self) -> str | None:
        """The custdim column type for this attribute (None: land it as read)."""
        fmt = self.data_format.lower()
        if fmt == "decimal":
            p, s = self.precision or DEFAULT_DECIMAL[0], self.scale
            if s is None:
                s = DEFAULT_DECIMAL[1] if self.precision is None else 0
            return f"decimal({p},{min(s, p)})"
        return _TYPES.get(fmt)


@dataclass(frozen=True)
class Entity:
    """What a project needs of one entity: its attributes in order and its partitions in manifest order."""

    name: str
    attributes: list[Attribute]
    partitions: list[Partition] = field(default_factory=list)
    patterns: list[PartitionPattern] = field(default_factory=list)
    root: str = ""  # the folder of the manifest named in the project file

    @property
    def attribute_names(self) -> list[str]:
        return [a.name for a in self.attributes]

    def declared_types(self) -> dict[str, str]:
        return {a.name: t for a in self.attributes if (t := a.declared) is not None}


def load_entity(manifest_url: str, entity: str) -> Entity:
    """The entity named ``entity`` of the manifest (or model.json) at ``manifest_url``.

    Raises SourceError when a document is missing or unreadable, when the entity is not declared (the message
    lists the entities that are) or when its metadata uses a construct this reader does not resolve.
    """
    root = posixpath.dirname(manifest_url)
    if manifest_url.rsplit("/", 1)[-1] == MODEL_JSON:
        return _ModelJson(manifest_url).entity(entity)
    reader = _ManifestReader(root)
    declarations = reader.declarations(manifest_url)
    if entity not in declarations:
        listed = ", ".join(declarations) or "(none)"
        raise UnknownEntityError(f"CDM entity {entity!r} is not in {manifest_url}; its entities: {listed}")
    return reader.entity(*declarations[entity], depth=0)


def entity_names(manifest_url: str) -> list[str]:
    """The entities a manifest (with its sub-manifests) or model.json declares, in order."""
    if manifest_url.rsplit("/", 1)[-1] == MODEL_JSON:
        return list(_ModelJson(manifest_url).entities)
    return list(_ManifestReader(posixpath.dirname(manifest_url)).declarations(manifest_url))


def read_json(url: str, what: str) -> dict[str, Any]:
    """A JSON document through fsspec; SourceError when it is missing or not a JSON object."""
    fs, path = fsspec.core.url_to_fs(url)
    try:
        with fs.open(path, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError:
        raise SourceError(f"{what} {url} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"cannot read {what} {url}: {exc}") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{what} {url} is not a JSON object")
    return doc


def join(base: str, relative: str) -> str:
    """``relative`` joined to the folder ``base`` (a path or a URL), with ``..`` and ``.`` collapsed."""
    scheme, sep, path = base.rpartition("://")
    joined = posixpath.normpath(posixpath.join(path, relative))
    return f"{scheme}{sep}{joined}" if sep else joined


def _resolve(location: str, folder: str, root: str) -> str:
    """A location in a manifest or schema document, as an fsspec path or URL (see the module docstring)."""
    if "://" in location:
        return location
    m = _CORPUS_PATH.match(location)
    if m:
        if m.group(1) == "cdm":
            raise SourceError(f"{location}: the cdm: namespace holds the CDM standard's documents, not data")
        return join(root, m.group(2))
    if location.startswith("/"):
        return join(root, location.lstrip("/"))
    return join(folder, location)


def _text(value: object) -> str:
    """A trait, data type or entity reference: a name, or an object that holds one."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("traitReference", "dataTypeReference", "entityReference", "dataTypeName", "traitName"):
            if key in value:
                return _text(value[key])
    return ""


def _arguments(trait: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, arg in enumerate(trait.get("arguments", [])):
        if isinstance(arg, dict):
            out[str(arg.get("name", i))] = str(arg.get("value", ""))
        else:
            out[str(i)] = str(arg)
    return out


def _csv_from_trait(args: dict[str, str], where: str) -> CsvSettings:
    escape = args.get("escape", "")
    quote = args.get("quote") or '"'
    # The reader takes a doubled quote inside a quoted value; another escape character would be mis-read.
    if escape and escape != quote:
        raise SourceError(f"{where}: CSV escape character {escape!r} is not supported (only a doubled quote)")
    if int(args.get("skipLines") or 0):
        raise SourceError(f"{where}: CSV skipLines is not supported")
    return CsvSettings(
        header=args.get("columnHeaders", "false").strip().lower() == "true",
        delimiter=_unescape(args.get("delimiter") or ","),
        quote=quote,
        encoding=(args.get("encoding") or "utf-8").lower(),
    )


def _unescape(delimiter: str) -> str:
    return "\t" if delimiter in ("\\t", "tab") else delimiter


def _format_from_traits(traits: list[Any], where: str) -> PartitionFormat | None:
    """The format a partition's traits declare (None: they declare none)."""
    for trait in traits:
        name = _text(trait)
        if name == "is.partition.format.parquet":
            return PartitionFormat("parquet")
        if name == "is.partition.format.CSV":
            return PartitionFormat("csv", _csv_from_trait(_arguments(trait) if isinstance(trait, dict) else {}, where))
        if name.startswith("is.partition.format."):
            raise SourceError(f"{where}: partition format {name} is not supported (CSV and Parquet are)")
    return None


def _format_from_name(location: str, where: str, csv: CsvSettings) -> PartitionFormat:
    """Without a format trait, the file name says it."""
    leaf = location.lower().rsplit("/", 1)[-1]
    if leaf.endswith(".parquet"):
        return PartitionFormat("parquet")
    if leaf.endswith((".csv", ".csv.gz")) or "." not in leaf:
        return PartitionFormat("csv", csv)
    raise SourceError(f"{where}: cannot tell the format of partition {location} (no format trait, unknown extension)")


def glob_to_regex(pattern: str) -> str:
    """A CDM globPattern as the regular expression the CDM SDK derives from it (paths start with "/")."""
    out = ["/"]
    i = 1 if pattern.startswith("/") else 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            before = pattern[i - 1] if i else "/"
            after = pattern[i + 2] if i + 2 < len(pattern) else "/"
            if before == "/" and after == "/":
                # A globstar may match no folder at all: "/**/x" also matches "/x".
                out.append(".*" if i + 2 >= len(pattern) else "(?:.*/)?")
                i += 3
                continue
            out.append("[^/]*")
            i += 2
            continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else c if c in "[]" else re.escape(c))
        i += 1
    return "".join(out)


class _ManifestReader:
    """Declarations of a manifest tree and the entities they point at, each document read once."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.docs: dict[str, dict[str, Any]] = {}

    def doc(self, url: str, what: str) -> dict[str, Any]:
        if url not in self.docs:
            self.docs[url] = read_json(url, what)
        return self.docs[url]

    def declarations(self, url: str, depth: int = 0) -> dict[str, tuple[dict[str, Any], str]]:
        """Entity name -> (declaration, URL of the manifest declaring it), sub-manifests after their parent."""
        if depth > _MAX_DEPTH:
            raise SourceError(f"{url}: sub-manifests nest deeper than {_MAX_DEPTH} levels")
        doc = self.doc(url, "CDM manifest")
        out: dict[str, tuple[dict[str, Any], str]] = {}
        for decl in doc.get("entities", []):
            if isinstance(decl, dict) and decl.get("entityName"):
                out.setdefault(str(decl["entityName"]), (decl, url))
        folder = posixpath.dirname(url)
        for sub in doc.get("subManifests", []):
            if isinstance(sub, dict) and sub.get("definition"):
                sub_url = _resolve(str(sub["definition"]), folder, self.root)
                for name, found in self.declarations(sub_url, depth + 1).items():
                    out.setdefault(name, found)
        return out

    def entity(self, decl: dict[str, Any], manifest_url: str, depth: int) -> Entity:
        name = str(decl["entityName"])
        where = f"CDM entity {name!r} in {manifest_url}"
        if depth > _MAX_DEPTH:
            raise SourceError(f"{where}: referenced entities nest deeper than {_MAX_DEPTH} levels")
        folder = posixpath.dirname(manifest_url)
        kind = decl.get("type", decl.get("$type", "LocalEntity"))
        if kind == "ReferencedEntity":
            # "other.manifest.cdm.json/Contact": the entity as that manifest declares it, with its partitions.
            target = str(decl.get("entityDeclaration", ""))
            m = re.match(r"^(.*?\.manifest\.cdm\.json)/(.+)$", target)
            if not m:
                raise SourceError(f"{where}: cannot follow entityDeclaration {target!r} (expected <manifest>/<entity>)")
            other = _resolve(m.group(1), folder, self.root)
            found = self.declarations(other).get(m.group(2))
            if found is None:
                raise SourceError(f"{where}: {m.group(2)!r} is not declared in {other}")
            return self.entity(*found, depth=depth + 1)
        if kind != "LocalEntity":
            raise SourceError(f"{where}: declarations of type {kind!r} are not supported")
        attributes = self.attributes(str(decl.get("entityPath", "")), folder, where, depth)
        partitions = []
        for p in decl.get("dataPartitions", []):
            loc = str(p.get("location", ""))
            traits = p.get("exhibitsTraits", [])
            fmt = _format_from_traits(traits, where) or _format_from_name(loc, where, CsvSettings())
            partitions.append(Partition(loc, _resolve(loc, folder, self.root), fmt))
        patterns = []
        for i, p in enumerate(decl.get("dataPartitionPatterns", [])):
            pname = str(p.get("name") or f"pattern {i}")
            root = _resolve(str(p.get("rootLocation", "")), folder, self.root)
            if p.get("globPattern"):
                regex = glob_to_regex(str(p["globPattern"]))
            else:
                regex = str(p.get("regularExpression") or ".*")
            try:
                re.compile(regex)
            except re.error as exc:
                raise SourceError(
                    f"{where}: partition pattern {pname!r}: bad regular expression {regex!r}: {exc}"
                ) from None
            patterns.append(
                PartitionPattern(pname, root, regex, _format_from_traits(p.get("exhibitsTraits", []), where))
            )
        return Entity(name, attributes, partitions, patterns, self.root)

    def attributes(self, entity_path: str, folder: str, where: str, depth: int) -> list[Attribute]:
        m = _DEFINITION_SPLIT.match(entity_path)
        if not m:
            raise SourceError(
                f"{where}: cannot follow entityPath {entity_path!r} (expected <Entity>.cdm.json/<Entity>)"
            )
        doc_url = _resolve(m.group(1), folder, self.root)
        definition = m.group(2) or posixpath.basename(m.group(1)).removesuffix(".cdm.json")
        return self.definition_attributes(doc_url, definition, where, depth)

    def definition_attributes(self, doc_url: str, definition: str, where: str, depth: int) -> list[Attribute]:
        if depth > _MAX_DEPTH:
            raise SourceError(f"{where}: base entities nest deeper than {_MAX_DEPTH} levels")
        doc = self.doc(doc_url, "CDM entity schema document")
        found = _find_definition(doc, "entityName", definition)
        if found is None:
            raise SourceError(f"{where}: {doc_url} defines no entity {definition!r}")
        out: list[Attribute] = []
        base = _text(found.get("extendsEntity"))
        if base and base != "CdmEntity":  # foundations' CdmEntity adds no attributes
            out += self.base_attributes(base, doc, doc_url, where, depth)
        out += self.members(found.get("hasAttributes", []), doc, where)
        return out

    def base_attributes(self, base: str, doc: dict[str, Any], doc_url: str, where: str, depth: int) -> list[Attribute]:
        """Attributes of an ``extendsEntity`` found in this document, a path to another, or a local import."""
        folder = posixpath.dirname(doc_url)
        unresolved = SourceError(
            f"{where}: cannot resolve the base entity {base!r} (extendsEntity); only base entities defined in the "
            "folder's own documents are read (save the resolved entity with the CDM SDK to use another)"
        )
        m = _DEFINITION_SPLIT.match(base)
        if m:
            if m.group(1).startswith("cdm:"):
                raise unresolved  # a standard entity: resolving it needs the CDM standard's whole corpus
            other = _resolve(m.group(1), folder, self.root)
            name = m.group(2) or posixpath.basename(m.group(1)).removesuffix(".cdm.json")
            return self.definition_attributes(other, name, where, depth + 1)
        if _find_definition(doc, "entityName", base) is not None:
            return self.definition_attributes(doc_url, base, where, depth + 1)
        for imp in doc.get("imports", []):
            path = str(imp.get("corpusPath", "")) if isinstance(imp, dict) else ""
            if path and not path.startswith("cdm:"):
                other = _resolve(path, folder, self.root)
                if _find_definition(self.doc(other, "CDM document"), "entityName", base) is not None:
                    return self.definition_attributes(other, base, where, depth + 1)
        raise unresolved

    def members(self, items: list[Any], doc: dict[str, Any], where: str) -> list[Attribute]:
        out: list[Attribute] = []
        for item in items:
            if not isinstance(item, dict):
                group = _find_definition(doc, "attributeGroupName", str(item))
                if group is None:
                    raise SourceError(f"{where}: cannot resolve the attribute reference {item!r}")
                out += self.members(group.get("members", []), doc, where)
            elif "attributeGroupReference" in item:
                ref = item["attributeGroupReference"]
                group = ref if isinstance(ref, dict) else _find_definition(doc, "attributeGroupName", str(ref))
                if group is None:
                    raise SourceError(f"{where}: cannot resolve the attribute group {ref!r} in its document")
                out += self.members(group.get("members", []), doc, where)
            elif "entity" in item:
                raise SourceError(
                    f"{where}: entity attribute {item.get('name')!r} (an attribute that is an entity) is not "
                    "supported; resolve the entity with the CDM SDK first"
                )
            else:
                out.append(_attribute(item))
        return out


def _find_definition(doc: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
    return next((d for d in doc.get("definitions", []) if isinstance(d, dict) and d.get(key) == name), None)


def _attribute(item: dict[str, Any]) -> Attribute:
    precision = scale = None
    traits = list(item.get("appliedTraits", []))
    data_type = item.get("dataType")
    if isinstance(data_type, dict):
        traits += data_type.get("appliedTraits", [])
    for trait in traits:
        if isinstance(trait, dict) and _text(trait) == "is.dataFormat.numeric.shaped":
            args = _arguments(trait)
            precision = int(args["precision"]) if args.get("precision", "").isdigit() else None
            scale = int(args["scale"]) if args.get("scale", "").isdigit() else None
    return Attribute(str(item.get("name", "")), str(item.get("dataFormat") or _text(data_type)), precision, scale)


class _ModelJson:
    """The legacy model.json: entities with attributes and absolute partition locations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.doc = read_json(url, "model.json")
        self.entities = {
            str(e["name"]): e for e in self.doc.get("entities", []) if isinstance(e, dict) and e.get("name")
        }

    def entity(self, name: str) -> Entity:
        if name not in self.entities:
            listed = ", ".join(self.entities) or "(none)"
            raise UnknownEntityError(f"CDM entity {name!r} is not in {self.url}; its entities: {listed}")
        e = self.entities[name]
        where = f"CDM entity {name!r} in {self.url}"
        if e.get("$type", "LocalEntity") != "LocalEntity":
            raise SourceError(f"{where}: entities of type {e.get('$type')!r} (another model's) are not supported")
        attributes = [Attribute(str(a.get("name", "")), str(a.get("dataType", ""))) for a in e.get("attributes", [])]
        folder = posixpath.dirname(self.url)
        partitions = []
        for p in e.get("partitions", []):
            loc = str(p.get("location", ""))
            partitions.append(Partition(loc, self.partition_url(loc), _model_json_format(p, loc, where)))
        return Entity(name, attributes, partitions, [], folder)

    def partition_url(self, location: str) -> str:
        """Where to read a partition; a local copy of a lake's folder reads its https locations beside model.json.

        Customer Insights names partitions by https URL on the lake it wrote to. When model.json itself is read
        from elsewhere (a downloaded copy), each such partition is looked up below model.json's folder by the
        longest trailing part of its URL path that exists there.
        """
        folder = posixpath.dirname(self.url)
        if "://" not in location:
            return location if location.startswith("/") else join(folder, location)
        split = urlsplit(location)
        if split.scheme not in ("http", "https") or "://" in self.url:
            return location
        fs, _ = fsspec.core.url_to_fs(folder)
        parts = [unquote(part) for part in split.path.split("/") if part]
        for i in range(len(parts)):
            candidate = join(folder, "/".join(parts[i:]))
            if fs.isfile(candidate):
                return candidate
        return location


def _model_json_format(partition: dict[str, Any], location: str, where: str) -> PartitionFormat:
    settings = partition.get("fileFormatSettings")
    if isinstance(settings, dict):
        kind = str(settings.get("$type", "CsvFormatSettings"))
        if kind != "CsvFormatSettings":
            raise SourceError(f"{where}: partition format {kind} is not supported (CSV and Parquet are)")
        header = settings.get("columnHeaders", False)
        return PartitionFormat(
            "csv",
            CsvSettings(
                header=header is True or str(header).lower() == "true",
                delimiter=_unescape(str(settings.get("delimiter") or ",")),
                encoding=str(settings.get("encoding") or "utf-8").lower(),
            ),
        )
    # The CDM SDK marks Parquet partitions of a model.json with a cdm:traits entry.
    found = _format_from_traits(partition.get("cdm:traits", []), where)
    return found or _format_from_name(location, where, CsvSettings())
