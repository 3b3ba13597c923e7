"""Table definitions of the DP0.2-like demo catalog and their Qserv ingest descriptions.

The JSON produced here has the shape of the files Qserv's own integration tests feed to
`POST /ingest/database` and `POST /ingest/table` (`data/case02/data/ingest/*.json` in lsst/qserv):
lower-case MariaDB types, `version`/`auth_key` keys, and for partitioned tables the `chunkId` and
`subChunkId` columns last in the schema but absent from the data files (the partitioner adds
them). Column names follow DP0.2 (`dp02_dc2_catalogs`), so queries copied from the Rubin
tutorials run unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "y")
"""LSST filters in wavelength order; index i of this tuple is band code i everywhere."""

INGEST_API_VERSION = 12
"""The `version` key Qserv's own ingest JSON files carry."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its MariaDB type for the schema and the Arrow type its CSV text comes from."""

    name: str
    sql_type: str
    arrow_type: pa.DataType


@dataclass(frozen=True, slots=True)
class TableSpec:
    """What `POST /ingest/table` needs to know about one table, minus the database name.

    `columns` are the data-file columns, in file order; `chunkId`/`subChunkId` are appended to the
    description's schema for partitioned tables only.
    """

    name: str
    columns: tuple[Column, ...]
    is_partitioned: bool
    director_table: str = ""
    director_key: str = ""
    longitude_key: str = ""
    latitude_key: str = ""

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])


PARTITION_COLUMNS: tuple[Column, ...] = (
    Column("chunkId", "int(11) NOT NULL", pa.int32()),
    Column("subChunkId", "int(11) NOT NULL", pa.int32()),
)


def _bigint(name: str, *, null: bool = False) -> Column:
    return Column(name, f"bigint(20) {'DEFAULT NULL' if null else 'NOT NULL'}", pa.int64())


def _int(name: str, *, null: bool = True) -> Column:
    return Column(name, f"int(11) {'DEFAULT NULL' if null else 'NOT NULL'}", pa.int32())


def _double(name: str, *, null: bool = True) -> Column:
    return Column(name, f"double {'DEFAULT NULL' if null else 'NOT NULL'}", pa.float64())


def _float(name: str, *, null: bool = True) -> Column:
    return Column(name, f"float {'DEFAULT NULL' if null else 'NOT NULL'}", pa.float32())


def _flag(name: str, *, null: bool = True) -> Column:
    return Column(name, f"tinyint(1) {'DEFAULT NULL' if null else 'NOT NULL'}", pa.int8())


def _band(name: str, *, null: bool = True) -> Column:
    return Column(name, f"char(1) {'DEFAULT NULL' if null else 'NOT NULL'}", pa.string())


OBJECT = TableSpec(
    name="Object",
    columns=(
        _bigint("objectId"),
        _double("coord_ra", null=False),
        _double("coord_dec", null=False),
        _flag("detect_isPrimary", null=False),
        _int("tract"),
        _int("patch"),
        _band("refBand"),
        _double("refExtendedness"),
        *(_double(f"{b}_cModelFlux{s}") for b in BANDS for s in ("", "Err")),
        _double("r_extendedness"),
        _double("i_extendedness"),
        _float("ebv"),
        _double("shape_xx"),
        _double("shape_yy"),
        _double("shape_xy"),
    ),
    is_partitioned=True,
    director_key="objectId",
    longitude_key="coord_ra",
    latitude_key="coord_dec",
)
"""The director table. Positions are the partitioning keys, objectId the director key."""

FORCED_SOURCE = TableSpec(
    name="ForcedSource",
    columns=(
        _bigint("forcedSourceId"),
        _bigint("objectId"),
        _bigint("ccdVisitId"),
        _band("band", null=False),
        _double("psfFlux"),
        _double("psfFluxErr"),
        _flag("psfFlux_flag"),
        _double("psfDiffFlux"),
        _double("psfDiffFluxErr"),
    ),
    is_partitioned=True,
    director_table="Object",
    director_key="objectId",
)
"""A child of Object with no position of its own: the ingest must place each row through the
director index (objectId -> chunk), which is the path DP0.2's ForcedSource exercises least."""

CCD_VISIT = TableSpec(
    name="CcdVisit",
    columns=(
        _bigint("ccdVisitId"),
        _bigint("visitId"),
        _int("detector", null=False),
        _band("band", null=False),
        _double("expMidptMJD", null=False),
        _float("expTime"),
        _float("seeing"),
        _float("zeroPoint"),
        _float("skyBg"),
    ),
    is_partitioned=False,
)
"""A regular (fully replicated) table that ForcedSource joins to on ccdVisitId."""


def database_description(
    database: str, num_stripes: int, num_sub_stripes: int, overlap: float
) -> dict[str, Any]:
    """The body of `POST /ingest/database`, keys in the order of Qserv's `database.json`."""
    return {
        "version": INGEST_API_VERSION,
        "auth_key": "",
        "database": database,
        "auto_build_secondary_index": 1,
        "local_load_secondary_index": 1,
        "num_stripes": num_stripes,
        "num_sub_stripes": num_sub_stripes,
        "overlap": overlap,
    }


def table_description(database: str, spec: TableSpec) -> dict[str, Any]:
    """The body of `POST /ingest/table`, keys in the order of Qserv's `Object.json`.

    Regular tables carry no director or position keys at all, as in Qserv's case03
    `Science_Ccd_Exposure.json`; a child without positions carries them as empty strings.
    """
    description: dict[str, Any] = {
        "version": INGEST_API_VERSION,
        "auth_key": "",
        "database": database,
        "table": spec.name,
        "is_partitioned": int(spec.is_partitioned),
    }
    columns = spec.columns
    if spec.is_partitioned:
        description |= {
            "director_table": spec.director_table,
            "director_key": spec.director_key,
            "latitude_key": spec.latitude_key,
            "longitude_key": spec.longitude_key,
        }
        columns = columns + PARTITION_COLUMNS
    description["schema"] = [{"name": c.name, "type": c.sql_type} for c in columns]
    description["fields_terminated_by"] = ","
    return description
