"""Probabilistic mode: Fellegi-Sunter m/u weights fitted without labels, as Splink does.

- Comparison levels per mapped field: 2 = equal after the field's default normalizers, 1 = Levenshtein
  similarity >= 80, 0 = different; a missing value on either side contributes nothing.
- u (how often non-matches agree) is measured on random record pairs (seeded, so reruns agree).
- m (how often matches agree) is fitted by expectation-maximization on pairs blocked on one field at a time;
  the blocking field itself is not estimated from its own blocks (it always agrees there), and each field's m is the
  mean of its estimates from the other fields' blocks.
- A pair's match weight is log2(lambda / (1 - lambda)) + sum over fields of log2(m / u) at the pair's levels.
  A rule may then require ``min_match_weight``.

The model is versioned JSON under ``_state/model.json``; it is data, never pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from custdim.contracts import MODEL_COLUMNS
from custdim.engines.base import Engine
from custdim.errors import StageError
from custdim.lake import Lake
from custdim.stages.unify.conditions import similarity
from custdim.stages.unify.normalize import Step, apply_steps, steps

MODEL_VERSION = 1
MODEL_PATH = ("_state", "model.json")
LEVELS = 3
FUZZY_AT = 80.0
RANDOM_PAIRS = 200_000
BLOCK_LIMIT = 50
EM_ROUNDS = 25

# The normalizers a field's comparison uses, by the unified field name (others: DEFAULT_NORMALIZERS).
FIELD_NORMALIZERS: dict[str, list[str]] = {
    "FirstName": ["unicode", "name", "symbols", "whitespace"],
    "Email": ["whitespace", "lowercase"],
    "Phone": ["phone"],
    "PostalCode": ["whitespace"],
    "BirthDate": [],
}
DEFAULT_NORMALIZERS = ["unicode", "lowercase", "symbols", "whitespace"]


@dataclass
class FieldModel:
    m: list[float]
    u: list[float]

    def weights(self) -> list[float]:
        """log2(m/u) per level."""
        return [math.log2(max(m, 1e-6) / max(u, 1e-6)) for m, u in zip(self.m, self.u, strict=True)]


@dataclass
class MatchModel:
    fields: dict[str, FieldModel]
    prior: float  # lambda: probability that two random records match
    trained_on: dict[str, Any] = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MODEL_VERSION,
            "prior": self.prior,
            "levels": ["different", f"similar (>= {FUZZY_AT:.0f})", "equal"],
            "fields": {
                f: {"m": fm.m, "u": fm.u, "weights": [round(w, 3) for w in fm.weights()]}
                for f, fm in self.fields.items()
            },
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchModel:
        """Read a saved model; ValueError says what is wrong with one that is old, edited or damaged."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"model version {data.get('version')!r}, this custdim reads version {MODEL_VERSION}")
        try:
            fields = {str(f): FieldModel(_levels(v["m"]), _levels(v["u"])) for f, v in data["fields"].items()}
            prior = float(data["prior"])
            trained_on = dict(data.get("trained_on") or {})
        except KeyError as exc:
            raise ValueError(f"no entry {exc}") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"malformed entries: {exc}") from None
        # Weights are log2 of these: 0 or 1 would give infinite weights that silently veto or force every pair.
        if not 0 < prior < 1:
            raise ValueError(f"prior {prior} is not a probability between 0 and 1")
        return cls(fields, prior, trained_on)


def _levels(values: Any) -> list[float]:
    """One probability per comparison level."""
    out = [float(x) for x in values]
    if len(out) != LEVELS or not all(0 <= x <= 1 for x in out):
        raise ValueError(f"{values!r} is not {LEVELS} probabilities")
    return out


def model_column(field: str) -> str:
    return f"fs__{field}"


def model_columns(records: ir.Table, fields: list[str]) -> ir.Table:
    """_rid and one normalized comparison column per model field."""
    cols: dict[str, tuple[ir.Value, list[Step]]] = {
        model_column(f): (records[f], steps(FIELD_NORMALIZERS.get(f, DEFAULT_NORMALIZERS))) for f in fields
    }
    t = apply_steps(records.select("_rid", *fields), cols)
    return t.select("_rid", *cols)


def level(left: ir.StringValue, right: ir.StringValue) -> ir.IntegerValue:
    """2 equal, 1 similar, 0 different, -1 when either value is missing."""
    return ibis.cases(
        (left.isnull() | right.isnull(), -1),
        (left == right, 2),
        (similarity(left, right) >= FUZZY_AT, 1),
        else_=0,
    ).cast("int8")


def _vectors(pairs: ir.Table, norm: ir.Table, fields: list[str]) -> ir.Table:
    """Comparison vectors of (a, b) pairs, counted per distinct vector."""
    cols = [model_column(f) for f in fields]
    lhs = norm.select(a=norm._rid, **{f"l_{c}": norm[c] for c in cols})
    rhs = norm.select(b=norm._rid, **{f"r_{c}": norm[c] for c in cols})
    j = pairs.join(lhs, "a").join(rhs, "b")
    v = j.select(**{f: level(j[f"l_{model_column(f)}"], j[f"r_{model_column(f)}"]) for f in fields})
    return v.group_by(fields).agg(n=v.count())


