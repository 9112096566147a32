"""The one interface every feature-flag backend implements, and the rules every backend shares.

The promotion asset only ever talks to a `FlagBackend`: it reads the current split with `get`
and writes the next one with `set_weights`. Validation lives here, not in each backend, so a
flagd file, LaunchDarkly or Unleash backend all refuse the same bad input with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

MetadataValue = str | int | float | bool

TOTAL_PERCENT = 100

# Written by the backend on every write; a caller supplying them would silently fight the backend.
RESERVED_METADATA_KEYS = frozenset({"version", "updated_at"})


@dataclass(frozen=True)
class FlagState:
    """What a flag serves right now: the traffic split, the champion, and why it was set."""

    flag_key: str
    weights: dict[str, int]  # variant -> percent of traffic, sums to 100
    default_variant: str  # the champion
    version: int  # bumped on every write
    metadata: dict[str, MetadataValue]


@runtime_checkable
class FlagBackend(Protocol):
    """A store of flag splits that the promotion asset can read and move."""

    def get(self, flag_key: str) -> FlagState | None:
        """The flag's current state, or None if the backend has no such flag."""
        ...

    def set_weights(
        self,
        flag_key: str,
        weights: Mapping[str, int],
        *,
        default_variant: str,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> FlagState:
        """Replace the flag's split and metadata, bump its version, and return the new state."""
        ...


def weights_for_rollout(
    champion: str, challengers: Sequence[str], challenger_pct: int
) -> dict[str, int]:
    """The split that gives the challengers `challenger_pct` percent of traffic between them.

    Challengers share their percentage evenly in integer percents; the remainder goes one point
    each to the first challengers in the order given, so the same inputs always give the same
    split. Every challenger stays in the result even at 0 % so the flag keeps declaring it.
    """
    _check_rollout_inputs(champion, challengers, challenger_pct)
    weights = {champion: TOTAL_PERCENT - challenger_pct}
    if challengers:
        share, remainder = divmod(challenger_pct, len(challengers))
        for index, challenger in enumerate(challengers):
            weights[challenger] = share + (1 if index < remainder else 0)
    return weights


def _check_rollout_inputs(champion: str, challengers: Sequence[str], challenger_pct: int) -> None:
    """Reject rollouts that cannot be expressed as one split over distinct variants."""
    if isinstance(challenger_pct, bool) or not isinstance(challenger_pct, int):
        raise TypeError(f"challenger_pct must be an int, got {challenger_pct!r}")
    if not 0 <= challenger_pct <= TOTAL_PERCENT:
        raise ValueError(f"challenger_pct must be between 0 and 100, got {challenger_pct}")
    if isinstance(challengers, str):
        raise TypeError("challengers must be a sequence of variant names, not one string")
    if len(set(challengers)) != len(challengers):
        raise ValueError(f"challengers must be distinct, got {list(challengers)}")
    if champion in challengers:
        raise ValueError(f"champion {champion!r} cannot also be a challenger")
    if challenger_pct > 0 and not challengers:
        raise ValueError(f"cannot give {challenger_pct} % to challengers when there are none")


def validate_weights(weights: Mapping[str, int], default_variant: str) -> dict[str, int]:
    """Check a requested split and return it as a plain dict.

    A split that does not sum to 100 would be silently renormalized by flagd's `fractional`,
    so the traffic served would differ from the allocation the SRM test checks against.
    """
    if not weights:
        raise ValueError("weights must name at least one variant")
    for variant, weight in weights.items():
        if not isinstance(variant, str) or not variant:
            raise ValueError(f"variant names must be non-empty strings, got {variant!r}")
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TypeError(f"weight of {variant!r} must be an int percent, got {weight!r}")
        if weight < 0:
            raise ValueError(f"weight of {variant!r} must not be negative, got {weight}")
    total = sum(weights.values())
    if total != TOTAL_PERCENT:
        raise ValueError(f"weights must sum to 100, got {total}: {dict(weights)}")
    if default_variant not in weights:
        raise ValueError(
            f"default variant {default_variant!r} is not one of the variants {list(weights)}"
        )
    return dict(weights)


def validate_metadata(metadata: Mapping[str, MetadataValue] | None) -> dict[str, MetadataValue]:
    """Check caller metadata against what flag systems can store (flat JSON scalars)."""
    checked = dict(metadata or {})
    for key, value in checked.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"metadata keys must be non-empty strings, got {key!r}")
        if key in RESERVED_METADATA_KEYS:
            raise ValueError(f"metadata key {key!r} is set by the backend, do not pass it")
        if not isinstance(value, str | int | float | bool):
            raise TypeError(f"metadata {key!r} must be a str, int, float or bool, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metadata {key!r} must be finite, got {value}")
    return checked
