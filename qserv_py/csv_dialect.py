"""The text format of data files handed to ``LOAD DATA INFILE`` (MariaDB's field/line options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qserv_py.sql import quote_string


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """``LOAD DATA`` options; the defaults are MariaDB's (tab, backslash escapes, no quotes)."""

    fields_terminated_by: str = "\t"
    fields_enclosed_by: str = ""
    fields_escaped_by: str = "\\"
    lines_terminated_by: str = "\n"
    character_set: str = ""  # empty: the database default (bytes land unchanged in latin1)

    def load_data_clause(self) -> str:
        """The options after ``INTO TABLE t``: character set, then field and line options."""
        charset = f"CHARACTER SET {self.character_set} " if self.character_set else ""
        enclosed = (
            f" OPTIONALLY ENCLOSED BY {quote_string(self.fields_enclosed_by)}"
            if self.fields_enclosed_by
            else ""
        )
        return charset + (
            f"FIELDS TERMINATED BY {quote_string(self.fields_terminated_by)}{enclosed}"
            f" ESCAPED BY {quote_string(self.fields_escaped_by)}"
            f" LINES TERMINATED BY {quote_string(self.lines_terminated_by)}"
        )

    def to_wire(self) -> dict[str, str]:
        return {
            "fields_terminated_by": self.fields_terminated_by,
            "fields_enclosed_by": self.fields_enclosed_by,
            "fields_escaped_by": self.fields_escaped_by,
            "lines_terminated_by": self.lines_terminated_by,
            "character_set": self.character_set,
        }

    @classmethod
    def from_wire(cls, payload: dict[str, Any]) -> CsvDialect:
        return cls(
            fields_terminated_by=str(payload.get("fields_terminated_by", "\t")),
            fields_enclosed_by=str(payload.get("fields_enclosed_by", "")),
            fields_escaped_by=str(payload.get("fields_escaped_by", "\\")),
            lines_terminated_by=str(payload.get("lines_terminated_by", "\n")),
            character_set=_charset(str(payload.get("character_set", ""))),
        )


def _charset(name: str) -> str:
    """Character set names are identifiers; refuse anything else before it reaches SQL."""
    if name and not name.replace("_", "").isalnum():
        raise ValueError(f"bad character set name {name!r}")
    return name
