"""The console's panes, one per module."""
