"""Dagster glue: one module per stage of the flow in DESIGN.md §1."""
