"""The console's entry point: the only place relier loads `relier_tui` (textual and rich).

A worker installed without the ``console`` extra never imports them; a command that needs the
console says which extra to install instead of failing on an import.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import click

#: How to get the console's packages, for the error (never a bare `pip install relier`: that
#: name on the package index is another project).
INSTALL_HINT = ("install relier with its console extra from your checkout or wheel: "
                "pip install -e '.[console]' (or 'relier-<version>.whl[console]')")


def load(module: str = "relier_tui.app") -> ModuleType:
    """Import a console module; a missing console extra is one clear `click` error."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in {"textual", "rich", "relier_tui"}:
            raise
        raise click.ClickException(f"the console needs {exc.name}: {INSTALL_HINT}") from None
