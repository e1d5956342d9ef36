"""The console's modal screens, one per module: confirmation, detail view and help. Their text
often comes from Redis, so each is shown literally: control characters replaced, never read as
markup."""

from relier_tui.screens.confirm import ConfirmScreen
from relier_tui.screens.detail import DetailScreen, Section
from relier_tui.screens.help import HelpScreen, KeySection

__all__ = ["ConfirmScreen", "DetailScreen", "HelpScreen", "KeySection", "Section"]
