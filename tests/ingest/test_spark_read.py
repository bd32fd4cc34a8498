"""Spark's read path for large CSV files: executors parse the file; the staged rows, row numbers and rejects are
exactly those of the in-process reader (the reliability cases run on it too: tests/reliability)."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custdim.config.sources import FileTable
from custdim.engines.spark import SparkEngine
from custdim.errors import SourceError
from custdim.lake import Lake
from custdim.stages.ingest import streaming
from custdim.stages.ingest.changes import BATCH, CHANGE
from custdim.stages.ingest.readers import ROW

pytestmark = pytest.mark.spark


@pytest.fixture
def spark(spark_session: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SparkEngine]:
    """The Spark engine, offered every CSV file, each split into 4 KiB ranges read by separate tasks."""
    monkeypatch.setattr(streaming, "STREAM_BYTES", 0)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 16 << 10)
    conf = spark_session.conf  # type: ignore[attr-defined]
    before = conf.get("spark.sql.files.maxPartitionBytes")
    conf.set("spark.sql.files.maxPartitionBytes", str(4 << 10))
    try:
        yield SparkEngine(Lake(str(tmp_path / "lake")))
    finally:
        conf.set("spark.sql.files.maxPartitionBytes", before)


def _rows(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = ["Anna", "José", "Zoë", '"Smith, Jr."', '"say ""hi"""', "O'Brien", "", '""', " spaced ", "李"]
    amounts = ["", "1.50", "-3"]
    return [f"C{i:06d},{rng.choice(names)},{rng.randint(0, 99999):05d},{rng.choice(amounts)}" for i in range(n)]


def _spec(path: Path, **kw: object) -> FileTable:
    return FileTable.model_validate({"name": "contacts", "path": str(path), "primary_key": "id", **kw})


def _land_both(
    path: Path, spec: FileTable, tmp_path: Path, engine: SparkEngine
) -> tuple[streaming.Landed, pa.Table, streaming.Landed, pa.Table, list[str]]:
    """Land ``path`` in process and through Spark; both staged tables (by row number) and Spark's part files."""
    results = []
    for name, engine_csv in (("here", None), ("spark", engine.land_csv)):
        staging = tmp_path / f"staging-{name}"
        staging.mkdir()
        landed = streaming.land_files(
            str(path), spec, "crm.contacts", "sources[0].tables[0]", fsspec.filesystem("file"), str(staging), None,
            engine_csv,
        )  # fmt: skip
        results.append((landed, pq.read_table(staging).sort_by(ROW), staging))
    (here, here_rows, _), (there, there_rows, staging) = results
    written = sorted(p.name for p in staging.glob("part-*-*.parquet"))  # Spark's names (pyarrow's: part-00000)
    return here, here_rows, there, there_rows.select(here_rows.column_names), written


@pytest.mark.parametrize("variant", ["plain", "gzip", "crlf-bom", "semicolons-no-header"])
def test_a_large_clean_file_is_parsed_by_spark_with_the_rows_of_the_in_process_reader(
    spark: SparkEngine, tmp_path: Path, variant: str
) -> None:
    lines = ["id,name,zip,amount", *_rows(3_000, 1)]
    lines.insert(1_500, "")  # a blank line is no row
    kw: dict[str, object] = {}
    if variant == "semicolons-no-header":
        lines = [line.replace(",", ";") for line in lines[1:]]
        kw = {"delimiter": ";", "header": False, "column_names": ["id", "name", "zip", "amount"]}
    text = ("\r\n" if variant == "crlf-bom" else "\n").join(lines) + "\n"
    data = (b"\xef\xbb\xbf" if variant == "crlf-bom" else b"") + text.encode("utf-8")
    path = tmp_path / ("contacts.csv.gz" if variant == "gzip" else "contacts.csv")
    path.write_bytes(gzip.compress(data) if variant == "gzip" else data)
    spec = _spec(path, **kw)

    here, here_rows, there, there_rows, written = _land_both(path, spec, tmp_path, spark)
    assert written, "Spark's read path was not used"
    if variant != "gzip":
        assert len(written) > 5  # many ranges, each its own task and part file
    assert there.rows == here.rows == 3_000 and there.rejects == here.rejects == []
    assert there_rows.equals(here_rows)
    assert there_rows[ROW].to_pylist() == list(range(1, 3_001))


