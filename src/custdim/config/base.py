"""The base model every section of the project file derives from."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Model(BaseModel):
    """Closed, immutable model; unknown keys are rejected with the list of valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        # pydantic's own extra="forbid" message does not say which keys *are* valid; users need that.
        if isinstance(data, dict):
            valid = {name for name, f in cls.model_fields.items()} | {
                f.alias for f in cls.model_fields.values() if f.alias
            }
            unknown = [k for k in data if k not in valid]
            if unknown:
                key = unknown[0]
                close = difflib.get_close_matches(str(key), sorted(valid), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown key {key!r}{hint}; valid keys: {', '.join(sorted(valid))}")
        return data


def check_identifier(value: str, what: str) -> str:
    """Names end up in paths and SQL: keep them to letters, digits and underscores."""
    if not IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must start with a letter and hold only letters, digits and '_'")
    return value
