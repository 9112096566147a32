"""The flagd file backend, checked against the real OpenFeature flagd provider, not a mock.

The provider runs in file mode (in-process evaluation, no flagd server): what these tests see is
what an application reading the same file would serve.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import Reason

from abgate_pipeline.flags import FlagBackend, FlagdFileBackend, FlagState, weights_for_rollout

FLAG = "support-bot-llm"
N_KEYS = 10_000
TOLERANCE_POINTS = 1.5
WATCH_INTERVAL_MS = 50  # the provider polls the file every `deadline_ms`
METADATA = {
    "experiment_id": "support-bot-model-upgrade",
    "decision": "promote",
    "as_of": "2026-11-14",
}


@pytest.fixture
def flags_path(tmp_path: Path) -> Path:
    return tmp_path / "flags" / "flags.json"


@pytest.fixture
def backend(flags_path: Path) -> FlagdFileBackend:
    return FlagdFileBackend(flags_path)


@pytest.fixture
def flagd_client() -> Iterator[Callable[[Path], OpenFeatureClient]]:
    """Start the real flagd provider on a file; always shut it down so its watcher thread stops."""

    def start(path: Path) -> OpenFeatureClient:
        provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=str(path),
            deadline_ms=WATCH_INTERVAL_MS,
        )
        api.set_provider_and_wait(provider)
        return api.get_client()

    yield start
    api.shutdown()


def served_shares(client: OpenFeatureClient, flag_key: str = FLAG) -> dict[str, float]:
    """Percent of N_KEYS distinct targeting keys served each value."""
    served = Counter(
        client.get_string_value(flag_key, "fallback", EvaluationContext(targeting_key=f"user-{i}"))
        for i in range(N_KEYS)
    )
    return {value: 100 * count / N_KEYS for value, count in served.items()}


def wait_for_version(client: OpenFeatureClient, version: int, timeout_s: float = 5.0) -> None:
    """Block until the provider's file watcher has loaded the given flag version."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        details = client.get_string_details(FLAG, "fallback", EvaluationContext(targeting_key="u"))
        if details.flag_metadata.get("version") == version:
            return
        time.sleep(WATCH_INTERVAL_MS / 1000)
    raise AssertionError(f"provider did not load version {version} within {timeout_s} s")


def leftover_files(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir()} - {"flags.json", "flags.json.lock"}


class TestProviderServesTheSplit:
    @pytest.mark.parametrize(
        ("challengers", "challenger_pct"),
        [(["challenger"], 10), (["challenger"], 50), (["challenger-a", "challenger-b"], 20)],
    )
    def test_shares_match_weights(
        self, backend, flags_path, flagd_client, challengers, challenger_pct
    ):
        weights = weights_for_rollout("champion", challengers, challenger_pct)
        backend.set_weights(FLAG, weights, default_variant="champion", metadata=METADATA)

        shares = served_shares(flagd_client(flags_path))

        assert set(shares) == set(weights)
        for variant, weight in weights.items():
            assert abs(shares[variant] - weight) <= TOLERANCE_POINTS, (variant, shares)

    def test_provider_sees_metadata(self, backend, flags_path, flagd_client):
        backend.set_weights(
            FLAG, {"champion": 90, "challenger": 10}, default_variant="champion", metadata=METADATA
        )

        details = flagd_client(flags_path).get_string_details(
            FLAG, "fallback", EvaluationContext(targeting_key="user-1")
        )

        assert details.reason == Reason.TARGETING_MATCH
        assert details.flag_metadata["version"] == 1
        assert details.flag_metadata["experiment_id"] == METADATA["experiment_id"]

    def test_rollback_reaches_a_running_provider(self, backend, flags_path, flagd_client):
        backend.set_weights(FLAG, {"champion": 50, "challenger": 50}, default_variant="champion")
        client = flagd_client(flags_path)
        assert served_shares(client)["challenger"] > 40

        rollback = backend.set_weights(
            FLAG,
            weights_for_rollout("champion", ["challenger"], 0),
            default_variant="champion",
            metadata={**METADATA, "decision": "rollback"},
        )
        wait_for_version(client, rollback.version)

        assert served_shares(client) == {"champion": 100.0}
        assert client.get_string_details(FLAG, "fallback").value == "champion"  # no targeting key

    def test_ramp_up_never_moves_a_unit_back_to_champion(self, backend, flags_path, flagd_client):
        backend.set_weights(
            FLAG, weights_for_rollout("champion", ["challenger"], 10), default_variant="champion"
        )
        client = flagd_client(flags_path)
        keys = [EvaluationContext(targeting_key=f"user-{i}") for i in range(2_000)]
        at_10 = {
            ctx.targeting_key
            for ctx in keys
            if client.get_string_value(FLAG, "", ctx) == "challenger"
        }

        ramp = backend.set_weights(
            FLAG, weights_for_rollout("champion", ["challenger"], 50), default_variant="champion"
        )
        wait_for_version(client, ramp.version)
        at_50 = {
            ctx.targeting_key
            for ctx in keys
            if client.get_string_value(FLAG, "", ctx) == "challenger"
        }

        assert at_10 < at_50