def _u(engine: Engine, norm: ir.Table, n_records: int, fields: list[str], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_records, RANDOM_PAIRS)
    b = rng.integers(0, n_records, RANDOM_PAIRS)
    keep = a != b
    pairs = engine.from_arrow(pa.table({"a": pa.array(a[keep], pa.int64()), "b": pa.array(b[keep], pa.int64())}))
    counts = engine.to_arrow(_vectors(pairs, norm, fields)).to_pylist()
    return {f: _distribution(counts, f, None) for f in fields}


def _distribution(rows: list[dict[str, Any]], f: str, weights: np.ndarray | None) -> np.ndarray:
    out = np.full(LEVELS, 1e-6)
    for i, r in enumerate(rows):
        lv = r[f]
        if lv is not None and lv >= 0:
            out[lv] += r["n"] * (1.0 if weights is None else weights[i])
    result: np.ndarray = out / out.sum()
    return result


def _em(rows: list[dict[str, Any]], fields: list[str], u: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """m per field and the share of matches among these pairs."""
    m = {f: np.array([0.05, 0.15, 0.8]) for f in fields}
    share = 0.5
    counts = np.array([r["n"] for r in rows], dtype=float)
    for _ in range(EM_ROUNDS):
        pm = np.full(len(rows), share)
        pu = np.full(len(rows), 1 - share)
        for f in fields:
            lv = np.array([r[f] if r[f] is not None else -1 for r in rows])
            seen = lv >= 0
            pm[seen] *= m[f][lv[seen]]
            pu[seen] *= u[f][lv[seen]]
        w = pm / np.maximum(pm + pu, 1e-300)
        share = float((w * counts).sum() / counts.sum())
        m = {f: _distribution(rows, f, w) for f in fields}
    return m, share


def train(engine: Engine, lake: Lake, records: ir.Table, fields: list[str], seed: int = 0) -> MatchModel:
    """Fit the model on the mapped records (no labels)."""
    norm_path = lake.work_table(*MODEL_COLUMNS)
    n_records = engine.write(model_columns(records, fields), norm_path)
    norm = engine.read(norm_path)
    u = _u(engine, norm, n_records, fields, seed)
    estimates: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    priors: list[float] = []
    total_pairs = n_records * (n_records - 1) / 2
    for b in fields:
        col = model_column(b)
        keyed = norm.filter(norm[col].notnull()).select(rid=norm._rid, k=norm[col])
        sizes = keyed.group_by("k").agg(n=keyed.count())
        keyed = keyed.semi_join(sizes.filter(sizes.n <= BLOCK_LIMIT), "k")
        left = keyed.rename(a="rid")
        right = keyed.rename(b="rid")
        j = left.join(right, "k")
        pairs = j.filter(j.a < j.b).select("a", "b")
        others = [f for f in fields if f != b]
        rows = engine.to_arrow(_vectors(pairs, norm, others)).to_pylist() if others else []
        if not rows:
            continue
        m, share = _em(rows, others, u)
        for f in others:
            estimates[f].append(m[f])
        n_pairs = sum(r["n"] for r in rows)
        priors.append(share * n_pairs / total_pairs)
    lake.remove(norm_path)
    fitted = {
        f: FieldModel(
            [round(float(x), 6) for x in (np.mean(estimates[f], axis=0) if estimates[f] else u[f])],
            [round(float(x), 6) for x in u[f]],
        )
        for f in fields
    }
    prior = min(max(max(priors, default=1e-6), 1e-9), 0.5)
    return MatchModel(fitted, prior, {"records": n_records, "random_pairs": RANDOM_PAIRS, "seed": seed})


def weight_expr(model: MatchModel, pairs: ir.Table) -> ir.FloatingValue:
    """Match weight of joined pairs holding both sides' model columns, prefixed ``l_`` and ``r_``."""
    total: ir.FloatingValue = ibis.literal(model.prior_weight)
    for f, fm in model.fields.items():
        w = fm.weights()
        lv = level(pairs[f"l_{model_column(f)}"], pairs[f"r_{model_column(f)}"])
        total = total + ibis.cases((lv == 2, w[2]), (lv == 1, w[1]), (lv == 0, w[0]), else_=0.0)
    return total


def save(lake: Lake, model: MatchModel) -> str:
    path = lake.path(*MODEL_PATH)
    lake.write_json(path, model.to_json())
    return path


def load(lake: Lake) -> MatchModel | None:
    """The trained model (None before `custdim unify train`); StageError naming the file if it cannot be used."""
    path = lake.path(*MODEL_PATH)
    if not lake.exists(path):
        return None
    try:
        return MatchModel.from_json(lake.read_json(path))
    except ValueError as exc:  # also JSONDecodeError and UnicodeDecodeError
        raise StageError(
            f"the match model {lake.url(*MODEL_PATH)} cannot be used ({exc}); it is old, edited or damaged: "
            "re-run `custdim unify train` to replace it"
        ) from None
