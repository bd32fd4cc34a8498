"""Rendering for the CLI: run summaries, status tables and query results."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from custdim.contracts import CUSTOMER, UNIFIED_ACTIVITY

if TYPE_CHECKING:
    import pyarrow as pa

    from custdim.report import RunReport
    from custdim.stages.insights.explore import Differentiators, Overlap, Preview
    from custdim.stages.unify.explain import Explanation
    from custdim.stages.unify.model import MatchModel


def run_summary(console: Console, report: RunReport) -> None:
    """Per-stage table of rows, rejects and time, then warnings."""
    table = Table(title=f"run {report.run_id} ({report.engine}) - {report.status}", title_justify="left")
    for col in ("stage", "in", "out", "rejected", "seconds", "peak MiB"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in report.stages:
        table.add_row(
            s.name,
            f"{sum(s.rows_in.values()):,}",
            f"{sum(s.rows_out.values()):,}",
            f"{sum(s.rejected.values()):,}",
            f"{s.seconds:.2f}",
            f"{s.peak_rss_mb:,.0f}",
        )
    table.add_row("total", "", "", "", f"{report.seconds:.2f}", "", style="bold")
    console.print(table)
    for note in report.notes:
        console.print(f"[cyan]note[/] {note}", highlight=False)
    for s in report.stages:
        for w in s.warnings:
            console.print(f"[yellow]warning[/] {s.name}: {w}")


def match_rates(console: Console, report: RunReport) -> None:
    """Per rule: pairs found, records they touched, and that share of the records the rule could see."""
    match = report.stage("match")
    mapped = report.stage("map")
    if match is None or "rules" not in match.details or mapped is None:
        return
    per_table = mapped.rows_in
    first = next(iter(per_table.values()), 0)
    table = Table(title="match rate per rule", title_justify="left")
    for col in ("rule", "pairs", "records", "share", "near misses"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for key, d in match.details["rules"].items():
        if d["stage"] == "dedupe":
            base = per_table.get(key.split(":", 1)[1].split("/", 1)[0], 0)
        else:
            # Records of every table but the first (primary) one can be matched to a table above them.
            base = sum(per_table.values()) - first
        share = d["records"] / base if base else 0.0
        table.add_row(key, f"{d['pairs']:,}", f"{d['records']:,}", f"{share:.1%}", f"{d['near_misses']:,}")
    console.print(table)


def segment_sizes(console: Console, report: RunReport) -> None:
    """Per segment: members, their share of the profiles, and the change since the previous run."""
    segments = report.stage("segments")
    measures = report.stage("measures")
    merge = report.stage("merge")
    if segments is None or not segments.details.get("segments"):
        return
    profiles = sum(v for k, v in (merge.rows_out.items() if merge else []) if k == "Customer")
    as_of = measures.details.get("as_of", {}) if measures else {}
    title = "segments" + (f" as of {as_of['date']} ({as_of['reason']})" if as_of else "")
    table = Table(title=title, title_justify="left")
    for col in ("segment", "members", "share", "added", "removed"):
        table.add_column(col, justify="left" if col == "segment" else "right")
    for name, size in segments.details["segments"].items():
        share = f"{size['Members'] / profiles:.1%}" if profiles else ""
        table.add_row(name, f"{size['Members']:,}", share, f"{size['Added']:,}", f"{size['Removed']:,}")
    console.print(table)


def status_table(console: Console, reports: list[RunReport]) -> None:
    table = Table(title="last runs", title_justify="left")
    for col in ("run", "status", "engine", "started", "seconds", "landed", "rejected", "profiles", "activities"):
        table.add_column(col)
    for r in reports:
        ingest, merge, acts = r.stage("ingest"), r.stage("merge"), r.stage("activities")
        rejected = sum(sum(s.rejected.values()) for s in r.stages)
        table.add_row(
            r.run_id,
            r.status if not r.error else f"{r.status}: {r.error[:60]}",
            r.engine,
            r.started_at,
            f"{r.seconds:.1f}",
            f"{sum(ingest.rows_out.values()):,}" if ingest else "-",
            f"{rejected:,}",
            f"{merge.rows_out.get(CUSTOMER, 0):,}" if merge else "-",
            f"{acts.rows_out.get(UNIFIED_ACTIVITY, 0):,}" if acts else "-",
        )
    console.print(table)


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def arrow_output(console: Console, table: pa.Table, fmt: str, max_rows: int = 200) -> None:
    """Print a query result as a rich table, CSV or JSON (one object per row)."""
    rows = table.to_pylist()
    if fmt == "json":
        console.print_json(json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows]))
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.column_names)
        for r in rows:
            writer.writerow(["" if v is None else _plain(v) for v in r.values()])
        console.out(buf.getvalue(), end="", highlight=False)
        return
    out = Table(show_lines=False)
    for name in table.column_names:
        out.add_column(name, overflow="fold")
    for r in rows[:max_rows]:
        out.add_row(*["" if v is None else str(v) for v in r.values()])
    console.print(out)
    if len(rows) > max_rows:
        console.print(f"({len(rows):,} rows, first {max_rows} shown; use --format csv for all)")
    else:
        console.print(f"({len(rows):,} rows)")


def explanation(console: Console, e: Explanation) -> None:
    """A profile, its source records, the pairs that joined them and each field's provenance."""
    console.print(f"[bold]{e.customer['CustomerId']}[/] - {len(e.records)} source records")
    fields = Table(title="profile", title_justify="left")
    for col in ("field", "value", "from", "policy"):
        fields.add_column(col)
    prov = {p["Field"]: p for p in e.provenance}
    for k, v in e.customer.items():
        if k == "CustomerId":
            continue
        p = prov.get(k)
        fields.add_row(
            k,
            "" if v is None else str(v),
            f"{p['SourceName']}.{p['TableName']}:{p['SourceKey']}" if p else "",
            p["Policy"] if p else "",
        )
    console.print(fields)
    recs = Table(title="records", title_justify="left")
    for col in ("source", "table", "key", "dedupe winner"):
        recs.add_column(col)
    for r in e.records:
        recs.add_row(r["SourceName"], r["TableName"], r["SourceKey"], "yes" if r["IsDedupeWinner"] else "")
    console.print(recs)
    pairs = Table(title="why they were joined", title_justify="left")
    for col in ("stage", "rule", "left", "right", "score", "conditions", "blocking key"):
        pairs.add_column(col)
    for p in e.pairs:
        pairs.add_row(
            p["Stage"],
            p["RuleName"],
            f"{p['LeftTableName']}:{p['LeftSourceKey']}",
            f"{p['RightTableName']}:{p['RightSourceKey']}",
            f"{p['Score']:.1f}",
            p["ConditionScores"],
            p["BlockingKey"],
        )
    console.print(pairs)


