"""Qserv's integration-test query files, read the way Qserv's runner reads them.

Lines ending in ``-- noQserv`` go to the reference only; lines starting ``-- withQserv `` go
(without the prefix) to Qserv only; ``-- pragma sortresult`` compares rows as multisets;
``{DBTAG_A}`` becomes the case's database (``qcaseNN.``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.cluster_support import QSERV_ITEST

SKIP_NUMBERS = {  # integration_tests.yaml: queries Qserv's own runner skips
    "case01": {"2100", "3008"},
    "case02": {"0002", "3020", "3020.2"},
    "case03": {"0005"},
    "case04": {"0001", "0020"},
}


@dataclass(frozen=True)
class QservQuery:
    case: str
    name: str
    qserv_sql: str
    reference_sql: str
    sort_result: bool


def read_query(case: str, path: Path) -> QservQuery:
    database = f"q{case}"
    qserv: list[str] = []
    reference: list[str] = []
    sort_result = False
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("-- withQserv "):
            qserv.append(stripped[len("-- withQserv ") :])
            continue
        if stripped.startswith("-- pragma"):
            sort_result |= "sortresult" in stripped
            continue
        if stripped.startswith("--") or not stripped:
            continue
        if re.search(r"--\s*noQserv\s*$", line):
            reference.append(re.sub(r"--\s*noQserv\s*$", "", line))
            continue
        line = re.sub(r"\s--\s.*$", "", line)  # a trailing comment
        qserv.append(line)
        reference.append(line)

    def finish(lines: list[str]) -> str:
        return "\n".join(lines).replace("{DBTAG_A}", f"{database}.").strip().rstrip(";")

    return QservQuery(case, path.stem, finish(qserv), finish(reference), sort_result)


def case_queries(case: str) -> list[QservQuery]:
    folder = QSERV_ITEST / case / "queries"
    skip = SKIP_NUMBERS.get(case, set())
    queries = []
    for path in sorted(folder.glob("*.sql")):
        number = path.stem.split("_", 1)[0]
        if number in skip:
            continue
        queries.append(read_query(case, path))
    return queries


def unsupported_queries() -> list[QservQuery]:
    """The ``unsupported_*`` folders: queries Qserv refuses (or MariaDB cannot run)."""
    queries = []
    for folder in sorted(QSERV_ITEST.glob("case*/queries/unsupported_*")):
        case = folder.parts[-3]
        for path in sorted(folder.glob("*.sql")):
            query = read_query(case, path)
            queries.append(
                QservQuery(
                    case,
                    f"{folder.name}/{path.stem}",
                    query.qserv_sql,
                    query.reference_sql,
                    query.sort_result,
                )
            )
    return queries
