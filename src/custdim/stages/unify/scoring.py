"""Scoring the candidate pairs of every rule of a step at once.

The candidates are pivoted to one row per distinct pair, holding for each rule whether (and by which pass) it
proposed the pair. Each distinct comparison (a normalized column compared one way) is scored once per pair, and
every rule's verdict is a boolean over those scores. A rule accepts only pairs it proposed itself, so the result is
the same as running the rules one by one.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from custdim.stages.exprs import concat
from custdim.stages.unify.candidates import RuleUse
from custdim.stages.unify.conditions import CompiledCondition, compile_exceptions, compile_rule
from custdim.stages.unify.model import MatchModel, model_column, weight_expr

NEAR_MISS_POINTS = 5
SCORED_COLUMNS = ("left_rid", "right_rid", "rule", "rule_index", "stage", "score", "scores", "block", "strength")


def strength(rule_index: int | ir.IntegerValue, score: ir.FloatingValue) -> ir.FloatingValue:
    """Earlier rules are stronger; within a rule, closer pairs are stronger."""
    return (1000 - rule_index) * 1000.0 + score


def _comparison(c: CompiledCondition) -> tuple[object, ...]:
    # What decides a condition's score (its threshold only decides acceptance): equal tuples, one score column.
    method = None if c.condition.is_exact else c.condition.method
    return (c.column, c.swapped, c.condition.is_exact, c.condition.max_days, method, c.condition.max_frequency)


class StepScorer:
    """Builds the scored pairs of a step's rule uses."""

    def __init__(self, uses: list[RuleUse], country: str, model: MatchModel | None) -> None:
        self.uses = uses
        self.conditions = {u.id: compile_rule(u.rule, country) for u in uses}
        self.exceptions = {u.id: compile_exceptions(u.rule, country) for u in uses}
        self.model = model if any(u.rule.min_match_weight is not None for u in uses) else None
        every = [c for u in uses for c in self.conditions[u.id] + [c for ex in self.exceptions[u.id] for c in ex]]
        self.comparisons: dict[tuple[object, ...], tuple[str, CompiledCondition]] = {}
        for c in every:
            self.comparisons.setdefault(_comparison(c), (f"c{len(self.comparisons)}", c))
        self.columns = sorted(
            {c.column for c in every}
            | {c.swapped for c in every if c.swapped}
            | {c.frequency for c in every if c.condition.max_frequency is not None}
        )
        if self.model is not None:
            self.columns = sorted(set(self.columns) | {model_column(f) for f in self.model.fields})

    def _score(self, j: ir.Table, c: CompiledCondition) -> ir.FloatingValue:
        return j[self.comparisons[_comparison(c)][0]]

    def scores(self, candidates: ir.Table, norm: ir.Table) -> ir.Table:
        """One row per proposed pair: ``b<use>`` the pass by which each rule proposed it (null: not proposed) and
        each distinct comparison's score.

        A step of its own: engines push the verdicts' filter into this projection, and would then compute each
        score once per rule and condition that reads it instead of once.
        """
        pivot = candidates.group_by(["l_rid", "r_rid"]).agg(
            **{f"b{u.id}": candidates.block.min(where=candidates.use == u.id) for u in self.uses}
        )
        lhs = norm.select(l_rid=norm._rid, **{f"l_{c}": norm[c] for c in self.columns})
        rhs = norm.select(r_rid=norm._rid, **{f"r_{c}": norm[c] for c in self.columns})
        j = pivot.join(lhs, "l_rid").join(rhs, "r_rid")
        scores = {}
        for name, c in self.comparisons.values():
            swapped = j[f"l_{c.swapped}"] if c.swapped else None
            score = c.score(j[f"l_{c.column}"], j[f"r_{c.column}"], swapped)
            if c.condition.max_frequency is not None:
                # Agreement on a value shared by too many records says nothing: scored as missing.
                common = c.too_common(j[f"l_{c.frequency}"]) | c.too_common(j[f"r_{c.frequency}"])
                score = ibis.ifelse(common, ibis.null("float64"), score)
            scores[name] = score
        if self.model is not None:
            scores["_weight"] = weight_expr(self.model, j).round(2)
        return j.select("l_rid", "r_rid", *[f"b{u.id}" for u in self.uses], **scores)

    def verdicts(self, j: ir.Table) -> ir.Table:
        """The scored pairs that some rule accepts or nearly accepts, with every rule's verdict (``a<use>``
        accepted, ``n<use>`` a near miss)."""
        verdicts: dict[str, ir.Value] = {}
        keep: ir.BooleanValue = ibis.literal(False)
        for u in self.uses:
            accept, near = self._verdict(j, u)
            verdicts |= {f"a{u.id}": accept, f"n{u.id}": near}
            keep = keep | accept | near
        # Only the few pairs some rule accepts or nearly accepts are kept; their report columns are built later.
        out = j.mutate(_keep=keep, **verdicts)
        return out.filter(out._keep).drop("_keep")

    def _verdict(self, j: ir.Table, u: RuleUse) -> tuple[ir.BooleanValue, ir.BooleanValue]:
        proposed = j[f"b{u.id}"].notnull()
        accept: ir.BooleanValue = proposed
        near: ir.BooleanValue = proposed
        for c in self.conditions[u.id]:
            s = self._score(j, c)
            accept = accept & s.notnull() & (s >= c.condition.threshold)
            floor = c.condition.threshold if c.condition.is_exact else c.condition.threshold - NEAR_MISS_POINTS
            near = near & s.notnull() & (s >= floor)
        veto: ir.BooleanValue = ibis.literal(False)
        for ex in self.exceptions[u.id]:
            holds: ir.BooleanValue = ibis.literal(True)
            for c in ex:
                holds = holds & c.holds(self._score(j, c))
            veto = veto | holds
        if u.rule.min_match_weight is not None and self.model is not None:
            accept = accept & (j._weight >= u.rule.min_match_weight)
        accept = (accept & ~veto).fill_null(False)
        return accept, (near & ~accept).fill_null(False)

    def _report_columns(self, t: ir.Table, u: RuleUse) -> tuple[ir.FloatingValue, ir.StringValue]:
        """The rule's lowest condition score and its per-condition scores as JSON."""
        conditions = self.conditions[u.id]
        values = [self._score(t, c) for c in conditions]
        labels = [c.label for c in conditions]
        if u.rule.min_match_weight is not None and self.model is not None:
            labels.append("match_weight")
            values.append(t._weight)
        parts: list[ir.StringValue | str] = ["{"]
        for i, (label, v) in enumerate(zip(labels, values, strict=True)):
            parts += [(", " if i else "") + f'"{label}": ', v.round(1).cast("string")]
        low = ibis.least(*values[: len(conditions)]) if len(conditions) > 1 else values[0]
        return low.round(1), concat([*parts, "}"])

    def long(self, wide: ir.Table) -> ir.Table:
        """The wide verdicts as pair rows (the ``pairs`` contract plus ``_use``, ``_accept`` and ``_near``)."""
        parts = []
        for u in self.uses:
            t = wide.filter(wide[f"a{u.id}"] | wide[f"n{u.id}"])
            low, scores_json = self._report_columns(t, u)
            parts.append(
                t.select(
                    left_rid=t.l_rid,
                    right_rid=t.r_rid,
                    rule=ibis.literal(u.name),
                    rule_index=ibis.literal(u.index, "int32"),
                    stage=ibis.literal(u.stage),
                    score=low,
                    scores=scores_json,
                    block=t[f"b{u.id}"],
                    strength=strength(u.index, low),
                    _use=ibis.literal(u.id, "int32"),
                    _accept=t[f"a{u.id}"],
                    _near=t[f"n{u.id}"],
                )
            )
        return ibis.union(*parts) if len(parts) > 1 else parts[0]
