"""The chaos suite: every scenario against real processes on this machine, with a report."""

from __future__ import annotations

import os

# The suite runs on throwaway local servers and signs with the public development key.
os.environ.setdefault("RELIER_ENV", "test")
