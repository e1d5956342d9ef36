"""`python -m relier_tui`: the same as `rl tui`."""

import sys

from relier.cli import main

main(["tui", *sys.argv[1:]])
