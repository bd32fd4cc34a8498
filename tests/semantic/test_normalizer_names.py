"""One list of normalizer names: the config accepts exactly the names the unify stage implements, in its order."""

from __future__ import annotations

from typing import get_args

from custdim.config.unify import Condition
from custdim.semantic.normalizer_names import NORMALIZER_NAMES, Normalizer
from custdim.stages.unify.normalize import ORDER, _normalizers


def test_normalizer_functions_are_keyed_by_the_names_in_order() -> None:
    assert tuple(_normalizers("US")) == NORMALIZER_NAMES
    assert tuple(ORDER) == NORMALIZER_NAMES == get_args(Normalizer)


def test_config_accepts_every_name() -> None:
    assert Condition(field="Email", normalize=list(NORMALIZER_NAMES)).normalize == list(NORMALIZER_NAMES)