def blocking(console: Console, plans: list[tuple[str, list[str], dict[str, Any] | None]]) -> None:
    """Each rule's blocking passes, with the last run's counts."""
    for rule, lines, stats in plans:
        console.print(f"[bold]{rule}[/]")
        for line in lines:
            console.print(f"  {line}")
        if stats:
            console.print(
                f"  last run: {stats['candidates']:,} candidate pairs -> {stats['pairs']:,} pairs, "
                f"{stats['near_misses']:,} near misses"
            )
            for s in stats.get("skipped_blocks", []):
                console.print(f"  [yellow]skipped[/] {s['pass']} = {s['key']}: {s['records']:,} records")


def id_changes(console: Console, changes: pa.Table) -> None:
    """The CustomerId events a changed project file would cause."""
    rows = changes.to_pylist()
    if not rows:
        console.print("no CustomerId would change")
        return
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["Event"]] = counts.get(r["Event"], 0) + 1
    console.print(", ".join(f"{n:,} {event}" for event, n in sorted(counts.items())))
    table = Table(title="CustomerId changes (first 200)", title_justify="left")
    for col in ("event", "CustomerId", "related ids", "records"):
        table.add_column(col)
    for r in rows[:200]:
        table.add_row(r["Event"], r["CustomerId"], r["RelatedCustomerIds"] or "", str(r["RecordCount"]))
    console.print(table)


