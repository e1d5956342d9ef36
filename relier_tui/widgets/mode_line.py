"""The mode line above the footer: whether the event tail is LIVE or PAUSED, the filter in force
on the pane shown, whether Redis is reachable, and where the keys go (the console, or a field)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input

SEPARATOR = " │ "
FILTER = "filter: "


def mode_text(*, paused: bool, missed: int, filter_text: str, connected: bool | None,
              typing: bool, width: int = 0) -> Text:
    """The mode line. With `width`, the longer wording of each part is used while it fits
    (the state words LIVE, PAUSED, the filter and the connection always stay)."""
    tail = ((Text.assemble((" PAUSED ", "bold black on yellow"), f" events, {missed} new (space resumes)"),
             Text.assemble((" PAUSED ", "bold black on yellow"), f" events, {missed} new"))
            if paused else
            (Text.assemble((" LIVE ", "bold black on green"), " events"),
             Text.assemble((" LIVE ", "bold black on green"), " events")))
    words, style = {True: (("redis connected", "redis ok"), "green"),
                    False: (("redis DOWN, retrying", "redis DOWN"), "bold red"),
                    None: (("redis connecting…", "connecting…"), "yellow")}[connected]
    connection = (Text(words[0], style=style), Text(words[1], style=style))
    keys = ((Text("typing: Esc gives the keys back", style="bold reverse"),
             Text("typing: Esc", style="bold reverse"))
            if typing else
            (Text("1-7 panes, ? help, ^p commands"), Text("? help")))
    if filter_text:
        active = (Text.assemble((FILTER, "bold yellow"), (filter_text, "yellow")),
                  Text.assemble((FILTER, "bold yellow"), (filter_text, "yellow")))
    else:
        active = (Text("no filter", style="dim"), Text("no filter", style="dim"))
    parts = [tail, active, connection, keys]
    chosen = [long for long, _ in parts]

    def length() -> int:
        return sum(part.cell_len for part in chosen) + len(SEPARATOR) * (len(chosen) - 1)

    for index in (3, 0, 2):  # shorten the key hint first, then the tail, then the connection
        if width and length() > width:
            chosen[index] = parts[index][1]
    if width and length() > width and filter_text:
        room = max(1, chosen[1].cell_len - (length() - width) - 1)
        chosen[1] = Text.assemble((FILTER, "bold yellow"), (filter_text[:max(1, room - len(FILTER))] + "…",
                                                             "yellow"))
    return Text(SEPARATOR).join(chosen)


class ModeLine(Widget):
    """One line that says what state the console is in; the app sets its attributes, and it
    follows the focus itself (typing in a field, or keys for the console)."""

    paused: reactive[bool] = reactive(False)
    missed: reactive[int] = reactive(0)
    filter_text: reactive[str] = reactive("")
    connected: reactive[bool | None] = reactive(None)
    typing: reactive[bool] = reactive(False)

    def on_mount(self) -> None:
        """Follow the focus: typing while an Input has it."""
        self.watch(self.screen, "focused", self._focus_moved)

    def _focus_moved(self, focused: Widget | None) -> None:
        self.typing = isinstance(focused, Input)

    def render(self) -> Text:
        """The line for the current state."""
        return mode_text(paused=self.paused, missed=self.missed, filter_text=self.filter_text,
                         connected=self.connected, typing=self.typing, width=self.size.width)
