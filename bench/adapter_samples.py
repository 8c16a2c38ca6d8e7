"""Every adapter of ``streamwatch import`` over the public sample files of its format.

    python bench/adapter_samples.py [--datasets ../shared/datasets]

Reads the verbatim public samples under ``<datasets>/real-formats`` and the FOCUS sample under
``<datasets>/focus-billing-sample`` (never copied into this repository) as ``streamwatch import
FORMAT FILE...`` reads them with no option: the same reader (``adapters.read``), the same
unwrapping and counting (``adapters.run``) and the same context (``commands.importer``; so
utilization records, which carry no price, are quantity only). ``SAMPLES`` says which files
are each format's: those the adapter tests feed it, including the files published as invalid
JSON, which must be refused with a reason. Doc pages, schemas, licences and ``SOURCE.txt`` are
not records and are never read; sample files that no format takes (Partner Center invoices,
license-based invoice and recon line items, the usage-export manifest) are listed apart. A
``.json`` file and the ``.response.http`` it was cut from are both read, as both are input
``import`` takes, so their records count twice (with the same event ids).

Prints one table: per format, files read, records read, events written (by type) and records
refused (by reason code). Writes the same, with a refusal example per code, per-file counts and
the wall time of each format, to bench/out/adapter_samples.json.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final

from common import OUT, Timer
from streamwatch.adapters import FORMATS
from streamwatch.adapters.base import Context
from streamwatch.adapters.read import is_csv, read_source
from streamwatch.adapters.run import Run, records_of
from streamwatch.commands import importer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
SAMPLE_ROOTS: Final = ("real-formats", "focus-billing-sample")

SAMPLES: Final[dict[str, tuple[str, ...]]] = {
    # format: glob patterns under the datasets folder
    "azure-activity": (
        "real-formats/azure-activity-log/rest-eventdata/*",
        "real-formats/azure-activity-log/diagnostic-export-records/*",
    ),
    "azure-cost": ("real-formats/azure-cost-details/*.csv",),
    "azure-health": ("real-formats/azure-resource-service-health/*.json",),
    "defender-alerts": ("real-formats/defender-for-cloud-alerts/*.json",),
    "flow-logs": ("real-formats/azure-network-flow-logs/*.json",),
    "focus": ("focus-billing-sample/*.csv",),
    # fraud events and the status update's request and answers (all but one invalid as published)
    "partner-fraud": (
        "real-formats/partner-center-fraud-events/fraudEvents.*",
        "real-formats/partner-center-fraud-events/update-status.*",
    ),
    # daily-rated usage only: the folder's invoices and other line items are not this format
    "partner-usage": ("real-formats/partner-center-billing/*consumption-lineitems.*",),
    "partner-utilization": ("real-formats/partner-center-utilization/azure-utilization-records.*",),
    # every Stripe object published, payments or not: the others must be refused with a reason
    "stripe": ("real-formats/stripe-payments/*/*.json",),
}

_NOT_RECORD_DIRS: Final = frozenset({"doc-pages", "schemas"})


def not_a_record(relative: PurePosixPath) -> bool:
    """Whether a file under the datasets folder is documentation rather than sample records:
    doc pages, export schemas, Markdown, licences and ``SOURCE.txt``. Files published as
    invalid JSON (``*.invalid-json.txt``) are records."""
    name = relative.name.lower()
    return (
        bool(_NOT_RECORD_DIRS.intersection(relative.parts[:-1]))
        or name.endswith(".md")
        or name == "source.txt"
        or name.startswith(("license", "licence"))
    )


def sample_files(datasets: Path, patterns: Iterable[str]) -> list[Path]:
    """The record files the patterns match under ``datasets``, sorted, documentation left out."""
    found = {path for pattern in patterns for path in datasets.glob(pattern) if path.is_file()}
    return sorted(p for p in found if not not_a_record(_relative(p, datasets)))


def unclaimed_files(datasets: Path, claimed: Iterable[Path]) -> list[str]:
    """Record files under the sample folders that no format's patterns take."""
    taken = set(claimed)
    out = []
    for root in SAMPLE_ROOTS:
        for path in sorted((datasets / root).rglob("*")):
            relative = _relative(path, datasets)
            if path.is_file() and path not in taken and not not_a_record(relative):
                out.append(str(relative))
    return out


