"""The competitor: Splink 5 on DuckDB, configured and trained the way its documentation recommends.

Input is the same landed raw Parquet the custdim run reads (``lake/raw/<source>/<table>/*.parquet``), mapped to one
schema and cleaned in DuckDB SQL; one ``dedupe_only`` model over the union of the three customer tables, so it
dedupes within tables as well as linking across them. Phases, each timed and memory-sampled on its own:

- ``prepare``: read, map and clean the three tables into one DuckDB table, register it with Splink;
- ``training``: prior from deterministic rules, u by random sampling, m by EM on two blocking rules;
- ``prediction``: score the pairs from the prediction blocking rules;
- ``clustering``: connected components of the pairs at or above the match-probability threshold.

The only knob tuned is the match-probability threshold, and only on data of another seed (see :mod:`bench.er`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.splink_dataframe import SplinkDataFrame

from bench.er_metrics import RssSampler, load_truth, quality, ru_maxrss_mb

PHASES = ("prepare", "training", "prediction", "clustering")

# (source, table) -> raw column for each common column; None where the table has no such column.
COLUMNS: dict[tuple[str, str], dict[str, str | None]] = {
    ("crm", "contacts"): {
        "key": "contact_id",
        "first_name": "first_name",
        "surname": "last_name",
        "email": "email",
        "phone": "phone",
        "postcode": "zip",
        "dob": "birth_date",
    },
    ("shop", "accounts"): {
        "key": "account_id",
        "first_name": "given_name",
        "surname": "family_name",
        "email": "email_address",
        "phone": "phone",
        "postcode": "postcode",
        "dob": None,
    },
    ("pos", "members"): {
        "key": "member_id",
        "first_name": "first_name",
        "surname": "last_name",
        "email": "email",
        "phone": "phone",
        "postcode": "zip",
        "dob": None,
    },
}

INPUT_TABLE = "er_input"

# Cleaning, per column, applied to the raw value `{c}` (all VARCHAR except dob, which is a DATE in the CRM table).
_NAME = r"nullif(regexp_replace(lower(trim(strip_accents({c}))), '\s+', ' ', 'g'), '')"
_EMAIL = r"nullif(lower(trim({c})), '')"
# Digits only, after dropping an extension ("... ext. 242", "x242"); a leading US country code 1 on 11 digits goes;
# anything that is not then a 10-digit number is unusable and becomes null.
_PHONE_DIGITS = r"regexp_replace(regexp_replace({c}, '\s*(ext\.?|x)\s*[0-9]+\s*$', '', 'i'), '[^0-9]', '', 'g')"
_PHONE = "CASE WHEN length({d}) = 11 AND starts_with({d}, '1') THEN substr({d}, 2) WHEN length({d}) = 10 THEN {d} END"
# US zips: 3-5 digits are zero-padded back to 5 (spreadsheets drop leading zeros), ZIP+4 keeps the first 5.
_POSTCODE = (
    "CASE WHEN regexp_matches(trim({c}), '^[0-9]{{3,5}}$') THEN lpad(trim({c}), 5, '0') "
    "WHEN regexp_matches(trim({c}), '^[0-9]{{5}}-?[0-9]{{4}}$') THEN left(trim({c}), 5) "
    "ELSE nullif(trim({c}), '') END"
)


# Birth dates as text in the messy style: each layout read by its own format. Two-digit years are read by DuckDB as
# 1969-2068, so a "year" after the data's as-of date is a century early (a 1950 birth written "50").
_DOB_FORMATS = (
    (r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", "%Y-%m-%d"),
    (r"^[0-9]{8}$", "%Y%m%d"),
    (r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$", "%d.%m.%Y"),
    (r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$", "%m/%d/%Y"),
    (r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}$", "%m/%d/%y"),
)
_DOB_TEXT = (
    "CAST(CASE "
    + " ".join(
        "WHEN regexp_matches({c}, '" + rx + "') THEN try_strptime(left({c}, 10), '" + fmt + "')"
        for rx, fmt in _DOB_FORMATS
    )
    + " END AS DATE)"
)
_DOB = "CASE WHEN {d} > DATE '2025-06-30' THEN CAST({d} - INTERVAL 100 YEAR AS DATE) ELSE {d} END"


def input_sql(directory: Path, style: str = "default") -> str:
    """One table in the common schema, cleaned: unique_id = ``source|table|key``.

    With ``style="messy"`` the shop and POS tables have text birth dates too, parsed here; CRM addresses are kept.
    """
    parts = []
    for (source, table), cols in COLUMNS.items():
        path = str(directory / "lake" / "raw" / source / table / "*.parquet").replace("'", "''")
        column = cols["dob"] if style == "default" else "birth_date"
        if column is None:
            dob = "CAST(NULL AS DATE)"
        else:
            # replace, not format: the regexes have braces of their own
            text = _DOB_TEXT.replace("{c}", f"trim(CAST({column} AS VARCHAR))")
            dob = _DOB.format(d=f"({text})")
        street = "street" if (source, table) == ("crm", "contacts") else "NULL"
        parts.append(
            f"SELECT '{source}|{table}|' || {cols['key']} AS unique_id, '{source}.{table}' AS source_dataset, "
            f"{cols['first_name']} AS first_name, {cols['surname']} AS surname, {cols['email']} AS email, "
            f"{cols['phone']} AS phone, CAST({cols['postcode']} AS VARCHAR) AS postcode, {dob} AS dob, "
            f"CAST({street} AS VARCHAR) AS address FROM read_parquet('{path}')"
        )
    raw = "\nUNION ALL\n".join(parts)
    phone = _PHONE.format(d="phone_digits")
    return f"""
        CREATE OR REPLACE TABLE {INPUT_TABLE} AS
        WITH raw AS ({raw}),
        digits AS (SELECT *, {_PHONE_DIGITS.format(c="phone")} AS phone_digits FROM raw)
        SELECT
            unique_id,
            source_dataset,
            {_NAME.format(c="first_name")} AS first_name,
            {_NAME.format(c="surname")} AS surname,
            {_EMAIL.format(c="email")} AS email,
            {phone} AS phone,
            {_POSTCODE.format(c="postcode")} AS postcode,
            dob,
            {_NAME.format(c="address")} AS address
        FROM digits
    """


def settings(config: str = "three") -> SettingsCreator:
    """The model: out-of-the-box comparisons from ``splink.comparison_library``, term frequencies on exact names.

    ``config="nine"`` adds the address (CRM only) and blocks on the nine custdim rules' fields instead.
    """
    extra = [cl.ExactMatch("address")] if config == "nine" else []
    rules = NINE_PREDICTION_BLOCKING_RULES if config == "nine" else PREDICTION_BLOCKING_RULES
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            # Null / exact (with term-frequency adjustment) / Jaro-Winkler >= 0.92, 0.88, 0.7 / else.
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            # Null / exact (tf) / exact username / Jaro-Winkler 0.88 on address, on username / else.
            cl.EmailComparison("email"),
            # Exact only: a Levenshtein level was never observed among the EM pairs of the tuning data (phones and zips
            # are not mistyped there, only formatted differently, which the cleaning undoes), so its m stayed untrained.
            cl.ExactMatch("phone"),
            # Zips are skewed (hundreds of records share the busiest ones): term frequencies on the exact level.
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            # Only the CRM has birth dates: exact / one edit / within a month, a year, ten years / else. Profiling the
            # tuning data shows spikes (5% of birth dates are one day), hence term frequencies on the exact level.
            cl.DateOfBirthComparison("dob", input_is_string=False).configure(term_frequency_adjustments=True),
            *extra,
        ],
        blocking_rules_to_generate_predictions=[*rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


# Pairs to score: the union of these blocks (Splink removes the duplicates between rules).
PREDICTION_BLOCKING_RULES: tuple[BlockingRuleCreator, ...] = (
    block_on("email"),
    block_on("phone"),
    block_on("surname", "postcode"),
    block_on("first_name", "surname"),
    block_on("first_name", "postcode"),
    block_on("surname", "dob"),
)

# The nine custdim rules' field sets, one block each: the pairs Splink scores are the pairs custdim's rules look at.
NINE_PREDICTION_BLOCKING_RULES: tuple[BlockingRuleCreator, ...] = (
    block_on("email", "surname"),
    block_on("email", "first_name"),
    block_on("email", "dob"),
    block_on("dob", "surname", "first_name"),
    block_on("dob", "postcode", "first_name"),
    block_on("phone", "first_name", "surname"),
    block_on("phone", "dob"),
    block_on("postcode", "address", "first_name", "surname"),
    block_on("postcode", "surname", "first_name"),
)

# Near-certain matches for the prior (probability two random records match); recall is our honest guess of their share
# of all true matches (they miss typos, missing values, other e-mails, moves).
DETERMINISTIC_RULES = (
    block_on("email", "first_name"),
    block_on("phone", "surname"),
    block_on("first_name", "surname", "dob"),
)
DETERMINISTIC_RECALL = 0.7
U_MAX_PAIRS = 5e6
U_SEED = 42
# EM sessions: each comparison is estimated in at least one session whose blocking rule does not use it.
EM_BLOCKING_RULES = (block_on("email"), block_on("surname", "postcode"))


def configuration(config: str = "three", style: str = "default") -> dict[str, Any]:
    """The configuration in words and values, for the results file."""
    rules = NINE_PREDICTION_BLOCKING_RULES if config == "nine" else PREDICTION_BLOCKING_RULES
    dob = "CRM birth_date as DATE (null for shop and POS)"
    if style == "messy":
        dob = "every table's birth_date text parsed by its layout (" + ", ".join(f for _, f in _DOB_FORMATS) + ")"
    return {
        "config": config,
        "style": style,
        "splink": _splink_version(),
        "backend": "DuckDBAPI (in-memory, table materialisation)",
        "link_type": "dedupe_only over the union of crm.contacts, shop.accounts, pos.members",
        "unique_id": "source|table|key",
        "cleaning": {
            "first_name, surname": "strip_accents, lower, trim, collapse whitespace, '' -> null",
            "email": "lower, trim, '' -> null",
            "phone": "drop extension, digits only, 11 digits with leading 1 -> 10 digits, not 10 digits -> null",
            "postcode": "3-5 digits zero-padded to 5, ZIP+4 -> first 5",
            "dob": dob,
            "address": "CRM street, lower, trim, collapse whitespace (null for shop and POS)",
        },
        "comparisons": [
            "NameComparison(first_name) [tf on exact]",
            "NameComparison(surname) [tf on exact]",
            "EmailComparison(email) [tf on exact]",
            "ExactMatch(phone)",
            "ExactMatch(postcode) [tf on exact]",
            "DateOfBirthComparison(dob, input_is_string=False) [tf on exact]",
            *(["ExactMatch(address)"] if config == "nine" else []),
        ],
        "blocking_rules_to_generate_predictions": [_rule_sql(r) for r in rules],
        "training": {
            "estimate_probability_two_random_records_match": {
                "deterministic_rules": [_rule_sql(r) for r in DETERMINISTIC_RULES],
                "recall": DETERMINISTIC_RECALL,
            },
            "estimate_u_using_random_sampling": {"max_pairs": U_MAX_PAIRS, "seed": U_SEED},
            "estimate_parameters_using_expectation_maximisation": [_rule_sql(r) for r in EM_BLOCKING_RULES],
        },
    }


def _rule_sql(rule: BlockingRuleCreator) -> str:
    return rule.get_blocking_rule("duckdb").blocking_rule_sql


def _splink_version() -> str:
    import splink

    return str(splink.__version__)


# --- running ---------------------------------------------------------------------------------------------------------


class SplinkRun:
    """One Splink model over one generated dataset; every step timed and memory-sampled as its phase."""

    def __init__(self, directory: Path, rss: RssSampler) -> None:
        from bench.er import read_variant

        self.variant = read_variant(directory)
        self.directory = directory
        self.rss = rss
        self.seconds: dict[str, float] = {}
        self.facts: dict[str, Any] = {}
        self.db_api = DuckDBAPI()
        self.table: SplinkDataFrame | None = None
        self.linker: Linker | None = None

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        with self.rss.phase(name):
            yield
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)
        _log(f"splink {name}: {self.seconds[name]:.1f} s, peak {self.rss.peak_mb(name)} MiB")

    def prepare(self) -> None:
        with self.phase("prepare"):
            self._query(input_sql(self.directory, self.variant["style"]))
            self.table = self.db_api.register(INPUT_TABLE, dataset_display_name="customers")
        self.facts["input_records"] = int(self._query(f"SELECT count(*) FROM {INPUT_TABLE}")[0][0])

    def train(self) -> None:
        assert self.table is not None, "prepare() first"
        with self.phase("training"):
            linker = Linker(self.table, settings(self.variant["config"]), log_level=logging.WARNING)
            linker.training.estimate_probability_two_random_records_match(
                list(DETERMINISTIC_RULES), recall=DETERMINISTIC_RECALL
            )
            linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=U_SEED)
            for rule in EM_BLOCKING_RULES:
                linker.training.estimate_parameters_using_expectation_maximisation(rule)
        self.linker = linker
        model = linker.misc.save_model_to_json(str(self.directory / "splink_model.json"), overwrite=True)
        self.facts["probability_two_random_records_match"] = model["probability_two_random_records_match"]

    def predict(self, threshold: float) -> SplinkDataFrame:
        assert self.linker is not None
        with self.phase("prediction"):
            predictions = self.linker.inference.predict(threshold_match_probability=threshold)
        self.facts["predicted_pairs"] = self._count(predictions)
        self.facts["prediction_threshold"] = threshold
        return predictions

    def cluster(self, predictions: SplinkDataFrame, threshold: float) -> dict[str, str]:
        """Cluster at ``threshold``; ``unique_id -> cluster_id`` (reading it back is not timed)."""
        assert self.linker is not None
        with self.phase("clustering"):
            clusters = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=threshold
            )
        rows = self._query(f"SELECT unique_id, CAST(cluster_id AS VARCHAR) FROM {clusters.physical_name}")
        clusters.drop_table_from_database_and_remove_from_cache()
        return {str(unique_id): str(cluster_id) for unique_id, cluster_id in rows}

    def _count(self, frame: SplinkDataFrame) -> int:
        return int(self._query(f"SELECT count(*) FROM {frame.physical_name}")[0][0])

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL on Splink's DuckDB connection to completion (DuckDB 2 wants every result fetched)."""
        return self.db_api.duckdb_con.execute(sql).fetchall()


