"""The shortcuts of `sql/landing_macros.sql` give what their slow paths give.

The validation reads a landed field through its text, whatever the reader landed; a column of
exactly the contract's type (or a BIGINT count) skips the text (`*_value`), and a segment struct
without NULL values skips the map rebuild (`non_null_text`). Either shortcut would change stored rows or quarantine
reasons if it disagreed with the text route on any value.
"""

from __future__ import annotations

import math

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from abgate_pipeline import warehouse

# DuckDB's finite timestamps, in microseconds since the epoch (290309 BC .. 294247 AD).
TIMESTAMP_MICROS = st.integers(-(2**63) + 2, 2**63 - 2)


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    warehouse.run(con, "landing_macros")
    yield con
    con.close()


def agree(con, macro: str, via_text: str, values_sql: str, params) -> list[tuple]:
    """Rows (value, shortcut, text route) where the macro and the text route differ."""
    return con.execute(
        f"SELECT v, {macro}(v), {via_text} FROM ({values_sql}) t(v) "
        f"WHERE {macro}(v) IS DISTINCT FROM {via_text}",
        params,
    ).fetchall()


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
@example([2**53 + 1, -(2**63), 2**63 - 1, 10**12, 0])
@settings(max_examples=100, deadline=None)
def test_bigint_columns_read_as_their_text(con, values):
    sql = "SELECT unnest(?::BIGINT[])"
    assert agree(con, "double_value", "TRY_CAST(CAST(v AS VARCHAR) AS DOUBLE)", sql, [values]) == []


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
@example([0.1 + 0.2, -0.0, 5e-324, 1.7976931348623157e308, 0.0008275, math.nan, -math.inf])
@settings(max_examples=100, deadline=None)
def test_double_columns_read_as_their_text(con, values):
    sql = "SELECT unnest(?::DOUBLE[])"
    assert agree(con, "double_value", "TRY_CAST(CAST(v AS VARCHAR) AS DOUBLE)", sql, [values]) == []


def test_boolean_columns_read_as_their_text(con):
    sql = "SELECT unnest([true, false, NULL])"
    assert agree(con, "boolean_value", "TRY_CAST(CAST(v AS VARCHAR) AS BOOLEAN)", sql, []) == []


@given(st.lists(TIMESTAMP_MICROS, max_size=50))
@example([0, 1, -1, 1_793_404_800_125_000, -(2**63) + 2, 2**63 - 2])
@settings(max_examples=100, deadline=None)
def test_timestamptz_columns_read_as_their_text(con, micros):
    sql = (
        "SELECT make_timestamp(unnest(?::BIGINT[]))::TIMESTAMPTZ "
        "UNION ALL SELECT unnest(['infinity', '-infinity', NULL]::TIMESTAMPTZ[])"
    )
    via_text = "TRY_CAST(CAST(v AS VARCHAR) AS TIMESTAMPTZ) AT TIME ZONE 'UTC'"
    assert agree(con, "timestamp_value", via_text, sql, [micros]) == []


@pytest.mark.parametrize(
    ("macro", "value", "expected"),
    [
        ("double_value", "12.5::DECIMAL(3, 1)", 12.5),
        ("double_value", "true", None),  # 'true' is not a number, though true::DOUBLE is 1
        ("double_value", "'lots'", None),
        ("double_value", "0.0008275::FLOAT", 0.0008275),  # the float's text, not its binary
        ("boolean_value", "1::INTEGER", True),  # '1'
        ("boolean_value", "'maybe'", None),
    ],
)
def test_other_types_read_as_their_text(con, macro, value, expected):
    assert con.execute(f"SELECT {macro}({value})").fetchone()[0] == expected


def test_naive_and_nanosecond_timestamps_read_as_their_text(con):
    got = con.execute(
        "SELECT timestamp_value(TIMESTAMP '2026-11-03 10:00:00.125'), "
        "timestamp_value(TIMESTAMP_NS '2026-11-03 10:00:00.125000999'), "
        "timestamp_value('2026-11-03T11:00:00.125+01:00'), timestamp_value(DATE '2026-11-03')"
    ).fetchone()
    assert [str(ts) for ts in got] == [
        "2026-11-03 10:00:00.125000",
        "2026-11-03 10:00:00.125000",  # the text keeps microseconds
        "2026-11-03 10:00:00.125000",
        "2026-11-03 00:00:00",
    ]


OLD_NON_NULL_TEXT = (
    "map_from_entries(list_filter(map_entries(CAST(s AS MAP(VARCHAR, VARCHAR))), "
    "lambda kv: kv.value IS NOT NULL))"
)


@given(
    st.lists(
        st.tuples(st.none() | st.text(max_size=5), st.none() | st.integers(-5, 5)), max_size=20
    )
)
@settings(max_examples=100, deadline=None)
def test_non_null_text_keeps_the_non_null_values_as_text(con, rows):
    got = con.execute(
        f"SELECT non_null_text(s), {OLD_NON_NULL_TEXT} FROM ("
        "SELECT struct_pack(channel := r.a, tier := r.b) AS s "
        "FROM (SELECT unnest(?::STRUCT(a VARCHAR, b INTEGER)[]) AS r))",
        [[{"a": a, "b": b} for a, b in rows]],
    ).fetchall()
    assert [fast for fast, _ in got] == [slow for _, slow in got]


@pytest.mark.parametrize(
    ("text", "whole", "non_negative", "expected"),
    [
        ("2.0", True, True, None),  # a whole number is a count
        ("1.5", True, True, "bad type: x"),
        ("NaN", False, False, "bad type: x"),
        ("-Infinity", False, False, "bad type: x"),
        ("lots", False, False, "bad type: x"),
        ("-1", False, True, "out of range: x"),
        ("-1", False, False, None),  # may be negative
        ("1e12", False, True, None),
        ("-1.0000001e12", False, False, "out of range: x"),
        (None, True, True, None),  # absent: nothing to check
    ],
)
def test_number_problem_names_what_is_wrong_with_a_value(con, text, whole, non_negative, expected):
    got = con.execute(
        "SELECT number_problem(?::VARCHAR, double_value(?::VARCHAR), 'x', ?, ?)",
        [text, text, whole, non_negative],
    ).fetchone()[0]
    assert got == expected


@pytest.mark.parametrize(
    ("document", "keys"),
    [
        ('{"id": {"n": 1}, "a": "x: [", "b": [1], "c":\n\t{}}', ["id", "b", "c"]),
        ('{"a": "x: [y]", "b": 1}', []),  # a `: [` inside a string is text
        ('{"a": 1}', []),
    ],
)
def test_structured_keys_are_the_keys_of_objects_and_arrays(con, document, keys):
    assert con.execute("SELECT structured_keys(?)", [document]).fetchone()[0] == keys