class TestWrittenFile:
    def test_is_a_flagd_string_flag_with_fractional_targeting(self, backend, flags_path):
        backend.set_weights(
            FLAG, {"challenger": 10, "champion": 90}, default_variant="champion", metadata=METADATA
        )

        document = json.loads(flags_path.read_text())
        flag = document["flags"][FLAG]

        assert document["$schema"] == "https://flagd.dev/schema/v0/flags.json"
        assert flag["state"] == "ENABLED"
        assert flag["variants"] == {"champion": "champion", "challenger": "challenger"}
        assert flag["defaultVariant"] == "champion"
        assert flag["targeting"] == {"fractional": [["champion", 90], ["challenger", 10]]}
        assert flag["metadata"]["version"] == 1
        assert flag["metadata"]["experiment_id"] == METADATA["experiment_id"]
        assert "updated_at" in flag["metadata"]

    def test_champion_only_has_no_targeting(self, backend, flags_path):
        backend.set_weights(FLAG, {"champion": 100, "challenger": 0}, default_variant="champion")

        flag = json.loads(flags_path.read_text())["flags"][FLAG]

        assert "targeting" not in flag
        assert flag["variants"] == {"champion": "champion", "challenger": "challenger"}

    def test_new_file_is_readable_by_other_users(self, backend, flags_path):
        backend.set_weights(FLAG, {"champion": 100}, default_variant="champion")

        assert flags_path.stat().st_mode & 0o777 == 0o644


class TestReadBack:
    def test_missing_file_has_no_flags(self, backend, flags_path):
        assert backend.get(FLAG) is None
        assert not flags_path.parent.exists()

    def test_missing_flag_is_none(self, backend):
        backend.set_weights("other-flag", {"on": 100}, default_variant="on")

        assert backend.get(FLAG) is None

    def test_round_trip(self, backend):
        written = backend.set_weights(
            FLAG, {"champion": 90, "challenger": 10}, default_variant="champion", metadata=METADATA
        )

        read = backend.get(FLAG)

        assert read == written
        assert read.weights == {"champion": 90, "challenger": 10}
        assert read.default_variant == "champion"
        assert read.version == 1
        assert {k: read.metadata[k] for k in METADATA} == METADATA
        assert "version" not in read.metadata

    def test_champion_only_reads_back_with_zero_challengers(self, backend):
        backend.set_weights(FLAG, {"champion": 100, "challenger": 0}, default_variant="champion")

        assert backend.get(FLAG).weights == {"champion": 100, "challenger": 0}

    def test_targeting_abgate_did_not_write_is_refused(self, backend, flags_path):
        flags_path.parent.mkdir(parents=True)
        rule = {"if": [{"==": [{"var": "tier"}, "gold"]}, "challenger", "champion"]}
        flags_path.write_text(json.dumps({"flags": {FLAG: _hand_written_flag(targeting=rule)}}))

        with pytest.raises(ValueError, match="does not manage"):
            backend.get(FLAG)

    def test_backend_satisfies_the_protocol(self, backend):
        assert isinstance(backend, FlagBackend)


