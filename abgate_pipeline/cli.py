"""`abgate`: run the gate without the UI. Every run goes through Dagster and is recorded in the
instance (`$DAGSTER_HOME`, the project folder by default), so it shows up in `dg dev`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from abgate_pipeline.config import ConfigError, Settings, load_experiments, project_root
from abgate_pipeline.redaction import RedactionKeyMissing

DEMO_START = date(2026, 11, 1)  # the bundled demo experiments' start


def _ensure_dagster_home() -> Path:
    """Use the project's instance (its dagster.yaml) unless DAGSTER_HOME is set."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(project_root())
        os.environ["DAGSTER_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    return Path(home)


def run_gate(
    start: date,
    end: date,
    *,
    promote: bool = True,
    settings: Settings | None = None,
    instance=None,
) -> dict:
    """Materialize every dated asset for [start, end] in one Dagster run, refresh the later
    as-of days that read a landing day it replaced (the late-data sensor's run), then let the
    gate sensor act on the new decisions (launching the promotion runs it requests).

    `instance` defaults to the project's (`$DAGSTER_HOME`); tests pass an ephemeral one.
    """
    from dagster import DagsterInstance
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from abgate_pipeline.definitions import build_definitions

    settings = settings or Settings.from_env()
    defs = build_definitions(settings)
    if instance is None:
        _ensure_dagster_home()
        instance = DagsterInstance.get()
    job = defs.resolve_job_def("daily_gate_job")
    t0 = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
            "abgate/source": "cli",
        },
        raise_on_error=False,
    )
    summary: dict = {
        "run_id": result.run_id,
        "success": result.success,
        "seconds": round(time.perf_counter() - t0, 1),
        "refreshed": [],
        "promotions": [],
    }
    if not result.success:
        return summary
    # Days after the range that read a landing day this run replaced (a re-delivery) are stale:
    # the late-data sensor's run refreshes them, here as in the UI, before any flag moves.
    for request in _sensor_requests(defs, instance, "late_data_sensor"):
        refresh = job.execute_in_process(
            instance=instance,
            asset_selection=request.asset_selection,
            tags={**request.tags, "abgate/source": "cli"},
            raise_on_error=False,
        )
        summary["refreshed"].append(
            {
                "from": request.tags[ASSET_PARTITION_RANGE_START_TAG],
                "to": request.tags[ASSET_PARTITION_RANGE_END_TAG],
                "run_id": refresh.run_id,
                "success": refresh.success,
            }
        )
        summary["success"] = summary["success"] and refresh.success
    if not summary["success"] or not promote:
        return summary
    promotion = defs.resolve_job_def("promotion_job")
    for request in _sensor_requests(defs, instance, "gate_sensor"):
        run = promotion.execute_in_process(
            run_config=request.run_config,
            instance=instance,
            tags={**request.tags, "dagster/run_key": request.run_key or ""},
            raise_on_error=False,
        )
        summary["promotions"].append(
            {"run_key": request.run_key, "run_id": run.run_id, "success": run.success}
        )
    return summary


def _sensor_requests(defs, instance, sensor_name: str) -> list:
    """The run requests one evaluation of a sensor of `defs` makes now (none on a skip)."""
    from dagster import build_sensor_context

    with build_sensor_context(
        instance=instance, definitions=defs, sensor_name=sensor_name
    ) as context:
        evaluation = defs.resolve_sensor_def(sensor_name)(context)
    return list(getattr(evaluation, "run_requests", None) or [])


def _print_outcome(settings: Settings, summary: dict) -> None:
    print(
        f"dagster run {summary['run_id']}: {'ok' if summary['success'] else 'FAILED'} "
        f"in {summary['seconds']} s (instance: {os.environ.get('DAGSTER_HOME')})"
    )
    for refresh in summary["refreshed"]:
        print(
            f"refreshed as-of days {refresh['from']}..{refresh['to']} (they read a landing day "
            f"this run replaced): {'ok' if refresh['success'] else 'FAILED'}"
        )
    for promotion in summary["promotions"]:
        print(f"promotion {promotion['run_key']}: {'ok' if promotion['success'] else 'FAILED'}")
    for exp in load_experiments(settings.experiments_file):
        latest = settings.reports_dir / exp.id / "latest.html"
        record = _latest_decision(settings.reports_dir / exp.id)
        verdict = record.get("decision", "?") if record else "no report"
        print(f"{exp.id}: {verdict}  report: {latest}")
        for warning in record.get("warnings", []) if record else []:
            print(f"  warning: {warning}")
    print(f"flag file: {settings.flags_file}")
    print(f"warehouse: {settings.warehouse}")


