"""`exact_sum` (schema.sql): the sum of DOUBLEs as exactly as the representation allows, the same
bits whatever order the values are added in, checked against exact rational arithmetic."""

import random
from fractions import Fraction

import duckdb
import pytest

from abgate_pipeline import warehouse


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    warehouse.ensure_schema(connection)
    yield connection
    connection.close()


def _exact(values) -> float:
    return float(sum((Fraction(v) for v in values), Fraction(0)))


def _sum(con, values, order_seed=None):
    rows = list(values)
    if order_seed is not None:
        random.Random(order_seed).shuffle(rows)
    con.execute("CREATE OR REPLACE TEMP TABLE v (x DOUBLE)")
    if rows:
        con.executemany("INSERT INTO v VALUES (?)", [[x] for x in rows])
    return con.execute("SELECT exact_sum(x), sum(x) FROM v").fetchone()


def test_cancellation_a_plain_sum_gets_wrong(con):
    values = [0.1, 0.2, -0.3]
    exact, plain = _sum(con, values)
    assert exact == _exact(values) == 2.7755575615628914e-17
    assert plain != exact


@pytest.mark.parametrize("seed", range(5))
def test_every_order_gives_the_same_bits(con, seed):
    rng = random.Random(seed)
    values = [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 9) for _ in range(2000)]
    results = {_sum(con, values, order_seed=s)[0] for s in range(4)}
    (result,) = results
    assert result == pytest.approx(_exact(values), rel=1e-15)


def test_parallel_aggregation_is_reproducible(con):
    con.execute(
        "CREATE OR REPLACE TEMP TABLE big AS "
        "SELECT i % 7 AS g, random() * 1000 AS x FROM range(3000000) t(i)"
    )
    query = "SELECT g, exact_sum(x), exact_sum(x * x) FROM big GROUP BY g ORDER BY g"
    assert con.execute(query).fetchall() == con.execute(query).fetchall()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([None, None], None),
        ([1.5, None, -2.25], -0.75),
        ([-2.5, 1e15 + 0.5], 999999999999998.0),
        ([-(2.0**79), 2.0**79, 2.0**-80], 2.0**-80),
    ],
)
def test_edges(con, values, expected):
    assert _sum(con, values)[0] == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 2.0**40, 1e300])
def test_values_out_of_range_make_exact_or_nan_nan(con, bad):
    con.execute("CREATE OR REPLACE TEMP TABLE v AS SELECT unnest([1.0, 2.0, ?]) AS x", [bad])
    (value,) = con.execute(
        "SELECT exact_or_nan(x, CASE WHEN inexact(x) THEN 1 ELSE 0 END) FROM v"
    ).fetchone()
    assert value != value  # NaN: the cell's sums cannot be trusted, and the gate says so


def test_values_in_range_are_exact_or_nan_exact(con):
    con.execute("CREATE OR REPLACE TEMP TABLE v AS SELECT unnest([0.1, 0.2, -0.3]) AS x")
    value = con.execute(
        "SELECT exact_or_nan(x, CASE WHEN inexact(x) THEN 1 ELSE 0 END) FROM v"
    ).fetchone()[0]
    assert value == _exact([0.1, 0.2, -0.3])


@pytest.mark.parametrize("seed", range(3))
def test_fixed_sum_is_order_independent_and_exact_to_its_quantum(con, seed):
    """fixed_sum (the experiment table's sums of stored values): units of 2^-60, any order."""
    rng = random.Random(seed)
    values = [round(rng.uniform(0, 50), 6) for _ in range(2000)] + [1e12, 1e-5]
    results = set()
    for order in range(4):
        rows = list(values)
        random.Random(order).shuffle(rows)
        con.execute("CREATE OR REPLACE TEMP TABLE v (x DOUBLE)")
        con.executemany("INSERT INTO v VALUES (?)", [[x] for x in rows])
        results.add(con.execute("SELECT fixed_sum(x) FROM v").fetchone()[0])
    (result,) = results
    quantum = Fraction(1, 2**60)
    exact = sum((round(Fraction(v) / quantum) * quantum for v in values), Fraction(0))
    assert result == float(exact)
