"""What the entity-resolution suite measures: match quality against the generator's truth, and peak memory.

Quality comes in two flavours, both computed on the records in the truth file only:

- pairwise precision / recall / F1 (:func:`custdim.metrics.pairs.pair_quality`: a pair is predicted when both records
  share a cluster, true when both belong to one person);
- cluster precision / recall / F1: precision is the share of predicted clusters that are exactly one person's record
  set, recall the share of people whose record set came out exactly as one predicted cluster, F1 their harmonic mean.
  Singletons count like any other cluster.

Memory is sampled with psutil from a background thread (resident set size, every 50 ms), attributed to the phase the
main thread says it is in; the kernel's own high-water mark (``ru_maxrss``) is kept next to it as a cross-check,
because it also sees spikes shorter than the sampling interval.
"""

from __future__ import annotations

import resource
import sys
import threading
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv

from custdim.demo.generate import TRUTH_COLUMNS
from custdim.metrics.clusters import cluster_quality
from custdim.metrics.pairs import pair_quality

SAMPLE_SECONDS = 0.05
MIB = 1024 * 1024


# --- quality --------------------------------------------------------------------------------------------------------


def record_id(source: str, table: str, key: str) -> str:
    """The one id both systems' outputs are joined to the truth on: ``source|table|key``."""
    return f"{source}|{table}|{key}"


def load_truth(path: Path) -> dict[str, str]:
    """``source|table|key`` -> person id, from the generator's ``truth/truth.csv``."""
    types = {column: pa.string() for column in TRUTH_COLUMNS}
    frame = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types)).to_pandas()
    ids = frame["source"] + "|" + frame["table"] + "|" + frame["key"]
    return dict(zip(ids.tolist(), frame["person_id"].tolist(), strict=True))


def quality(predicted: Mapping[str, Hashable], truth: Mapping[str, str]) -> dict[str, Any]:
    """Pairwise and cluster quality of ``record id -> cluster`` against ``record id -> person``."""
    missing = sum(1 for k in truth if k not in predicted)
    return {
        "truth_records": len(truth),
        "missing_records": missing,
        "pairwise": pair_quality(predicted, truth).to_json(),
        "cluster": cluster_quality(predicted, truth).to_json(),
    }


def link_quality(links: list[tuple[str, str, str, str]], truth: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per (stage, rule): the direct links a rule accepted and how many join two different people.

    ``links`` holds (stage, rule, left record id, right record id); links with a record outside the truth are
    left out. Shows at a glance which rule lets false links in, which cluster-level scores hide.
    """
    counts: dict[tuple[str, str], list[int]] = {}
    for stage, rule, left, right in links:
        a, b = truth.get(left), truth.get(right)
        if a is None or b is None:
            continue
        c = counts.setdefault((stage, rule), [0, 0])
        c[0] += 1
        c[1] += a != b
    return [
        {"stage": stage, "rule": rule, "links": n, "false": f, "false_share": round(f / n, 4) if n else None}
        for (stage, rule), (n, f) in sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]


def size_distribution(predicted: Mapping[str, Hashable], truth: Mapping[str, str]) -> list[dict[str, Any]]:
    """Profiles by size band: how many, and how many hold records of more than one person."""
    members: dict[Hashable, list[str]] = {}
    for record, cluster in predicted.items():
        if record in truth:
            members.setdefault(cluster, []).append(truth[record])
    bands = [(1, 1), (2, 2), (3, 3), (4, 5), (6, 9), (10, 49), (50, None)]
    out = []
    for lo, hi in bands:
        chosen = [m for m in members.values() if len(m) >= lo and (hi is None or len(m) <= hi)]
        out.append(
            {
                "size": str(lo) if lo == hi else (f"{lo}+" if hi is None else f"{lo}-{hi}"),
                "profiles": len(chosen),
                "mixed": sum(1 for m in chosen if len(set(m)) > 1),
            }
        )
    return out


# --- memory ---------------------------------------------------------------------------------------------------------


def ru_maxrss_mb() -> float:
    """The kernel's high-water mark of this process's resident memory so far, in MiB."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(usage / (MIB if sys.platform == "darwin" else 1024), 1)  # Linux reports KiB, macOS bytes


class RssSampler:
    """Sample this process's resident memory in a background thread; keep the maximum per labelled phase.

    ``with RssSampler() as rss:`` starts and stops the thread; ``with rss.phase("match"):`` labels what the main thread
    is doing. Samples are also taken when a phase starts and ends, so even a phase shorter than the interval has one.
    """

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._label: str | None = None
        self._peaks: dict[str, int] = {}
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        with self._lock:
            self._label = label
        self._sample()
        try:
            yield
        finally:
            self._sample()
            with self._lock:
                self._label = None

    def peak_mb(self, *labels: str) -> float | None:
        """Highest sample over the given phases (all phases when none are given), in MiB."""
        with self._lock:
            values = [v for k, v in self._peaks.items() if not labels or k in labels]
        return round(max(values) / MIB, 1) if values else None

    @property
    def samples(self) -> int:
        return self._samples

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        try:
            rss = int(self._process.memory_info().rss)
        except psutil.Error:
            return
        with self._lock:
            self._samples += 1
            if self._label is not None:
                self._peaks[self._label] = max(self._peaks.get(self._label, 0), rss)
