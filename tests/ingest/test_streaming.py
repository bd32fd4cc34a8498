"""Large files are landed part by part, with exactly the rows, row numbers and rejects of a whole-file read."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custdim.config.sources import FileTable
from custdim.stages.ingest import streaming
from custdim.stages.ingest.readers import ROW, read_table


def _rows(n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    names = ["Anna", "José", "Zoë", "Mårten", "Bob", "O'Brien", "Łukasz", "李"]
    return [
        [f"C{i:07d}", rng.choice(names), f"{rng.randint(0, 99999):05d}", f"{rng.random() * 1000:.2f}"] for i in range(n)
    ]


def _csv(rows: list[list[str]], header: str = "id,name,zip,amount") -> bytes:
    return (header + "\n" + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8")


def _land(path: Path, spec: FileTable, staging: Path) -> streaming.Landed:
    staging.mkdir(parents=True, exist_ok=True)
    return streaming.land_files(
        str(path), spec, "crm.contacts", "sources[0].tables[0]", fsspec.filesystem("file"), str(staging)
    )


def _whole(path: Path, spec: FileTable) -> tuple[pa.Table, list[dict[str, object]]]:
    result = read_table(str(path), spec, "crm.contacts", "sources[0].tables[0]")
    return result.table, result.rejects


@pytest.fixture
def stream_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stream every file, in blocks small enough that a few thousand rows make many parts."""
    monkeypatch.setattr(streaming, "STREAM_BYTES", 0)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 16 << 10)


def _spec(path: Path, **kw: object) -> FileTable:
    return FileTable.model_validate({"name": "contacts", "path": str(path), "primary_key": "id", **kw})


@pytest.mark.usefixtures("stream_everything")
@pytest.mark.parametrize("compressed", [False, True])
def test_a_clean_large_file_is_streamed_in_many_parts_with_identical_rows(tmp_path: Path, compressed: bool) -> None:
    data = _csv(_rows(20_000, 1))
    path = tmp_path / ("contacts.csv.gz" if compressed else "contacts.csv")
    path.write_bytes(gzip.compress(data) if compressed else data)
    spec = _spec(path)
    landed = _land(path, spec, tmp_path / "staging")
    assert landed.parts > 5  # streamed: many parts, each one block
    staged = pq.read_table(tmp_path / "staging")
    whole, rejects = _whole(path, spec)
    assert landed.rows == whole.num_rows == 20_000 and landed.rejects == rejects == []
    assert staged.sort_by(ROW).equals(whole.select(staged.column_names))


@pytest.mark.usefixtures("stream_everything")
@pytest.mark.parametrize(
    "damage",
    [
        "malformed",  # a row with too many fields late in the file
        "stray-quote",  # a quote that swallows rows
        "not-utf8",  # latin-1 bytes in a UTF-8 file
        "multi-line",  # a legitimate quoted value spanning lines
        "open-at-end",  # the last quote never closes
    ],
)
def test_trouble_found_while_streaming_gives_the_whole_file_result(tmp_path: Path, damage: str) -> None:
    rows = _rows(6_000, 2)
    text = _csv(rows)
    lines = text.split(b"\n")
    if damage == "malformed":
        lines[5_000] += b",extra,fields"
    elif damage == "stray-quote":
        lines[4_000] = lines[4_000].replace(b",", b',"', 1)
    elif damage == "not-utf8":
        lines[5_500] = lines[5_500] + "é".encode("latin-1")
    elif damage == "multi-line":
        lines[3_000] = lines[3_000] + b',"12 Main St\nApt 4"'
        lines[0] += b",address"
    elif damage == "open-at-end":
        lines[-2] = lines[-2] + b',"never closed'
        lines[0] += b",note"
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\n".join(lines))
    spec = _spec(path)
    landed = _land(path, spec, tmp_path / "staging")
    whole, rejects = _whole(path, spec)
    staged = pq.read_table(tmp_path / "staging")
    assert landed.rows == whole.num_rows and landed.rejects == [{**r, ROW: None} for r in rejects]
    assert staged.sort_by(ROW).equals(whole.select(staged.column_names))
    if damage != "multi-line":
        assert landed.rejects, "the damage must have been found"


@pytest.mark.usefixtures("stream_everything")
def test_files_with_different_columns_and_parquet_row_groups_land_as_one_table(tmp_path: Path) -> None:
    folder = tmp_path / "contacts"
    folder.mkdir()
    (folder / "a.csv").write_bytes(_csv(_rows(3_000, 3)))
    (folder / "b.csv").write_bytes(_csv([[*r[:2], "x@example.com"] for r in _rows(2_000, 4)], "id,name,email"))
    spec = _spec(folder, format="csv")
    landed = _land(folder, spec, tmp_path / "staging")
    staged = pq.read_table(tmp_path / "staging").sort_by(ROW)
    whole, _ = _whole(folder, spec)
    assert staged.column_names == ["id", "name", "zip", "amount", ROW, "email"] or set(staged.column_names) == set(
        whole.column_names
    )
    assert staged.num_rows == landed.rows == 5_000
    assert staged.to_pylist() == whole.select(staged.column_names).to_pylist()

    pfolder = tmp_path / "accounts"
    pfolder.mkdir()
    table = pa.table({"id": [f"A{i}" for i in range(10_000)], "n": list(range(10_000))})
    pq.write_table(table, pfolder / "part-0.parquet", row_group_size=1_000)
    pspec = _spec(pfolder, format="parquet")
    plist = _land(pfolder, pspec, tmp_path / "pstaging")
    assert plist.parts == 10 and plist.rows == 10_000
    assert pq.read_table(tmp_path / "pstaging").sort_by(ROW).drop_columns([ROW]).equals(table)
