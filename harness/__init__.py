"""condbench harness: data, protocol, metrics, sizes, runs, tuning, tracking, CLI."""

__version__ = "0.1.0"