def _relative(path: Path, datasets: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(datasets).as_posix())


def import_context(name: str) -> Context:
    """The context ``streamwatch import NAME FILE`` builds when given no option."""
    parser = argparse.ArgumentParser()
    importer.configure(parser)
    context: Context = importer.build_context(parser.parse_args([name, "-"]))
    return context


def run_format(name: str, files: Sequence[Path], datasets: Path) -> dict[str, Any]:
    """Map every record of ``files`` through the format's adapter as ``import`` does; the
    summary (``Summary.to_dict``) with the files, per-file counts and the wall time."""
    adapter = FORMATS[name]
    mapping = Run(adapter.map_record, import_context(name))
    summary = mapping.summary
    per_file = []
    with Timer() as timer:
        for path in files:
            before = (summary.records, summary.events, Counter(summary.refused))
            csv = is_csv(path, adapter.INPUT)
            for document in read_source(path, adapter.INPUT):
                for record in [document] if csv else records_of(document):
                    mapping.record(record)
            per_file.append(
                {
                    "file": str(_relative(path, datasets)),
                    "records": summary.records - before[0],
                    "events": summary.events - before[1],
                    "refused": dict(sorted((summary.refused - before[2]).items())),
                }
            )
    return {
        "format": name,
        "files": len(files),
        **summary.to_dict(),
        "seconds": round(timer.seconds, 4),
        "per_file": per_file,
    }


def _counts(counts: Mapping[str, int], by_count: bool) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]) if by_count else kv[0])
    return ", ".join(f"{n} {key}" for key, n in items) or "-"


HEADER: Final = ("format", "files", "records", "events", "by type", "refused", "by reason")
_NUMERIC: Final = frozenset({1, 2, 3, 5})


def table(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per format and a total line, columns aligned (numbers to the right). Events
    are listed by type in name order; refusals by reason, most frequent first."""
    rows = [
        (
            str(r["format"]),
            str(r["files"]),
            str(r["records"]),
            str(r["events"]),
            _counts(r["by_type"], by_count=False),
            str(sum(r["refused"].values())),
            _counts(r["refused"], by_count=True),
        )
        for r in results
    ]
    by_type: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for r in results:
        by_type.update(r["by_type"])
        refused.update(r["refused"])
    rows.append(
        (
            "total",
            str(sum(r["files"] for r in results)),
            str(sum(r["records"] for r in results)),
            str(sum(r["events"] for r in results)),
            _counts(by_type, by_count=False),
            str(refused.total()),
            _counts(refused, by_count=True),
        )
    )
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in _NUMERIC else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return [line(HEADER), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=DEFAULT_DATASETS,
        help="the shared datasets folder (default: ../shared/datasets beside the repository)",
    )
    args = parser.parse_args()
    datasets = args.datasets.resolve()
    if not (datasets / "real-formats").is_dir():
        raise SystemExit(f"no real-formats samples in {args.datasets} (pass --datasets DIR)")
    files = {name: sample_files(datasets, SAMPLES[name]) for name in sorted(FORMATS)}
    results = [run_format(name, files[name], datasets) for name in sorted(FORMATS)]
    unclaimed = unclaimed_files(datasets, (p for paths in files.values() for p in paths))
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {
        "datasets": os.path.relpath(datasets, REPO),
        "formats": results,
        "not_read": unclaimed,
    }
    (OUT / "adapter_samples.json").write_text(json.dumps(doc, indent=2) + "\n")
    for text in table(results):
        print(text)
    folders = Counter(PurePosixPath(name).parent.as_posix() for name in unclaimed)
    if folders:
        print("not any format's samples, not read: " + _counts(folders, by_count=True))
    crashed = [r["format"] for r in results if "mapping_error" in r["refused"]]
    if crashed:
        print("mapping errors (bugs in an adapter): " + ", ".join(crashed))
    seconds = sum(r["seconds"] for r in results)
    print(f"written to bench/out/adapter_samples.json ({seconds:.2f} s mapping)")


if __name__ == "__main__":
    main()
