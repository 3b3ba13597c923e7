"""The demo catalog is what the ingest and query tests load, so its files must be exactly what a
Qserv ingest expects: the JSON shape of Qserv's own itest descriptions, `LOAD DATA`-ready CSV, and
a footprint that really contains the partitioning edge cases it promises."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from qserv_py.demo import catalog as demo
from qserv_py.demo.catalog import DemoCatalog, read_demo_catalog, write_demo_catalog
from qserv_py.demo.schema import CCD_VISIT, FORCED_SOURCE, OBJECT, TableSpec

NUM_OBJECTS = 2000
Rows = list[list[str]]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> DemoCatalog:
    return write_demo_catalog(tmp_path_factory.mktemp("demo"), num_objects=NUM_OBJECTS)


def _rows(catalog: DemoCatalog, name: str) -> Rows:
    (table,) = (t for t in catalog.tables if t.name == name)
    (path,) = table.data_files
    return [line.split(",") for line in path.read_text(encoding="ascii").splitlines()]


def _column(rows: Rows, spec: TableSpec, name: str) -> list[str]:
    i = [c.name for c in spec.columns].index(name)
    return [r[i] for r in rows]


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_arguments_give_byte_identical_files(catalog: DemoCatalog, tmp_path: Path) -> None:
    again = write_demo_catalog(tmp_path, num_objects=NUM_OBJECTS)
    assert _files(again.directory) == _files(catalog.directory)
    other_seed = write_demo_catalog(tmp_path / "other", num_objects=NUM_OBJECTS, seed=1)
    assert _files(other_seed.directory)["Object.csv"] != _files(catalog.directory)["Object.csv"]


def test_blocks_generated_in_parallel_are_written_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "BLOCK_SIZE", 300)
    first = write_demo_catalog(tmp_path / "a", num_objects=1700)
    second = write_demo_catalog(tmp_path / "b", num_objects=1700)
    assert _files(first.directory) == _files(second.directory)
    ids = _column(_rows(first, "Object"), OBJECT, "objectId")
    assert ids == [str(i) for i in demo._object_ids(np.arange(1700))]


def test_database_json_has_qserv_shape(catalog: DemoCatalog, tmp_path: Path) -> None:
    body = json.loads(catalog.database_json.read_text())
    assert body == {
        "version": 12,
        "auth_key": "",
        "database": "demo_dp02",
        "auto_build_secondary_index": 1,
        "local_load_secondary_index": 1,
        "num_stripes": 85,
        "num_sub_stripes": 12,
        "overlap": 0.01667,
    }
    custom = write_demo_catalog(
        tmp_path, 10, database="d", num_stripes=340, num_sub_stripes=3, overlap=0.5
    )
    body = json.loads(custom.database_json.read_text())
    assert (body["database"], body["num_stripes"], body["num_sub_stripes"], body["overlap"]) == (
        "d",
        340,
        3,
        0.5,
    )
    assert {json.loads(t.description_json.read_text())["database"] for t in custom.tables} == {"d"}


def test_table_jsons_have_qserv_shape(catalog: DemoCatalog) -> None:
    assert [t.name for t in catalog.tables] == ["CcdVisit", "Object", "ForcedSource"]
    described = {t.name: json.loads(t.description_json.read_text()) for t in catalog.tables}
    obj, forced, ccd = described["Object"], described["ForcedSource"], described["CcdVisit"]

    assert obj["is_partitioned"] == 1 and obj["director_table"] == ""
    assert (obj["director_key"], obj["longitude_key"], obj["latitude_key"]) == (
        "objectId",
        "coord_ra",
        "coord_dec",
    )
    assert forced["is_partitioned"] == 1 and forced["director_table"] == "Object"
    assert forced["director_key"] == "objectId"
    assert forced["longitude_key"] == "" and forced["latitude_key"] == ""
    assert ccd["is_partitioned"] == 0
    assert not {"director_table", "director_key", "longitude_key", "latitude_key"} & set(ccd)

    partition_columns = [
        {"name": "chunkId", "type": "int(11) NOT NULL"},
        {"name": "subChunkId", "type": "int(11) NOT NULL"},
    ]
    for spec in (OBJECT, FORCED_SOURCE, CCD_VISIT):
        body = described[spec.name]
        assert body["table"] == spec.name and body["fields_terminated_by"] == ","
        assert all(set(c) == {"name", "type"} for c in body["schema"])
        names = [c["name"] for c in body["schema"]]
        if spec.is_partitioned:
            assert body["schema"][-2:] == partition_columns
            names = names[:-2]
        assert names == [c.name for c in spec.columns]
        assert "chunkId" not in names and "subChunkId" not in names

    types = {c["name"]: c["type"] for c in obj["schema"]}
    assert types["objectId"] == "bigint(20) NOT NULL"
    assert types["coord_ra"] == "double NOT NULL"
    assert types["detect_isPrimary"] == "tinyint(1) NOT NULL"
    assert types["ebv"] == "float DEFAULT NULL"
    for band in "ugrizy":
        assert types[f"{band}_cModelFlux"] == "double DEFAULT NULL"
        assert types[f"{band}_cModelFluxErr"] == "double DEFAULT NULL"


@pytest.mark.parametrize("spec", [OBJECT, FORCED_SOURCE, CCD_VISIT], ids=lambda s: s.name)
def test_data_files_are_load_data_ready(catalog: DemoCatalog, spec: TableSpec) -> None:
    (table,) = (t for t in catalog.tables if t.name == spec.name)
    text = table.data_files[0].read_bytes()
    assert text.endswith(b"\n") and b"\r" not in text and b'"' not in text
    rows = _rows(catalog, spec.name)
    assert len(rows) == table.row_count
    assert {len(r) for r in rows} == {len(spec.columns)}
    for i, column in enumerate(spec.columns):
        values = [r[i] for r in rows]
        assert "" not in values, column.name
        assert not {"nan", "inf", "-inf", "NULL"} & set(values), column.name
        if "NOT NULL" in column.sql_type:
            assert "\\N" not in values, column.name


def test_nullable_columns_have_some_nulls_written_as_backslash_n(catalog: DemoCatalog) -> None:
    rows = _rows(catalog, "Object")
    null_fraction = {
        name: _column(rows, OBJECT, name).count("\\N") / len(rows)
        for name in ("u_cModelFlux", "r_cModelFlux", "y_cModelFlux", "refExtendedness", "shape_xx")
    }
    assert all(f > 0 for f in null_fraction.values()), null_fraction
    assert null_fraction["u_cModelFlux"] > null_fraction["r_cModelFlux"]
    assert null_fraction["y_cModelFlux"] > null_fraction["r_cModelFlux"]
    u_flux = [float(v) for v in _column(rows, OBJECT, "u_cModelFlux") if v != "\\N"]
    assert 0 < sum(v < 0 for v in u_flux) < 0.3 * len(u_flux)
    forced = _rows(catalog, "ForcedSource")
    assert "\\N" in _column(forced, FORCED_SOURCE, "psfFlux")


def test_doubles_and_floats_round_trip_through_the_text() -> None:
    rng = np.random.default_rng(7)
    doubles = np.concatenate([rng.random(1000) * 360.0, [0.0, demo._RA_BELOW_360, 1e-7, 1e300]])
    floats = (rng.standard_normal(1000) * 1e3).astype(np.float32)
    table = pa.table({"d": doubles, "f": np.resize(floats, doubles.size)})
    lines = demo._csv_bytes(table).to_pybytes().decode().splitlines()
    assert [float(line.split(",")[0]) for line in lines] == doubles.tolist()
    assert np.array_equal(
        np.array([line.split(",")[1] for line in lines]).astype(np.float32),
        np.resize(floats, doubles.size),
    )
    assert lines[-3].split(",")[0] == "359.99999999999994"


def test_positions_cover_the_edge_cases(catalog: DemoCatalog) -> None:
    rows = _rows(catalog, "Object")
    ra = np.array(_column(rows, OBJECT, "coord_ra"), dtype=float)
    dec = np.array(_column(rows, OBJECT, "coord_dec"), dtype=float)
    assert ((ra >= 0.0) & (ra < 360.0)).all() and ((dec >= -90.0) & (dec <= 90.0)).all()
    assert (ra == 0.0).any() and (ra == demo._RA_BELOW_360).any()
    assert ((ra > 359.9999) & (ra < 360.0)).sum() >= 2
    assert ((ra > 355.0) & (np.abs(dec) < 6.0)).sum() > 20
    assert ((ra < 5.0) & (np.abs(dec) < 6.0)).sum() > 20
    assert (dec > 85.0).sum() > 20 and (dec > 89.99).sum() >= 2
    assert ((ra >= 50) & (ra <= 75) & (dec >= -44) & (dec <= -28)).mean() > 0.8


def _separation_deg(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    a, d, a0, d0 = np.radians(ra), np.radians(dec), math.radians(ra0), math.radians(dec0)
    h = np.sin((d - d0) / 2) ** 2 + np.cos(d) * math.cos(d0) * np.sin((a - a0) / 2) ** 2
    separation: np.ndarray = np.degrees(2 * np.arcsin(np.sqrt(h)))
    return separation


def test_dense_clusters_exist_including_one_across_ra_zero(catalog: DemoCatalog) -> None:
    rows = _rows(catalog, "Object")
    ra = np.array(_column(rows, OBJECT, "coord_ra"), dtype=float)
    dec = np.array(_column(rows, OBJECT, "coord_dec"), dtype=float)
    in_dc2_cluster = _separation_deg(ra, dec, 62.0, -37.0) < 3.0 / 60
    assert in_dc2_cluster.sum() >= 10  # ~ 3e-4 expected from the DC2 background
    in_ra0_cluster = _separation_deg(ra, dec, 0.0, 1.0) < 2.5 / 60
    assert (in_ra0_cluster & (ra < 1.0)).any() and (in_ra0_cluster & (ra > 359.0)).any()
    assert (_separation_deg(ra, dec, 0.0, 90.0) < 2.0 / 60).sum() >= 3
    for cluster in (r for r in demo.FOOTPRINT if isinstance(r, demo.SkyCluster)):
        inside = _separation_deg(ra, dec, cluster.ra, cluster.dec) <= cluster.radius_arcmin / 60
        assert inside.sum() >= 0.3 * cluster.weight * NUM_OBJECTS, cluster


def test_ids_are_unique_and_dp02_sized(catalog: DemoCatalog) -> None:
    objects = [int(v) for v in _column(_rows(catalog, "Object"), OBJECT, "objectId")]
    assert len(set(objects)) == NUM_OBJECTS and min(objects) >= 1 << 60
    assert objects != sorted(objects)
    forced = _column(_rows(catalog, "ForcedSource"), FORCED_SOURCE, "forcedSourceId")
    assert len(set(forced)) == len(forced)
    ccd = _column(_rows(catalog, "CcdVisit"), CCD_VISIT, "ccdVisitId")
    assert len(set(ccd)) == len(ccd) and 1000 <= len(ccd) <= 10_000


def test_forced_sources_reference_objects_and_ccd_visits_of_their_band(
    catalog: DemoCatalog,
) -> None:
    objects = set(_column(_rows(catalog, "Object"), OBJECT, "objectId"))
    ccd_rows = _rows(catalog, "CcdVisit")
    band_of_ccd = dict(
        zip(
            _column(ccd_rows, CCD_VISIT, "ccdVisitId"),
            _column(ccd_rows, CCD_VISIT, "band"),
            strict=True,
        )
    )
    forced = _rows(catalog, "ForcedSource")
    owners = _column(forced, FORCED_SOURCE, "objectId")
    assert set(owners) == objects  # every object has at least one forced source
    for ccd_visit_id, band in zip(
        _column(forced, FORCED_SOURCE, "ccdVisitId"),
        _column(forced, FORCED_SOURCE, "band"),
        strict=True,
    ):
        assert band_of_ccd[ccd_visit_id] == band
    assert 15 * NUM_OBJECTS < len(forced) < 25 * NUM_OBJECTS
    pairs = set(zip(owners, _column(forced, FORCED_SOURCE, "ccdVisitId"), strict=True))
    assert len(pairs) == len(forced)  # one measurement per object and CcdVisit, as in DP0.2
    visits = {c // 1000 for c in map(int, _column(forced, FORCED_SOURCE, "ccdVisitId"))}
    assert len(visits) == 200


def test_manifest_reads_back_and_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    written = write_demo_catalog(
        tmp_path, num_objects=50, forced_per_object=0, progress=lambda t, n: seen.append((t, n))
    )
    assert read_demo_catalog(tmp_path) == written
    assert ("Object", 50) in seen and ("CcdVisit", written.tables[0].row_count) in seen
    assert ("ForcedSource", 50) in seen  # at least one forced source per object


def test_read_refuses_incomplete_or_stale_catalogs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_demo_catalog(tmp_path)
    written = write_demo_catalog(tmp_path, num_objects=10)
    manifest_path = tmp_path / demo.MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["catalog_version"] = demo.CATALOG_VERSION - 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="version"):
        read_demo_catalog(tmp_path)
    written = write_demo_catalog(tmp_path, num_objects=10)
    written.tables[-1].data_files[0].unlink()
    with pytest.raises(FileNotFoundError):
        read_demo_catalog(tmp_path)
