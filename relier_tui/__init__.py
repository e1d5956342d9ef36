"""The relier operations console (`rl tui`): a Textual app that reads and acts through Redis."""
