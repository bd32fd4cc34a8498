"""The comparison normalizers a project file may name, in the order they are applied.

Kept apart from ``custdim.stages.unify.normalize`` (which needs Ibis) so that the config models can validate names
without loading it; that module's functions are keyed by exactly these names, in this order.
"""

from __future__ import annotations

from typing import Literal, get_args

# The order is the application order: unicode before lowercase ('Æ' -> 'AE' -> 'ae'), and the type-specific
# normalizers last so they see clean ASCII.
Normalizer = Literal[
    "numerals", "unicode", "lowercase", "symbols", "whitespace", "phone", "name", "address", "organization"
]
NORMALIZER_NAMES: tuple[Normalizer, ...] = get_args(Normalizer)
