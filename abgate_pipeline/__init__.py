"""abgate: a statistical gate for LLM model and prompt changes, as a Dagster code location."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("abgate")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
