"""A `FlagBackend` that writes a flagd flag-definition file (https://flagd.dev/schema/v0/flags.json).

flagd, and every OpenFeature flagd provider in file / in-process mode, watches this file and
serves the split without a server round trip. Each experiment flag is a string flag whose
variants are named after the variants as logged, split by flagd's `fractional` operation over
the evaluation's targeting key.

Two processes (a sensor tick and a manual run) may promote at once, and flagd re-reads the file
whenever it changes, so every write is a locked read-modify-write that lands with one atomic
rename: readers see the old file or the new one, never half of either.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from abgate_pipeline.flags.base import (
    TOTAL_PERCENT,
    FlagState,
    MetadataValue,
    validate_metadata,
    validate_weights,
)

SCHEMA_URL = "https://flagd.dev/schema/v0/flags.json"
NEW_FILE_MODE = 0o644  # flagd often runs as another user; it must be able to read the file


class FlagdFileBackend:
    """Flags kept in one flagd flag-definition JSON file; other flags in it are left untouched."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def get(self, flag_key: str) -> FlagState | None:
        """The flag as flagd would serve it now; None if the file or the flag does not exist.

        No lock is needed: writes replace the file atomically, so a read sees one whole version.
        """
        definition = _read_document(self.path).get("flags", {}).get(flag_key)
        if definition is None:
            return None
        return _state_from_definition(flag_key, definition, self.path)

    def set_weights(
        self,
        flag_key: str,
        weights: Mapping[str, int],
        *,
        default_variant: str,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> FlagState:
        """Write the flag's new split, replacing its metadata and bumping its version."""
        if not isinstance(flag_key, str) or not flag_key:
            raise ValueError(f"flag_key must be a non-empty string, got {flag_key!r}")
        checked_weights = validate_weights(weights, default_variant)
        checked_metadata = validate_metadata(metadata)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(self.lock_path):
            document = _read_document(self.path)
            flags = document.setdefault("flags", {})
            version = _stored_version(flags.get(flag_key, {})) + 1
            flags[flag_key] = _flag_definition(
                checked_weights,
                default_variant,
                {**checked_metadata, "version": version, "updated_at": _utc_now_iso()},
            )
            _atomic_write_json(self.path, {"$schema": SCHEMA_URL, **document})
        return _state_from_definition(flag_key, flags[flag_key], self.path)


def _flag_definition(
    weights: dict[str, int], default_variant: str, metadata: dict[str, MetadataValue]
) -> dict[str, Any]:
    """One flagd string flag serving `weights`, with the champion as the default variant.

    When the champion takes all traffic (a rollback) the `fractional` rule is left out: flagd then
    serves the default variant to everyone, with or without a targeting key, in every provider.
    Otherwise every variant is listed, zero weights included, so the split reads back exactly.
    """
    ordered = _champion_first(weights, default_variant)
    definition: dict[str, Any] = {
        "state": "ENABLED",
        "variants": {variant: variant for variant in ordered},
        "defaultVariant": default_variant,
    }
    if ordered[default_variant] < TOTAL_PERCENT:
        definition["targeting"] = {"fractional": [[v, w] for v, w in ordered.items()]}
    definition["metadata"] = metadata
    return definition


def _champion_first(weights: dict[str, int], default_variant: str) -> dict[str, int]:
    """Order variants champion first, then challengers by name.

    `fractional` hands out hash buckets in list order, so a fixed order keeps every unit in its
    bucket across writes; with the champion first, ramping a single challenger from 10 % to
    50 % only moves units from champion to challenger, never back.
    """
    challengers = sorted(variant for variant in weights if variant != default_variant)
    return {variant: weights[variant] for variant in [default_variant, *challengers]}


def _state_from_definition(flag_key: str, definition: Any, path: Path) -> FlagState:
    """Read a flag written by this backend (or by hand in the same shape) back into a FlagState.

    No targeting means flagd serves the default variant to all traffic.
    """
    if not _has_default_variant(definition):
        raise ValueError(f"flag {flag_key!r} in {path} has no variants with a default variant")
    default_variant = definition["defaultVariant"]
    targeting = definition.get("targeting")
    if targeting:
        weights = _weights_from_fractional(flag_key, targeting, path)
    else:
        weights = {v: TOTAL_PERCENT if v == default_variant else 0 for v in definition["variants"]}
    metadata = dict(definition.get("metadata") or {})
    metadata.pop("version", None)
    return FlagState(
        flag_key=flag_key,
        weights=weights,
        default_variant=default_variant,
        version=_stored_version(definition),
        metadata=metadata,
    )


def _has_default_variant(definition: Any) -> bool:
    """Whether a flag names a default variant among its variants, which every split needs."""
    if not isinstance(definition, dict) or not isinstance(definition.get("variants"), dict):
        return False
    return definition.get("defaultVariant") in definition["variants"]


def _weights_from_fractional(flag_key: str, targeting: Any, path: Path) -> dict[str, int]:
    """Weights of a shorthand `{"fractional": [[variant, weight], ...]}` rule.

    Any other targeting (custom rules, explicit bucketing keys) was not written by abgate; the
    gate refuses to guess what split it serves rather than report a wrong allocation.
    """
    if not isinstance(targeting, dict) or set(targeting) != {"fractional"}:
        raise ValueError(f"flag {flag_key!r} in {path} has targeting abgate does not manage")
    weights: dict[str, int] = {}
    for entry in targeting["fractional"]:
        if not _is_weight_entry(entry):
            raise ValueError(f"flag {flag_key!r} in {path} has a fractional entry {entry!r}")
        weights[entry[0]] = entry[1]
    return weights


def _is_weight_entry(entry: Any) -> bool:
    """Whether a fractional entry is a literal `[variant, integer weight]` pair."""
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], int)
        and not isinstance(entry[1], bool)
    )


def _stored_version(definition: Any) -> int:
    """The version last written for a flag; 0 for a flag created by hand without one."""
    metadata = definition.get("metadata") if isinstance(definition, dict) else None
    version = metadata.get("version") if isinstance(metadata, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        return 0
    return version


def _read_document(path: Path) -> dict[str, Any]:
    """The parsed flag file; a missing file is an empty flag set, not an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("flags", {}), dict):
        raise ValueError(f"{path} is not a flagd flag-definition file (no 'flags' object)")
    return document


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a sibling file for a read-modify-write.

    The lock is on a separate file because the flag file itself is replaced on every write, and
    a lock on a replaced inode would not exclude the next writer.
    """
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _atomic_write_json(path: Path, document: dict[str, Any]) -> None:
    """Replace `path` with `document` so that a crash at any point leaves the old or new file.

    The temp file lives in the same directory because `os.replace` is only atomic within one
    file system; it is fsynced before the rename so the rename never exposes unwritten data.
    """
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    temp_path = Path(temp_name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_path, _mode_to_keep(path))
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _mode_to_keep(path: Path) -> int:
    """Keep the permissions someone gave the flag file; mkstemp's 0600 would lock flagd out."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return NEW_FILE_MODE


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself, so a power loss cannot bring back the previous file."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _utc_now_iso() -> str:
    """When the flag was written, in UTC so readers in any time zone agree."""
    return datetime.now(UTC).isoformat(timespec="seconds")
