"""Errors raised on bad input: they name the file, sheet, row and column, and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputFileError(ValueError):
    """A raw file cannot be read as its source declares.

    The message always names the file, and when known the sheet, the row (1-based, as a
    spreadsheet shows it), the column, what was expected and what was found.
    """

    def __init__(
        self,
        file: str | Path,
        expected: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        found: str | None = None,
    ) -> None:
        self.file = str(file)
        self.sheet = sheet
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        where = [self.file]
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        msg = f"{', '.join(where)}: expected {expected}"
        if found is not None:
            msg += f", found {found}"
        super().__init__(msg)


class ParameterError(ValueError):
    """A report or run parameter is invalid (unknown code, wrong type...)."""