def _latest_decision(folder: Path) -> dict | None:
    pointer = folder / "latest.json"
    if not pointer.exists():
        return None
    as_of = json.loads(pointer.read_text()).get("as_of")
    path = folder / str(as_of) / "decision.json"
    return json.loads(path.read_text()) if path.exists() else None


def preflight(settings: Settings) -> None:
    """What would otherwise fail a step mid-run, checked before any run starts: the experiments
    YAML, its column mapping and the redaction key. Raises ConfigError / RedactionKeyMissing."""
    from abgate_pipeline.formats import load_column_mapping
    from abgate_pipeline.redaction import load_key

    load_experiments(settings.experiments_file)
    load_column_mapping(settings.experiments_file)
    load_key()


def cmd_simulate(args: argparse.Namespace) -> int:
    from abgate_pipeline.simulate import simulate

    settings = Settings.from_env()
    landing = Path(args.landing_dir) if args.landing_dir else settings.landing_dir
    summary = simulate(
        landing, seed=args.seed, start=args.start, days=args.days, scale=args.scale
    ).to_dict()
    print(f"simulated {args.days} days from {args.start} into {landing}")
    print(
        json.dumps({k: v for k, v in summary.items() if k in ("totals", "true_effects")}, indent=2)
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    preflight(settings)
    summary = run_gate(args.start, args.end, promote=not args.no_promote)
    _print_outcome(settings, summary)
    ok = summary["success"] and all(p["success"] for p in summary["promotions"])
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from abgate_pipeline.redaction import REDACTION_KEY_ENV
    from abgate_pipeline.simulate import simulate

    if not os.environ.get(REDACTION_KEY_ENV):
        # Simulated data only: a fixed, public key is fine here and nowhere else.
        os.environ[REDACTION_KEY_ENV] = "abgate-demo-key-not-a-secret"
        print(f"{REDACTION_KEY_ENV} is not set: using the demo-only key for simulated data")
    settings = Settings.from_env()
    preflight(settings)

    t0 = time.perf_counter()
    start = DEMO_START
    simulate(settings.landing_dir, seed=args.seed, start=start, days=args.days, scale=args.scale)
    print(f"simulated demo traffic into {settings.landing_dir} in {time.perf_counter() - t0:.1f} s")
    # From the first day any experiment reads (its pre-period) to the last simulated day.
    first = min(e.first_day for e in load_experiments(settings.experiments_file))
    summary = run_gate(first, start + timedelta(days=args.days - 1))
    _print_outcome(settings, summary)
    return 0 if summary["success"] and all(p["success"] for p in summary["promotions"]) else 1


def cmd_schema(args: argparse.Namespace) -> int:
    from abgate_pipeline.schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="abgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="simulate the bundled demo traffic, then run everything")
    demo.add_argument("--seed", type=int, default=20261101)
    demo.add_argument("--days", type=int, default=14)
    demo.add_argument("--scale", type=float, default=1.0, help="traffic volume multiplier")
    demo.set_defaults(func=cmd_demo)

    sim = sub.add_parser("simulate", help="write synthetic landing files with known effects")
    sim.add_argument("--landing-dir", help="default: $ABGATE_LANDING_DIR")
    sim.add_argument("--seed", type=int, default=20261101)
    sim.add_argument("--start", type=date.fromisoformat, default=DEMO_START)
    sim.add_argument("--days", type=int, default=14)
    sim.add_argument("--scale", type=float, default=1.0, help="traffic volume multiplier")
    sim.set_defaults(func=cmd_simulate)

    run = sub.add_parser("run", help="materialize every asset for a range of days")
    run.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    run.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    run.add_argument("--no-promote", action="store_true", help="do not act on the verdicts")
    run.set_defaults(func=cmd_run)

    schema = sub.add_parser("schema", help="print the JSON Schema of the experiments YAML")
    schema.set_defaults(func=cmd_schema)

    # `abgate bench ...` has its own options (abgate_pipeline.bench); listed here for --help.
    sub.add_parser("bench", help="benchmark the full graph against DuckDB and pandas")

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from abgate_pipeline import bench

        return bench.main(argv[1:])
    args = parser.parse_args(argv)
    if getattr(args, "end", None) and args.end < args.start:
        parser.error("--to must not be before --from")
    try:
        return args.func(args)
    except (ConfigError, RedactionKeyMissing) as error:
        print(f"abgate: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