def splink_phase(directory: Path, threshold: float) -> dict[str, Any]:
    """Train, predict at ``threshold`` and cluster at ``threshold``; time, memory and quality."""
    from custdim.demo.generate import TRUTH_PATH

    started = time.perf_counter()
    with RssSampler() as rss:
        run = SplinkRun(directory, rss)
        run.prepare()
        run.train()
        predictions = run.predict(threshold)
        clusters = run.cluster(predictions, threshold)
        process_peak = ru_maxrss_mb()  # before evaluation, which is not Splink's
        wall = time.perf_counter() - started
    clusters_found = len(set(clusters.values()))
    return {
        "status": "succeeded",
        "threshold_match_probability": threshold,
        "seconds": {name: run.seconds.get(name, 0.0) for name in PHASES},
        "total_seconds": round(sum(run.seconds.get(name, 0.0) for name in PHASES), 3),
        "wall_seconds": round(wall, 3),
        "peak_rss_mb": _max(rss.peak_mb(*PHASES), process_peak),
        "sampled_peak_rss_mb": rss.peak_mb(*PHASES),
        "process_peak_rss_mb": process_peak,
        "phase_peak_rss_mb": {name: rss.peak_mb(name) for name in PHASES},
        "rss_samples": rss.samples,
        **run.facts,
        "clusters": clusters_found,
        "quality": quality(clusters, load_truth(directory / TRUTH_PATH)),
    }


def splink_tune_phase(directory: Path, grid: tuple[float, ...]) -> dict[str, Any]:
    """Train once, predict at the lowest threshold of ``grid``, then cluster and score at every threshold."""
    from custdim.demo.generate import TRUTH_PATH

    truth = load_truth(directory / TRUTH_PATH)
    with RssSampler() as rss:
        run = SplinkRun(directory, rss)
        run.prepare()
        run.train()
        predictions = run.predict(min(grid))
        rows = []
        for threshold in sorted(grid):
            scored = quality(run.cluster(predictions, threshold), truth)
            rows.append({"threshold_match_probability": threshold, **scored})
            _log(
                f"splink threshold {threshold}: cluster F1 {scored['cluster']['f1']:.4f}, "
                f"pairwise F1 {scored['pairwise']['f1']:.4f}"
            )
    return {"status": "succeeded", "grid": rows, **run.facts}


def _max(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
