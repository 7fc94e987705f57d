"""Reading: a CSV (any common delimiter and encoding) or an Excel sheet, every column as text."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
import polars as pl

from dashboard.ingest.mapping import ImportRefused, Mapping

DELIMITERS = ",;\t|"


def detect_encoding(raw: bytes) -> str:
    """utf-8 when the bytes decode as such, else the most likely single-byte encoding."""
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(raw[:200_000]).best()
    return best.encoding if best else "cp1252"


def detect_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: the candidate that splits the first lines into the same number of fields."""
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        raise ImportRefused("The file is empty.")
    best, best_fields = ",", 1
    for candidate in DELIMITERS:
        counts = {len(next(csv.reader([line], delimiter=candidate))) for line in lines}
        fields = len(next(csv.reader([lines[0]], delimiter=candidate)))
        if len(counts) == 1 and fields > best_fields:
            best, best_fields = candidate, fields
    return best


@dataclass(frozen=True)
class RawFile:
    """A file read as text columns, with what was detected about it."""

    frame: pl.DataFrame
    encoding: str
    delimiter: str | None  # None for Excel


def _ragged_row(text_path: Path, delimiter: str) -> str:
    with text_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, [])
        for number, row in enumerate(reader, start=2):
            if len(row) > len(header):
                return f"line {number} has {len(row)} fields but the header has {len(header)}"
    return "a row does not match the header"


def read_file(path: Path | str, *, mapping: Mapping, name: str | None = None) -> RawFile:
    """Every column of a CSV (any common delimiter and encoding) or Excel file, as text."""
    path = Path(path)
    name = name or path.name
    if path.stat().st_size == 0:
        raise ImportRefused(f"{name} is empty.")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            frame = pl.read_excel(path, sheet_name=mapping.sheet, infer_schema_length=0)
        except Exception as exc:  # the Excel reader raises its own error types
            raise ImportRefused(f"{name} could not be read as an Excel workbook: {exc}.") from exc
        return RawFile(_strings(frame), "xlsx", None)
    with path.open("rb") as handle:
        head = handle.read(1_000_000)
    encoding = mapping.encoding if mapping.encoding != "auto" else detect_encoding(head)
    text_path = path
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "ascii"):
        text_path = _transcoded(path, encoding)
    sample = head.decode(encoding, errors="replace")
    delimiter = mapping.delimiter if mapping.delimiter != "auto" else detect_delimiter(sample)
    try:
        frame = pl.read_csv(text_path, separator=delimiter, infer_schema=False, encoding="utf8")
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower():
            guess = detect_encoding(head)
            raise ImportRefused(
                f"{name} is not in {encoding}: it looks like {guess}. Set file.encoding in the mapping to {guess} "
                "(or to auto)."
            ) from exc
        if "more fields" in str(exc):
            raise ImportRefused(f"{name}: {_ragged_row(text_path, delimiter)}. Fix that row and try again.") from exc
        raise ImportRefused(f"{name} could not be read as CSV: {str(exc).splitlines()[0]}") from exc
    except pl.exceptions.NoDataError as exc:
        raise ImportRefused(f"{name} is empty.") from exc
    finally:
        if text_path != path:
            text_path.unlink(missing_ok=True)
    return RawFile(_strings(frame), encoding, delimiter)


def _transcoded(path: Path, encoding: str) -> Path:
    # polars reads UTF-8 only: write a UTF-8 copy, a megabyte at a time, so memory stays bounded.
    target = Path(tempfile.mkstemp(prefix="handoff-import-", suffix=".csv")[1])
    try:
        with path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportRefused(f"{path.name} is not in {encoding}: set file.encoding in the mapping.") from exc
    return target


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    # A trailing delimiter in the header makes a column without a name: give it one a person can read.
    columns = [str(c).strip() or f"(unnamed column {i + 1})" for i, c in enumerate(frame.columns)]
    return frame.rename(dict(zip(frame.columns, columns, strict=True))).select(pl.all().cast(pl.String))
