"""Resources: the DuckDB warehouse (one writer at a time) and the abgate settings."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from abgate_pipeline import warehouse
from abgate_pipeline.config import ExperimentSpec, Settings, load_experiments
from abgate_pipeline.flags import FlagdFileBackend
from abgate_pipeline.redaction import Redactor, load_key, register_duckdb_udf


class Warehouse(DuckDBResource):
    """The DuckDB warehouse file, opened by one writer at a time across processes.

    DuckDB allows a single writing process; two runs started at once would otherwise fail with
    "Could not set lock". An exclusive `fcntl` lock on `<database>.lock` makes a second run wait
    for the first (the instance's run queue limits concurrency too; this covers headless runs).
    """

    connection_config: dict[str, Any] = Field(
        default_factory=warehouse.connection_config,
        description="DuckDB settings; by default the memory limit and no vacuum tasks.",
    )

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        path = Path(self.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with super().get_connection() as con:
                # The parent closes only on success; a failed step must not leak the connection
                # (it would keep the database, and its registered functions, open).
                try:
                    warehouse.ensure_schema(con)
                    yield con
                finally:
                    con.close()


class AbgateSettings(ConfigurableResource):
    """The ABGATE_* paths (DESIGN.md §2) and the experiment config they point to."""

    landing_dir: str
    experiments_file: str
    reports_dir: str
    flags_file: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AbgateSettings:
        return cls(
            landing_dir=str(settings.landing_dir),
            experiments_file=str(settings.experiments_file),
            reports_dir=str(settings.reports_dir),
            flags_file=str(settings.flags_file),
        )

    def experiments(self) -> tuple[ExperimentSpec, ...]:
        """Read and validate the YAML (small; re-read so edits apply without a reload)."""
        return load_experiments(Path(self.experiments_file))

    def experiment(self, experiment_id: str) -> ExperimentSpec:
        for exp in self.experiments():
            if exp.id == experiment_id:
                return exp
        raise KeyError(f"experiment {experiment_id!r} is not in {self.experiments_file}")

    def flag_backend(self) -> FlagdFileBackend:
        return FlagdFileBackend(Path(self.flags_file))

    def register_redaction(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make `abgate_redact()` available to the ingestion SQL (key from the environment)."""
        register_duckdb_udf(con, Redactor(load_key()))
