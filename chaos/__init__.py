"""The chaos suite: every scenario against real processes on this machine, with a report."""