class TestWrites:
    def test_version_bumps_and_metadata_is_replaced(self, backend):
        first = backend.set_weights(
            FLAG, {"champion": 90, "challenger": 10}, default_variant="champion", metadata=METADATA
        )
        second = backend.set_weights(
            FLAG, {"champion": 50, "challenger": 50}, default_variant="champion"
        )

        assert (first.version, second.version) == (1, 2)
        assert "experiment_id" not in second.metadata
        assert backend.get(FLAG).version == 2

    def test_hand_written_flag_without_version_starts_at_one(self, backend, flags_path):
        flags_path.parent.mkdir(parents=True)
        flags_path.write_text(json.dumps({"flags": {FLAG: _hand_written_flag()}}))

        assert backend.get(FLAG).version == 0
        assert backend.set_weights(FLAG, {"champion": 100}, default_variant="champion").version == 1

    def test_other_flags_and_file_metadata_are_preserved(self, backend, flags_path):
        other = {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
        }
        flags_path.parent.mkdir(parents=True)
        flags_path.write_text(
            json.dumps({"flags": {"dark-mode": other}, "metadata": {"flagSetId": "prod"}})
        )

        backend.set_weights(FLAG, {"champion": 90, "challenger": 10}, default_variant="champion")
        document = json.loads(flags_path.read_text())

        assert document["flags"]["dark-mode"] == other
        assert document["metadata"] == {"flagSetId": "prod"}
        assert set(document["flags"]) == {"dark-mode", FLAG}

    def test_concurrent_writers_lose_no_update(self, flags_path):
        context = multiprocessing.get_context("spawn")
        writers = [
            context.Process(target=_write_many, args=(str(flags_path), w, 20)) for w in (0, 1)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=30)

        assert [writer.exitcode for writer in writers] == [0, 0]
        backend = FlagdFileBackend(flags_path)
        assert backend.get("shared").version == 40
        assert backend.get("own-0").version == 20
        assert backend.get("own-1").version == 20
        assert leftover_files(flags_path.parent) == set()


class TestCrashMidWrite:
    @pytest.fixture
    def previous(self, backend, flags_path) -> bytes:
        backend.set_weights(FLAG, {"champion": 90, "challenger": 10}, default_variant="champion")
        return flags_path.read_bytes()

    def test_failure_while_serializing_keeps_the_old_file(
        self, backend, flags_path, previous, monkeypatch
    ):
        def write_half_then_fail(document, handle, **kwargs):
            handle.write(json.dumps(document)[:40])
            raise OSError("disk full")

        monkeypatch.setattr(json, "dump", write_half_then_fail)

        with pytest.raises(OSError, match="disk full"):
            backend.set_weights(
                FLAG, {"champion": 50, "challenger": 50}, default_variant="champion"
            )

        assert flags_path.read_bytes() == previous
        assert leftover_files(flags_path.parent) == set()

    def test_failure_at_rename_keeps_the_old_file(self, backend, flags_path, previous, monkeypatch):
        def fail(*args):
            raise OSError("rename failed")

        monkeypatch.setattr(os, "replace", fail)

        with pytest.raises(OSError, match="rename failed"):
            backend.set_weights(
                FLAG, {"champion": 50, "challenger": 50}, default_variant="champion"
            )

        assert flags_path.read_bytes() == previous
        assert leftover_files(flags_path.parent) == set()
        assert backend.get(FLAG).version == 1