def model_weights(console: Console, model: MatchModel) -> None:
    """Per field: m and u at each level and the resulting match weights."""
    table = Table(title=f"match weights (prior {model.prior:.2e}, {model.prior_weight:+.1f})", title_justify="left")
    for col in ("field", "m equal", "u equal", "weight equal", "weight similar", "weight different"):
        table.add_column(col, justify="left" if col == "field" else "right")
    for f, fm in model.fields.items():
        w = fm.weights()
        table.add_row(f, f"{fm.m[2]:.3f}", f"{fm.u[2]:.4f}", f"{w[2]:+.1f}", f"{w[1]:+.1f}", f"{w[0]:+.1f}")
    console.print(table)


def _cut(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def value_profile(console: Console, profile: dict[str, Any]) -> None:
    """Per unify table: each field's nulls, junk, distinct values, formats, top values, normalizers; then warnings."""
    for name, t in profile["tables"].items():
        table = Table(title=f"{name} ({t['rows']:,} records)", title_justify="left", show_lines=True)
        for col in ("field", "nulls", "junk", "distinct", "top shapes", "top values", "normalizer changed / rejected"):
            table.add_column(col, justify="right" if col in ("nulls", "junk", "distinct") else "left")
        for field, p in t["fields"].items():
            shapes = "\n".join(f"{_cut(s['shape'])} {s['share']:.0%}" for s in p["shapes"][:3])
            values = "\n".join(
                f"{_cut(v['value'])} ×{v['count']:,}" + (" junk?" if v["junk_candidate"] else "")
                for v in p["top_values"][:3]
            )
            norms = "\n".join(
                f"{n['label']}: {n['changed_share']:.1%} / {n['rejected_share']:.1%}" for n in p["normalizers"]
            )
            table.add_row(
                field,
                f"{p['null_share']:.1%}",
                f"{p['junk_share']:.1%}",
                f"{p['distinct']:,}",
                escape(shapes),
                escape(values),
                escape(norms),
            )
        console.print(table)
    for w in profile["warnings"]:
        console.print(f"[yellow]warning[/] {escape(w)}", highlight=False)


def segment_preview(console: Console, p: Preview) -> None:
    """A previewed segment's size, against the published one, and its first members."""
    share = f" ({p.members / p.profiles:.1%})" if p.profiles else ""
    console.print(
        f"segment [bold]{escape(p.name)}[/] as of {p.as_of.date} ({p.as_of.reason}): "
        f"{p.members:,} of {p.profiles:,} profiles{share}",
        highlight=False,
    )
    if p.published is None:
        console.print("not in the published export yet (new, or renamed): `custdim run` publishes it")
    elif p.published != p.members:
        console.print(f"published: {p.published:,} members ({p.members - p.published:+,} with the project file now)")
    else:
        console.print(f"published: {p.published:,} members (the same number)")
    if p.sample.num_rows:
        table = Table(title=f"first {p.sample.num_rows} members by CustomerId", title_justify="left")
        for col in p.sample.column_names:
            table.add_column(col)
        for row in p.sample.to_pylist():
            table.add_row(*("" if v is None else escape(str(v)) for v in row.values()))
        console.print(table)


def segment_overlap(console: Console, o: Overlap) -> None:
    """The overlap matrix: shared members, and each as a share of the row's segment."""
    table = Table(title=f"overlap of published segments ({o.profiles:,} profiles)", title_justify="left")
    table.add_column("members of ... also in", justify="left")
    for name in o.names:
        table.add_column(escape(name), justify="right")
    for i, name in enumerate(o.names):
        cells = []
        for j in range(len(o.names)):
            n = o.matrix[i][j]
            cells.append(f"{n:,}" if i == j else f"{n:,} ({n / o.sizes[i]:.0%})" if o.sizes[i] else f"{n:,}")
        table.add_row(f"{escape(name)} ({o.sizes[i]:,})", *cells)
    console.print(table)
    if o.common is not None:
        console.print(f"in all three: {o.common:,}", highlight=False)


def segment_differentiators(console: Console, d: Differentiators) -> None:
    """Fields ranked by how differently they are distributed in the segment than in everyone."""
    table = Table(
        title=f"what sets {d.name} apart ({d.members:,} of {d.profiles:,} profiles)",
        title_justify="left",
        caption="score: total variation distance, 0 = like everyone, 1 = no value in common",
        caption_justify="left",
    )
    for col in ("field", "score", "in the segment", "everyone"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for f in d.fields:
        table.add_row(escape(f.field), f"{f.score:.2f}", escape(f.segment), escape(f.population))
    console.print(table)
    if d.skipped:
        console.print(f"not compared (more than 50 distinct values): {escape(', '.join(d.skipped))}", highlight=False)


def predictions_summary(console: Console, report: RunReport) -> None:
    """One line per model: what it was fitted on and how it did on the held-out time."""
    stage = report.stage("predictions")
    if stage is None:
        return
    clv = stage.details.get("clv")
    if clv:
        _clv_line(console, clv)
    for name, title in (("churn", "Churn"), ("recommendations", "Recommendations")):
        card = stage.details.get(name)
        if not card:
            continue
        if card.get("status") != "succeeded":
            console.print(f"[yellow]{title} skipped[/]: {escape(str(card.get('reason')))}", highlight=False)
            continue
        v = card.get("validation") or {}
        if v.get("status") == "succeeded":
            console.print(f"{title} (as of {card['as_of']}) on the held-out {_held_out(name, v)}", highlight=False)
    affinity = stage.details.get("affinity")
    if affinity:
        parts = [
            f"{entity} {facts['rows']:,} rows for {facts['customers']:,} customers over {facts['values']:,} values"
            for entity, facts in affinity.items()
            if isinstance(facts, dict) and "rows" in facts
        ]
        if parts:
            console.print("Affinity: " + "; ".join(parts), highlight=False)


def _clv_line(console: Console, clv: dict[str, Any]) -> None:
    if clv.get("status") != "succeeded":
        console.print(f"[yellow]CLV skipped[/]: {escape(str(clv.get('reason')))}", highlight=False)
        return
    customers = clv["customers"]
    line = (
        f"CLV (BG/NBD + Gamma-Gamma, as of {clv['as_of']}, horizon {clv['horizon']}): fitted on "
        f"{customers['customers_with_purchases']:,} customers with purchases"
    )
    v = clv.get("validation") or {}
    if v.get("status") == "succeeded":
        error = v.get("purchases_error")
        line += (
            f"; on the held-out {v['holdout']['from']} .. {v['holdout']['to']}: predicted "
            f"{v['predicted_purchases']:,.0f} purchases, actual {v['actual_purchases']:,}"
            + (f" ({error:+.1%})" if error is not None else "")
            + f", top decile by CLV brought {_share(v['top_decile_revenue_capture'])} of the revenue "
            f"(top decile by past spend: {_share(v['baseline_top_decile_by_past_spend'])})"
        )
    console.print(line, highlight=False)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def model_cards(console: Console, cards: list[dict[str, Any]]) -> None:
    """One table per model card: what it is, what it was fitted on, its parameters and its held-out validation."""
    for card in cards:
        table = Table(title=f"{card['name']}: {card.get('model', '')}", title_justify="left", show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        table.add_row(
            "status", escape(str(card.get("status"))) + (f" ({card['reason']})" if card.get("reason") else "")
        )
        for key in (
            "as_of", "activity", "horizon", "time_unit", "definition_days", "scored_customers", "items",
            "allow_repeat", "customers_recommended", "catalog_coverage",
        ):  # fmt: skip
            if key in card:
                table.add_row(key, escape(str(card[key])))
        if "data_window" in card:
            table.add_row("data", f"{card['data_window']['from']} .. {card['data_window']['to']}")
        for key, value in (card.get("customers") or {}).items():
            table.add_row(key.replace("_", " "), f"{value:,}")
        for part in ("bgnbd", "gamma_gamma"):
            if part in card:
                fit = card[part]
                params = ", ".join(f"{k} {v:.4g}" for k, v in fit.items() if k not in _FIT_FACTS)
                facts = "" if fit.get("converged", True) else " (not converged)"
                table.add_row(part.replace("_", "-"), f"{params}; log-likelihood {fit['log_likelihood']:,.1f}{facts}")
        if card.get("importance"):
            top = list(card["importance"].items())[:5]
            table.add_row("importance", ", ".join(f"{escape(k)} {v:.3f}" for k, v in top))
        v = card.get("validation") or {}
        if v.get("status") == "succeeded":
            table.add_row("held-out", _held_out(card["name"], v))
        elif v:
            table.add_row("held-out", escape(f"skipped: {v.get('reason')}"))
        console.print(table)


_FIT_FACTS = ("log_likelihood", "converged", "iterations")


def export_history(console: Console, snaps: list[dict[str, Any]]) -> None:
    """One row per snapshot, newest first."""
    if not snaps:
        console.print("nothing is published yet: run `custdim run` first")
        return
    table = Table(title="export snapshots (newest first)")
    for column in ("snapshot", "state", "completed", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for s in snaps:
        state = "published" if s["current"] else "complete" if s["complete"] else "incomplete"
        if s["complete"] and not s["current"] and not s["can_roll_back"]:
            state += " (no rollback: written before manifests were kept)"
        rows = f"{sum(s['rows'].values()):,}" if s["rows"] else "-"
        table.add_row(escape(s["snapshot"]), state, escape(str(s["completed_at"] or "-")), rows)
    console.print(table)


def backtest(console: Console, results: dict[str, dict[str, Any]]) -> None:
    """One row per model: the window it was scored on and how it did against its baseline."""
    table = Table(title="backtest: each model fitted before its horizon, scored on what happened next")
    table.add_column("model", style="bold")
    table.add_column("result")
    for name, v in results.items():
        text = _held_out(name, v) if v.get("status") == "succeeded" else escape(f"skipped: {v.get('reason')}")
        table.add_row(name, text)
    console.print(table)


def _held_out(name: str, v: dict[str, Any]) -> str:
    """One line on how the model did on the time it did not see."""
    window = f"{v['holdout']['from']} .. {v['holdout']['to']}: "
    if name == "churn":
        b = v["baseline"]
        return (
            f"{window}AUC {_num(v['auc'])} vs {_num(b['auc_recency'])} by recency; accuracy {_num(v['accuracy'])} "
            f"vs {_num(b['accuracy'])} by the rule '{escape(b['rule'])}'; precision {_num(v['precision'])}, "
            f"recall {_num(v['recall'])}; grade {v['grade']}"
        )
    if name == "recommendations":
        k = v["k"]
        return (
            f"{window}hit rate@{k} {_share(v['hit_rate'])} vs {_share(v['baseline_popularity_hit_rate'])} for the "
            f"most popular products ({v['customers']:,} customers)"
        )
    return (
        f"{window}predicted {v['predicted_purchases']:,.0f} vs actual {v['actual_purchases']:,} purchases; MAE "
        f"{v['mean_absolute_error']:.2f}; top decile by CLV {_share(v['top_decile_revenue_capture'])} of revenue vs "
        f"{_share(v['baseline_top_decile_by_past_spend'])} by past spend"
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
