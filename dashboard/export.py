"""Tables as files a person downloads: CSV and Excel, with spreadsheet formulas neutralised."""

from __future__ import annotations

import io

import polars as pl

# A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection).
FORMULA_START = r"^[=+\-@\t\r]"


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with every text cell that a spreadsheet would run as a formula prefixed by a quote."""
    text = [c for c, t in frame.schema.items() if t in (pl.String, pl.Categorical, pl.Enum)]
    return frame.with_columns(
        pl.when(cell.str.contains(FORMULA_START)).then("'" + cell).otherwise(cell).alias(c)
        for c, cell in ((c, pl.col(c).cast(pl.String)) for c in text)
    )


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (with a byte-order mark, so spreadsheet programs read the accents right)."""
    return b"\xef\xbb\xbf" + neutralised(frame).write_csv().encode("utf-8")


def excel_bytes(frame: pl.DataFrame, *, sheet: str = "Handoff") -> bytes:
    """The frame as an .xlsx workbook; text cells are written as text, never as formulas."""
    buffer = io.BytesIO()
    safe = neutralised(frame).with_columns(pl.col(pl.Datetime).dt.replace_time_zone(None))
    safe.write_excel(buffer, worksheet=sheet[:31], autofit=True, header_format={"bold": True})
    return buffer.getvalue()
