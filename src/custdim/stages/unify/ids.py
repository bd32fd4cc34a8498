"""Deterministic GUIDs computed inside the engine.

A GUID is the MD5 of "<namespace>|<name>" laid out as a version-3 UUID string (version nibble 3, RFC 4122 variant),
so that identical input always yields identical ids on every engine. ``guid_of`` is the Python reference used by
tests and by code that needs an id without an engine.
"""

from __future__ import annotations

import hashlib

import ibis
import ibis.expr.types as ir

_HEX = "0123456789abcdef"
_VARIANT = "89ab" * 4  # RFC 4122 variant: the top two bits of that nibble are 10


def guid(namespace: str, name: ir.StringValue) -> ir.StringValue:
    """Ibis expression of the GUID of ``name`` within ``namespace``."""
    h = (ibis.literal(namespace + "|") + name).hexdigest("md5")
    variant = ibis.literal(_VARIANT).substr(ibis.literal(_HEX).find(h.substr(16, 1)), 1)
    return (
        h.substr(0, 8)
        + "-"
        + h.substr(8, 4)
        + "-3"
        + h.substr(13, 3)
        + "-"
        + variant
        + h.substr(17, 3)
        + "-"
        + h.substr(20, 12)
    )


def guid_of(namespace: str, name: str) -> str:
    """The same GUID computed in Python."""
    h = hashlib.md5(f"{namespace}|{name}".encode()).hexdigest()  # noqa: S324 - an id, not a secret
    variant = _VARIANT[_HEX.index(h[16])]
    return f"{h[:8]}-{h[8:12]}-3{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def record_identity(source: ir.StringValue, table: ir.StringValue, key: ir.StringValue) -> ir.StringValue:
    """The stable identity of a source record: 'source|table|key'."""
    return source + "|" + table + "|" + key
