"""Chaos scenarios with verdicts: `rl chaos NAME`, the `chaos/` suite and the console."""
