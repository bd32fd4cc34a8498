"""Blocking: exact keys, derived keys for fuzzy-only rules, and the junk-value guard."""

from __future__ import annotations

import hashlib
from pathlib import Path

from custdim.config.unify import Rule
from custdim.stages.unify.blocking import plan_rule
from tests.unify.projects import entity_rows, groups, make_project


def test_plans() -> None:
    exact = Rule.model_validate({"name": "r", "conditions": [{"field": "Email"}]})
    assert plan_rule(exact).describe(1000) == ["join on Email", "blocks above 1000 records: skipped and reported"]
    mixed = Rule.model_validate(
        {"name": "r", "conditions": [{"field": "PostalCode"}, {"field": "LastName", "precision": "high"}]}
    )
    lines = plan_rule(mixed).describe(1000)
    assert lines == [
        "join on PostalCode",
        "blocks above 10 records: join on it + one of [first2(LastName), last2(LastName)]",
        "refined blocks still above 1000 records: skipped and reported",
    ]
    fuzzy = Rule.model_validate(
        {
            "name": "r",
            "conditions": [{"field": "LastName", "precision": "high"}, {"field": "FirstName", "precision": "high"}],
        }
    )
    assert len(plan_rule(fuzzy).base) == 4  # prefix/suffix of each fuzzy value, in every combination
    capped = Rule.model_validate({"name": "r", "conditions": [{"field": "Email", "max_frequency": 10}]})
    assert plan_rule(capped).describe(1000)[:2] == [
        "join on Email",
        "Email values shared by more than 10 records: no key (max_frequency)",
    ]
    swapped = Rule.model_validate({"name": "r", "conditions": [{"field": "BirthDate", "swap_day_month": True}]})
    assert [p.label for p in plan_rule(swapped).base] == ["BirthDate", "swap(BirthDate)"]


def test_junk_value_in_40_percent_of_rows_does_not_explode(tmp_path: Path, engine_name: str) -> None:
    # 400 of 1,000 records share a placeholder e-mail that is not in the built-in junk list, and 200 more say
    # "unknown" (built-in junk). Without the guard the shared value alone would produce ~80,000 pairs. The value
    # frequency guard, which would set the value aside first, is off: this is the block-size guard alone.
    rows = []
    for i in range(1000):
        email = "orders@shop.example" if i < 400 else ("unknown" if i < 600 else f"p{i // 2}@x.com")
        rows.append(f"{i},F{i},L{i},{email},,")
    rule = "      - name: email\n        conditions:\n          - {field: Email, normalize: [lowercase]}\n"
    dedupe = "  dedupe:\n    - table: s.a\n      rules:\n" + "\n".join("  " + x for x in rule.splitlines()) + "\n"
    p = make_project(
        tmp_path,
        {"a": "\n".join(rows)},
        unify_extra=dedupe + "  max_block_size: 100\n  max_frequency: {}\n",
        engine=engine_name,
    )
    report = p.run()
    pairs = entity_rows(p, "MatchPairs")
    assert len(pairs) == 200  # only the real pairs p0..p199 (two records each)
    match = report.stage("match")
    assert match is not None
    stats = match.details["rules"]["dedupe:s.a/email"]
    assert stats["candidates"] == 200
    assert stats["skipped_blocks"] == [{"pass": "Email", "key": ["orders@shop.example"], "records": 400}]
    assert any("skipped block ['orders@shop.example'] of 400 records" in w for w in match.warnings)
    assert len(groups(p)) == 800


def test_oversize_exact_blocks_are_refined_with_fuzzy_keys(tmp_path: Path, engine_name: str) -> None:
    # Everyone shares one postcode; the rule also compares last names fuzzily, so the block is refined on the
    # last names' first/last two letters instead of being skipped: the typo pair is still found.
    names = [hashlib.md5(str(i).encode()).hexdigest()[:8] for i in range(300)]
    rows = [f"{i},F{i},{name},,,01000" for i, name in enumerate(names)]
    rows.append(f"900,F1,{names[1][:7]}z,,,01000")  # one typo at the end of record 1's last name
    rule = (
        "      - name: zip-name\n        conditions:\n          - {field: PostalCode}\n"
        "          - {field: LastName, precision: high, normalize: [lowercase]}\n"
    )
    p = make_project(
        tmp_path,
        {"a": "\n".join(rows[:150]), "b": "\n".join(rows[150:])},
        rule,
        unify_extra="  max_block_size: 50\n",
        engine=engine_name,
    )
    report = p.run()
    pairs = {(r["LeftSourceKey"], r["RightSourceKey"], r["BlockingKey"]) for r in entity_rows(p, "MatchPairs")}
    assert pairs == {("900", "1", "PostalCode + first2(LastName)")}
    match = report.stage("match")
    assert match is not None and match.details["rules"]["match:zip-name"]["candidates"] < 2000
