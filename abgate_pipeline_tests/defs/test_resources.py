"""The warehouse resource opens DuckDB with the settings the benchmarks were measured under."""

from abgate_pipeline.defs.resources import Warehouse


def test_warehouse_connections_cap_memory_and_skip_vacuum(tmp_path, monkeypatch):
    monkeypatch.setenv("ABGATE_DUCKDB_MEMORY_LIMIT", "512MB")
    with Warehouse(database=str(tmp_path / "w.duckdb")).get_connection() as con:
        limit, vacuum_tasks = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('max_vacuum_tasks')"
        ).fetchone()
    assert limit == "488.2 MiB"  # 512 MB, as DuckDB prints it
    assert vacuum_tasks == 0