def test_files_with_different_columns_in_a_change_folder_keep_columns_order_and_marks(
    spark: SparkEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "contacts"
    (folder / "FullData").mkdir(parents=True)
    upserts = folder / "IncrementalData" / "2026" / "01" / "02" / "03" / "Upserts"
    upserts.mkdir(parents=True)
    (folder / "FullData" / "a.csv").write_text("id,name,zip,amount\n" + "\n".join(_rows(2_000, 3)) + "\n")
    (upserts / "b.csv").write_text(
        "id,email,name\n" + "\n".join(f"C{i:06d},c{i}@example.com,N{i}" for i in range(500)) + "\n"
    )
    spec = _spec(folder, format="csv", incremental={"modified": "modified_at"}, columns={"modified_at": "timestamp"})

    here, here_rows, there, there_rows, written = _land_both(folder, spec, tmp_path, spark)
    assert written
    columns = ["id", "name", "zip", "amount", "email", ROW, CHANGE, BATCH]
    assert here_rows.column_names == columns
    for name in written:  # Spark's part files have the table's columns in its order, like the in-process parts
        assert pq.read_schema(tmp_path / "staging-spark" / name).names == columns
    assert there.rows == here.rows == 2_500
    assert there_rows.equals(here_rows)
    assert len(set(there_rows[BATCH].to_pylist())) == 2  # full data, and the one hour of upserts


@pytest.mark.parametrize("damage", ["stray-quote", "too-many-values", "not-utf8", "multi-line"])
def test_a_file_the_careful_reader_must_judge_is_left_to_it(spark: SparkEngine, tmp_path: Path, damage: str) -> None:
    lines = ["id,name,zip,amount", *_rows(3_000, 2)]
    if damage == "stray-quote":
        lines[2_000] = lines[2_000].replace(",", ',"', 1)
    elif damage == "too-many-values":
        lines[2_500] += ",extra"
    elif damage == "multi-line":
        lines[1_000] = lines[1_000].rsplit(",", 1)[0] + ',"1\n2"'
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if damage == "not-utf8":
        data = data.replace(b"C002700,", "C002700é,".encode("latin-1"))
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)

    here, here_rows, there, there_rows, written = _land_both(path, _spec(path), tmp_path, spark)
    assert written == []  # nothing from Spark: the file was read in process, the careful way
    assert there.rows == here.rows and there.rejects == here.rejects
    assert there_rows.equals(here_rows)
    if damage != "multi-line":
        assert there.rejects


def _land_parquet(folder: Path, staging: Path, engine: SparkEngine | None, calls: list[int]) -> streaming.Landed:
    def counted(work: streaming.Callable[[streaming.Task], streaming.Task], tasks: list[streaming.Task]):  # type: ignore[no-untyped-def]
        assert engine is not None
        calls.append(len(tasks))
        return engine.run_tasks(work, tasks)

    staging.mkdir()
    return streaming.land_files(
        str(folder), _spec(folder, format="parquet"), "shop.accounts", "sources[0].tables[0]",
        fsspec.filesystem("file"), str(staging), None, None, counted if engine is not None else None,
    )  # fmt: skip


def test_large_parquet_files_are_read_row_group_by_row_group_on_the_workers(spark: SparkEngine, tmp_path: Path) -> None:
    folder = tmp_path / "accounts"
    folder.mkdir()
    n = 6_000
    a = pa.table({
        "id": [f"A{i}" for i in range(n)],
        "n": pa.array(range(n), pa.int32()),
        "t": pa.array([1_700_000_000_123_456_789 + i for i in range(n)], pa.timestamp("ns", tz="UTC")),
    })  # fmt: skip
    b = pa.table(
        {"id": [f"B{i}" for i in range(n // 2)], "n": pa.array(range(n // 2), pa.int64()), "x": ["y"] * (n // 2)}
    )
    pq.write_table(a, folder / "a.parquet", row_group_size=500)
    pq.write_table(b, folder / "b.parquet", row_group_size=1_000)

    calls: list[int] = []
    here = _land_parquet(folder, tmp_path / "here", None, calls)
    there = _land_parquet(folder, tmp_path / "there", spark, calls)
    assert calls == [15]  # one task per row group: 12 of a, 3 of b
    assert there.rows == here.rows == 9_000 and there.parts == here.parts == 15
    names = sorted(p.name for p in (tmp_path / "here").iterdir())
    assert sorted(p.name for p in (tmp_path / "there").iterdir()) == names
    for name in names:  # part for part the same file contents: types (ns timestamps, promoted ints), rows, numbers
        assert pq.read_table(tmp_path / "there" / name).equals(pq.read_table(tmp_path / "here" / name))
    staged = pq.read_table(tmp_path / "there").sort_by(ROW)
    assert staged[ROW].to_pylist() == list(range(1, 9_001))
    assert staged["t"].type == pa.timestamp("ns", tz="UTC") and staged["n"].type == pa.int64()


def test_a_parquet_file_a_worker_cannot_read_is_read_here_and_reported(spark: SparkEngine, tmp_path: Path) -> None:
    folder = tmp_path / "accounts"
    folder.mkdir()
    path = folder / "a.parquet"
    pq.write_table(pa.table({"id": [f"A{i}" for i in range(2_000)]}), path, row_group_size=1_000)
    # The footer is sound, the second row group's page header is not: only the task reading it fails.
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))

    staging = tmp_path / "there"
    staging.mkdir()
    parts = streaming._Parts(fsspec.filesystem("file"), str(staging), streaming._parquet_schema(
        fsspec.filesystem("file"), [str(path)], "where"))  # fmt: skip
    landed = streaming.Landed()
    assert not streaming._land_parquet_on_workers(
        fsspec.filesystem("file"), [str(path)], parts, landed, spark.run_tasks
    )
    assert list(staging.iterdir()) == [] and parts.count == 0 and landed.rows == 0  # the first task's part is gone
    with pytest.raises(SourceError, match=r"shop.accounts: sources\[0\]\.tables\[0\]\.path: cannot read .*a.parquet"):
        _land_parquet(folder, tmp_path / "again", spark, [])