class TestValidation:
    @pytest.mark.parametrize(
        ("weights", "default_variant", "error", "message"),
        [
            ({"champion": 90, "challenger": 20}, "champion", ValueError, "sum to 100"),
            ({"champion": 110, "challenger": -10}, "champion", ValueError, "negative"),
            ({"champion": 90, "challenger": 10}, "champ", ValueError, "not one of the variants"),
            ({"champion": 90.0, "challenger": 10}, "champion", TypeError, "int percent"),
            ({"champion": True, "challenger": 99}, "champion", TypeError, "int percent"),
            ({}, "champion", ValueError, "at least one variant"),
            ({"": 100}, "", ValueError, "non-empty"),
        ],
    )
    def test_bad_weights_are_refused_before_touching_the_file(
        self, backend, flags_path, weights, default_variant, error, message
    ):
        with pytest.raises(error, match=message):
            backend.set_weights(FLAG, weights, default_variant=default_variant)
        assert not flags_path.exists()

    @pytest.mark.parametrize(
        ("metadata", "error", "message"),
        [
            ({"version": 7}, ValueError, "set by the backend"),
            ({"updated_at": "2026-01-01"}, ValueError, "set by the backend"),
            ({"reasons": ["a", "b"]}, TypeError, "str, int, float or bool"),
            ({"p_value": float("nan")}, ValueError, "finite"),
        ],
    )
    def test_bad_metadata_is_refused(self, backend, metadata, error, message):
        with pytest.raises(error, match=message):
            backend.set_weights(
                FLAG, {"champion": 100}, default_variant="champion", metadata=metadata
            )

    def test_empty_flag_key_is_refused(self, backend):
        with pytest.raises(ValueError, match="flag_key"):
            backend.set_weights("", {"champion": 100}, default_variant="champion")


class TestWeightsForRollout:
    @pytest.mark.parametrize(
        ("challengers", "challenger_pct", "expected"),
        [
            (["challenger"], 10, {"champion": 90, "challenger": 10}),
            (["challenger"], 50, {"champion": 50, "challenger": 50}),
            (["challenger"], 0, {"champion": 100, "challenger": 0}),
            (["challenger"], 100, {"champion": 0, "challenger": 100}),
            (["a", "b"], 20, {"champion": 80, "a": 10, "b": 10}),
            (["a", "b", "c"], 10, {"champion": 90, "a": 4, "b": 3, "c": 3}),
            (["a", "b", "c"], 100, {"champion": 0, "a": 34, "b": 33, "c": 33}),
            (["a", "b"], 1, {"champion": 99, "a": 1, "b": 0}),
            ([], 0, {"champion": 100}),
        ],
    )
    def test_split(self, challengers, challenger_pct, expected):
        weights = weights_for_rollout("champion", challengers, challenger_pct)

        assert weights == expected
        assert sum(weights.values()) == 100

    def test_remainder_follows_the_given_order(self):
        assert weights_for_rollout("champion", ["c", "b", "a"], 10) == {
            "champion": 90,
            "c": 4,
            "b": 3,
            "a": 3,
        }

    @pytest.mark.parametrize(
        ("challengers", "challenger_pct", "error", "message"),
        [
            (["challenger"], 101, ValueError, "between 0 and 100"),
            (["challenger"], -1, ValueError, "between 0 and 100"),
            (["challenger"], 10.0, TypeError, "int"),
            (["champion"], 10, ValueError, "cannot also be a challenger"),
            (["a", "a"], 10, ValueError, "distinct"),
            ([], 10, ValueError, "there are none"),
            ("challenger", 10, TypeError, "not one string"),
        ],
    )
    def test_invalid(self, challengers, challenger_pct, error, message):
        with pytest.raises(error, match=message):
            weights_for_rollout("champion", challengers, challenger_pct)


def _hand_written_flag(targeting: dict | None = None) -> dict:
    """A flag as a person would write it: no abgate metadata, optionally its own targeting."""
    flag = {
        "state": "ENABLED",
        "variants": {"champion": "champion", "challenger": "challenger"},
        "defaultVariant": "champion",
    }
    if targeting is not None:
        flag["targeting"] = targeting
    return flag


def _write_many(path: str, writer: int, writes: int) -> None:
    """One concurrent writer: bumps a flag it shares with the other writer and one of its own."""
    backend = FlagdFileBackend(Path(path))
    for step in range(writes):
        weights = weights_for_rollout("champion", ["challenger"], step % 2 * 10)
        backend.set_weights(
            "shared", weights, default_variant="champion", metadata={"writer": writer}
        )
        backend.set_weights(
            f"own-{writer}", weights, default_variant="champion", metadata={"step": step}
        )


def test_flag_state_is_immutable():
    state = FlagState(
        flag_key=FLAG, weights={"champion": 100}, default_variant="champion", version=1, metadata={}
    )

    with pytest.raises(AttributeError):
        state.version = 2
