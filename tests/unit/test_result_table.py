"""Result-table column types for merged results: strings keep CHAR/VARCHAR sizes when they fit."""

from __future__ import annotations

from qserv_py.czar.result_table import ROW_BYTES, create_statement, sized_string_type
from qserv_py.results.codec import Column, Schema

COLLATIONS = {45: "utf8mb4_general_ci", 8: "latin1_swedish_ci", 63: "binary", 33: "utf8_general_ci"}


def test_char_and_varchar_keep_their_length_in_characters() -> None:
    band = Column("band", 254, flags=4097, charset=45, length=4)  # CHAR(1) via utf8mb4
    name = Column("name", 253, charset=33, length=30)  # VARCHAR(10) via utf8mb3
    latin = Column("tag", 253, charset=8, length=7)
    assert sized_string_type(band, COLLATIONS) == (
        "CHAR(1) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
        6,
    )
    assert sized_string_type(name, COLLATIONS) == (
        "VARCHAR(10) CHARACTER SET utf8 COLLATE utf8_general_ci",
        32,
    )
    assert sized_string_type(latin, COLLATIONS) is not None
    assert sized_string_type(latin, COLLATIONS)[0].startswith("VARCHAR(7) ")  # type: ignore[index]


def test_binary_strings_become_varbinary_never_padded_binary() -> None:
    column = Column("b", 254, charset=63, length=3)
    assert sized_string_type(column, COLLATIONS) == ("VARBINARY(3)", 5)


def test_unknown_character_sets_and_blobs_are_not_sized() -> None:
    assert sized_string_type(Column("x", 253, charset=999, length=4), COLLATIONS) is None
    assert sized_string_type(Column("x", 252, charset=45, length=4), COLLATIONS) is None
    assert sized_string_type(Column("x", 8, length=20), COLLATIONS) is None


def test_rows_over_the_budget_fall_back_to_longtext() -> None:
    wide = [Column(f"c{i}", 253, charset=45, length=4 * 4000) for i in range(5)]
    assert ROW_BYTES < 5 * (4 * 4000 + 2)
    sql = create_statement("db", "t", Schema(tuple(wide)), COLLATIONS, temporary=True)
    assert sql.startswith("CREATE TEMPORARY TABLE `db`.`t` (")
    assert sql.count("LONGTEXT") == 5 and "VARCHAR" not in sql
    narrow = Schema((Column("band", 254, charset=45, length=4), Column("n", 8)))
    assert "`band` CHAR(1) " in create_statement("db", "t", narrow, COLLATIONS)
