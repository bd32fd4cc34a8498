"""The semantic-type vocabulary (CDM dataCategory names) and what each type means downstream.

A mapped column gets a semantic type such as ``Person.FirstName``; the unified profile names the field after the
type's last part (``FirstName``). Types inside a known namespace must be spelled exactly as Customer Insights does;
other namespaces (``Loyalty.CardNumber``) are custom types and are accepted as written.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

KNOWN_TYPES: tuple[str, ...] = (
    "Person.FirstName",
    "Person.LastName",
    "Person.MiddleName",
    "Person.FullName",
    "Person.BirthDate",
    "Person.Gender",
    "Identity.Service.Email",
    "Identity.Service.Phone",
    "Identity.GovernmentID",
    "Location.Address",
    "Location.Address.Street",
    "Location.City",
    "Location.County",
    "Location.State",
    "Location.PostalCode",
    "Location.Country",
    "Location.Latitude",
    "Location.Longitude",
    "Organization.Name",
    "Calendar.Date",
    "Measurement.Date.Modify",
    "Customer.CustomerId",
)

CDM_TRAITS = {
    "Person.FirstName": "means.identity.person.firstName",
    "Person.LastName": "means.identity.person.lastName",
    "Person.MiddleName": "means.identity.person.middleName",
    "Person.FullName": "means.identity.person.fullName",
    "Person.Gender": "means.demographic.gender",
    "Identity.Service.Email": "means.identity.service.email",
    "Identity.Service.Phone": "means.identity.service.phone",
    "Identity.GovernmentID": "means.identity.governmentID",
    "Location.Address": "means.location.address",
    "Location.Address.Street": "means.location.address.street",
    "Location.City": "means.location.city",
    "Location.County": "means.location.county",
    "Location.State": "means.location.stateOrProvince",
    "Location.PostalCode": "means.location.postalCode",
    "Location.Country": "means.location.country",
    "Location.Latitude": "means.location.latitude",
    "Location.Longitude": "means.location.longitude",
    "Organization.Name": "means.identity.company.name",
}
"""Semantic type -> the Common Data Model trait that marks a column holding it in the exported schema."""

KNOWN_NAMESPACES = frozenset(t.split(".")[0] for t in KNOWN_TYPES)

_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)+$")

# Output columns the pipeline adds itself; a unified field must not shadow them.
RESERVED_FIELDS = frozenset({"CustomerId", "PreviousCustomerId", "SourceRecordCount"})


@dataclass(frozen=True)
class SemanticType:
    """A parsed semantic type name."""

    name: str

    @property
    def field(self) -> str:
        """The unified profile's column for this type: the last part of the name."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_custom(self) -> bool:
        return self.name not in KNOWN_TYPES


def check_semantic_type(name: str) -> SemanticType:
    """Parse a semantic type name, or raise ValueError saying what is wrong and what was probably meant."""
    if not _TYPE_PATTERN.match(name):
        raise ValueError(
            f"{name!r} is not a semantic type: expected dotted PascalCase such as 'Person.FirstName' "
            "or a custom 'Loyalty.CardNumber'"
        )
    namespace = name.split(".")[0]
    if namespace in KNOWN_NAMESPACES and name not in KNOWN_TYPES:
        close = difflib.get_close_matches(name, KNOWN_TYPES, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        valid = ", ".join(t for t in KNOWN_TYPES if t.startswith(namespace + "."))
        raise ValueError(
            f"unknown semantic type {name!r}{hint} (known {namespace} types: {valid}; "
            "custom types must use their own namespace, e.g. 'Loyalty.CardNumber')"
        )
    field = name.rsplit(".", 1)[-1]
    if field in RESERVED_FIELDS:
        raise ValueError(f"semantic type {name!r} would create the reserved column {field!r}")
    return SemanticType(name)
