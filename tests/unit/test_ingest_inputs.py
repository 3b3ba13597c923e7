"""Descriptions and record splitting, without a cluster."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from qserv_py.csv_dialect import CsvDialect
from qserv_py.ingest.description import read_database, read_table
from qserv_py.ingest.errors import IngestError
from qserv_py.ingest.placement import Placement
from qserv_py.ingest.text_blocks import read_blocks
from tests.cluster_support import QSERV_ITEST


def test_qserv_itest_descriptions_parse_unchanged() -> None:
    case01 = QSERV_ITEST / "case01" / "data" / "ingest"
    db = read_database(case01 / "database.json")
    assert (db.name, db.num_stripes, db.num_sub_stripes, db.overlap) == ("qcase01", 85, 12, 0.01667)
    obj = read_table(case01 / "Object.json")
    assert obj.kind == "director" and obj.has_position and len(obj.input_columns) == 228
    src = read_table(case01 / "Source.json")
    assert src.kind == "child" and src.director_table == "Object" and src.has_position
    assert read_table(case01 / "Filter.json").kind == "regular"
    dup = read_table(QSERV_ITEST / "case04" / "data" / "ingest" / "DeepSourceDupKeys.json")
    assert not dup.unique_primary_key
    coadd = read_table(QSERV_ITEST / "case04" / "data" / "ingest" / "DeepCoadd.json")
    assert coadd.dialect.fields_enclosed_by == '"' and coadd.dialect.fields_terminated_by == ","


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"longitude_key": "nope"}, "is not a column"),
        ({"director_key": ""}, "needs 'director_key'"),
        ({"table": "bad name"}, "letters, digits"),
        ({"schema": []}, "non-empty list"),
        ({"fields_terminated_by": "::"}, "single-character"),
        ({"director_table2": "Other"}, "match tables"),
        ({"charset_name": "latin1; DROP"}, "not a character set or collation name"),
    ],
)
def test_bad_table_descriptions(tmp_path: Path, change: dict[str, object], message: str) -> None:
    record = json.loads((QSERV_ITEST / "case02" / "data" / "ingest" / "Object.json").read_text())
    record.update(change)
    path = tmp_path / "T.json"
    path.write_text(json.dumps(record))
    with pytest.raises(IngestError, match=message) as err:
        read_table(path)
    assert err.value.path == path


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text("{nope")
    with pytest.raises(IngestError, match="not valid JSON"):
        read_database(path)


def _blocks(tmp_path: Path, content: bytes, dialect: CsvDialect, size: int) -> list[bytes]:
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wb") as out:
        out.write(content)
    records: list[bytes] = []
    lines: list[int] = []
    for block in read_blocks(path, dialect, block_bytes=size):
        records += [block.record(i) for i in range(len(block))]
        lines += block.lines.tolist()
    return [b"%d:" % n + r for n, r in zip(lines, records, strict=True)]


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 20])
def test_records_honour_escapes_and_report_first_lines(tmp_path: Path, size: int) -> None:
    content = b"1,a\n2,b\\\nc\n3,d\\\\\n4,e"  # record 2 holds an escaped newline; no final newline
    got = _blocks(tmp_path, content, CsvDialect(","), size)
    assert got == [b"1:1,a", b"2:2,b\\\nc", b"4:3,d\\\\", b"5:4,e"]


@pytest.mark.parametrize("size", [2, 1 << 20])
def test_records_honour_enclosures(tmp_path: Path, size: int) -> None:
    content = b'"1","x\ny"\n"2","say ""hi"""\n3,plain\n'
    got = _blocks(tmp_path, content, CsvDialect(",", '"'), size)
    assert got == [b'1:"1","x\ny"', b'3:"2","say ""hi"""', b"4:3,plain"]


def test_placement_is_balanced_and_stable() -> None:
    placement = Placement(["w1", "w0", "w2"], replicas=2, existing={7: ["w2", "w0"]})
    assert placement.workers_for(7) == ("w0", "w2")
    chosen = [placement.workers_for(c) for c in range(100, 106)]
    load = np.zeros(3, dtype=int)
    for workers in chosen:
        assert len(set(workers)) == 2
        for w in workers:
            load[int(w[1])] += 1
    assert load.max() - load.min() <= 1
    assert placement.workers_for(100) == chosen[0]
    assert set(placement.new_chunks) == set(range(100, 106))
    with pytest.raises(IngestError, match="needs at least 4 workers"):
        Placement(["a", "b", "c"], replicas=4)
