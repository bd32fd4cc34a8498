"""Regenerate the name data that ``custdim.semantic.names`` ships as package data (``src/custdim/semantic/data``).

The first-name normalizer folds nicknames using two third-party sources: Faker's census-weighted ``en_US`` first
names (which canonical is most common) and the ``nicknames`` package (which nicknames belong to which names). Read
at import time, an upgrade of either library could silently change match keys and so CustomerIds; frozen here,
they change only when someone reruns this script and commits the result, as a deliberate change of match keys.

Output is deterministic (sorted rows, UTF-8, LF line ends): rerunning with the same library data gives the same
bytes, which ``tests/semantic/test_name_data.py`` checks against the shipped files.

Usage: ``python scripts/build_name_data.py [OUTPUT_DIR]`` (default: the package's data folder).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from faker.providers.person.en_US import Provider as FakerPerson
from nicknames import NickNamer

# Bump when the columns or their meaning change, so a reader can tell which layout a file has.
FORMAT_VERSION = 1
GIVEN_NAMES = "given_names.csv"
NICKNAMES = "nicknames.csv"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "src" / "custdim" / "semantic" / "data"


def _csv_text(comments: list[str], header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    out.writelines(f"# {line}\n" for line in comments)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def given_names_csv() -> str:
    """Faker's ``en_US`` first-name weights as CSV: lowercased name, female + male weight summed.

    Weights are written with ``repr`` so that reading them back gives the same floats bit for bit: the nickname
    rule compares them, and a rounded weight could flip a choice.
    """
    freq: dict[str, float] = {}
    # Female then male, as custdim has always summed them: float addition order is part of the result.
    for table in (FakerPerson.first_names_female, FakerPerson.first_names_male):
        for name, weight in table.items():
            freq[name.lower()] = freq.get(name.lower(), 0.0) + float(weight)
    comments = [
        f"custdim given-name frequencies, format {FORMAT_VERSION}: name = lowercased US first name; "
        "frequency = Faker en_US first_names_female + first_names_male weight (Python float repr).",
        "Produced by scripts/build_name_data.py; edit the script, not this file. New data can change match keys.",
    ]
    return _csv_text(comments, ("name", "frequency"), [(name, repr(freq[name])) for name in sorted(freq)])


def nicknames_csv() -> str:
    """Every (canonical name, nickname) pair of the ``nicknames`` package, as CSV, unfiltered."""
    namer = NickNamer()
    pairs = sorted((canonical, nick) for canonical, nicks in namer.nickname_lookup.items() for nick in nicks)
    comments = [
        f"custdim nickname groups, format {FORMAT_VERSION}: one row per (canonical, nickname) pair, as given by "
        "the nicknames package (github.com/carltonnorthern/nicknames, Apache-2.0).",
        "Produced by scripts/build_name_data.py; edit the script, not this file. New data can change match keys.",
    ]
    return _csv_text(comments, ("canonical", "nickname"), pairs)


def generate(out_dir: Path) -> list[Path]:
    """Write the name data files into ``out_dir`` (created if missing); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in ((GIVEN_NAMES, given_names_csv()), (NICKNAMES, nicknames_csv())):
        path = out_dir / filename
        # Bytes, not text mode: no platform newline translation.
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: regenerate the files into OUTPUT_DIR (default: the package's data folder)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output_dir", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    for path in generate(args.output_dir):
        print(path)


if __name__ == "__main__":
    main()
