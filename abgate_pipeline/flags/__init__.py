"""Feature-flag backends behind one interface: the promotion asset moves traffic through these."""

from abgate_pipeline.flags.base import FlagBackend, FlagState, weights_for_rollout
from abgate_pipeline.flags.flagd import FlagdFileBackend

__all__ = ["FlagBackend", "FlagState", "FlagdFileBackend", "weights_for_rollout"]
