"""CatalogView: construction from dicts and from the czar db's JSON, lookups and their errors."""

from __future__ import annotations

import json

import pytest

from qserv_py.czar.analysis import CatalogView, Column, columns_from_schema_json
from qserv_py.czar.analysis.errors import UnknownDatabase, UnknownTable
from qserv_py.demo.schema import CCD_VISIT, FORCED_SOURCE, OBJECT, table_description
from tests.unit.analysis.helpers import demo_view


def test_tables_and_kinds() -> None:
    view = demo_view()
    obj = view.table("demo_dp02", "Object")
    assert obj.kind == "director" and obj.is_partitioned and obj.has_position
    assert (obj.director_key, obj.longitude_key, obj.latitude_key) == (
        "objectId",
        "coord_ra",
        "coord_dec",
    )
    child = view.table("demo_dp02", "ForcedSource")
    assert child.kind == "child" and not child.has_position
    assert view.director_of(child) is obj and view.director_of(obj) is obj
    regular = view.table("demo_dp02", "CcdVisit")
    assert not regular.is_partitioned
    with pytest.raises(ValueError, match="regular"):
        view.director_of(regular)
    assert [t.name for t in view.tables("demo_dp02")] == ["CcdVisit", "ForcedSource", "Object"]
    assert view.database_names() == ("demo_dp02", "other")


def test_partitioned_tables_get_chunk_columns_once() -> None:
    view = demo_view()
    names = [c.name for c in view.table("demo_dp02", "ForcedSource").columns]
    assert names[-2:] == ["chunkId", "subChunkId"]
    object_names = [c.name for c in view.table("demo_dp02", "Object").columns]
    assert object_names.count("chunkId") == 1  # listed in the dict already: not appended
    regular = [c.name for c in view.table("demo_dp02", "CcdVisit").columns]
    assert "chunkId" not in regular


def test_column_lookup_is_case_insensitive_and_suggests() -> None:
    obj = demo_view().table("demo_dp02", "Object")
    column = obj.column("COORD_RA")
    assert column == Column("coord_ra", "double NOT NULL")
    assert obj.column("nope") is None
    assert obj.suggest("coord_raa") == "coord_ra"
    assert obj.suggest("zzzzzz") is None
    assert Column("x", "bigint(20) NOT NULL").is_integer
    assert not Column("x", "double").is_integer


def test_lookup_errors_are_mariadb_errors() -> None:
    view = demo_view()
    with pytest.raises(UnknownDatabase) as db_error:
        view.table("nope", "Object")
    assert db_error.value.mysql_code == 1049
    assert db_error.value.message.startswith("Unknown database 'nope'")
    with pytest.raises(UnknownTable) as table_error:
        view.table("demo_dp02", "object")  # table names are case-sensitive
    assert table_error.value.mysql_code == 1146
    assert "did you mean demo_dp02.Object?" in table_error.value.message
    with pytest.raises(UnknownTable, match="SHOW TABLES FROM demo_dp02"):
        view.table("demo_dp02", "Unrelated")


def test_view_is_immutable() -> None:
    view = demo_view()
    database = view.database("demo_dp02")
    with pytest.raises(AttributeError):
        database.num_stripes = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        view._tables["demo_dp02"]["X"] = view.table("demo_dp02", "Object")  # type: ignore[index]
    assert database.chunks == tuple(sorted(database.chunks))


def test_region_index_only_for_partitioned_databases() -> None:
    view = demo_view()
    assert repr(view.region_index("demo_dp02")) == "RegionIndex(85, 12)"
    with pytest.raises(ValueError, match="no partitioned table"):
        view.region_index("other")


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"kind": "director", "columns": [["a", "int"]]}, "needs director_key"),
        (
            {"kind": "director", "columns": [["a", "int"]], "director_key": "a"},
            "needs longitude_key",
        ),
        (
            {"kind": "child", "columns": [["a", "int"]], "director_key": "a"},
            "director_table",
        ),
        ({"kind": "weird", "columns": [["a", "int"]]}, "kind 'weird'"),
        ({"kind": "regular", "columns": [["a", "int"], ["A", "int"]]}, "duplicate"),
        ({"kind": "regular", "columns": [["a", "int"]], "db": "elsewhere"}, "not given"),
    ],
)
def test_inconsistent_catalogs_are_refused(table: dict[str, object], error: str) -> None:
    record = {"db": "d", "name": "T", **table}
    with pytest.raises(ValueError, match=error):
        CatalogView.from_dicts([{"name": "d", "num_stripes": 85, "num_sub_stripes": 12}], [record])


def test_columns_from_ingest_descriptions() -> None:
    for spec in (OBJECT, FORCED_SOURCE, CCD_VISIT):
        description = json.dumps(table_description("demo_dp02", spec))
        columns = columns_from_schema_json(description)
        expected = [(c.name, c.sql_type) for c in spec.columns]
        if spec.is_partitioned:
            expected += [("chunkId", "int(11) NOT NULL"), ("subChunkId", "int(11) NOT NULL")]
        assert [(c.name, c.sql_type) for c in columns] == expected


def test_columns_from_json_add_chunk_columns_to_partitioned_tables() -> None:
    record = {"is_partitioned": 1, "schema": [{"name": "id", "type": "bigint(20) NOT NULL"}]}
    names = [c.name for c in columns_from_schema_json(json.dumps(record))]
    assert names == ["id", "chunkId", "subChunkId"]
    record["is_partitioned"] = 0
    assert [c.name for c in columns_from_schema_json(json.dumps(record))] == ["id"]


@pytest.mark.parametrize(
    "text", ["[]", "{}", '{"schema": []}', '{"schema": [{"name": "a"}]}', "not json"]
)
def test_malformed_descriptions_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        columns_from_schema_json(text)
