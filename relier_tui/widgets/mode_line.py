"""The mode line above the footer: whether the event tail is LIVE or PAUSED, the filter in force
on the pane shown, whether Redis is reachable, Redis memory headroom (as the reconcile loop last
read it), and where the keys go (the console, a field, or a dialog open over the console)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from relier.preflight import MemoryHeadroom
from relier_tui.keys import declared, key_label
from relier_tui.widgets.health import MIB, memory_style

SEPARATOR = " │ "
FILTER = "filter: "
#: a part of the line in its long and its short wording
Wording = tuple[Text, Text]
#: a dialog's keys (joined by ``/``) and what each does
DialogKeys = tuple[tuple[str, str], ...]


def tail_part(*, paused: bool, missed: int) -> Wording:
    """LIVE, or PAUSED with the count of events that arrived meanwhile."""
    if paused:
        badge = (" PAUSED ", "bold black on yellow")
        return (Text.assemble(badge, f" events, {missed} new (space resumes)"),
                Text.assemble(badge, f" {missed} new"))
    badge = (" LIVE ", "bold black on green")
    return Text.assemble(badge, " events"), Text.assemble(badge)


def filter_part(filter_text: str) -> Wording:
    """The filter in force, or ``no filter``."""
    if not filter_text:
        return Text("no filter", style="dim"), Text("no filter", style="dim")
    active = Text.assemble((FILTER, "bold yellow"), (filter_text, "yellow"))
    return active, active


def connection_part(connected: bool | None) -> Wording:
    """Whether Redis is reachable (None: not known yet)."""
    words, style = {True: (("redis connected", "redis ok"), "green"),
                    False: (("redis DOWN, retrying", "redis DOWN"), "bold red"),
                    None: (("redis connecting…", "connecting…"), "yellow")}[connected]
    return Text(words[0], style=style), Text(words[1], style=style)


def memory_part(memory: MemoryHeadroom | None, warning: float, *, connected: bool | None) -> Wording:
    """Redis memory against maxmemory, coloured as in the header (the number always shown);
    ``mem ?`` before the first read, when INFO is refused, and while Redis is unreachable (the
    last reading would be stale)."""
    if memory is None or connected is False:
        return Text("mem ?", style="dim"), Text("mem ?", style="dim")
    if not memory.limit:
        return Text(f"mem {memory.used / MIB:.0f} MiB, no limit"), Text(f"mem {memory.used / MIB:.0f} MiB")
    style = memory_style(memory, warning)
    free = max(0, memory.limit - memory.used) / MIB
    return (Text(f"mem {memory.fraction:.0%} ({free:.0f} MiB free)", style=style),
            Text(f"mem {memory.fraction:.0%}", style=style))


def dialog_keys(screen: Screen[Any]) -> DialogKeys:
    """The keys a dialog (a screen over the console's) declares, each action's keys joined by
    ``/`` with what it does: ``(("y", "Yes"), ("n/esc", "No"))`` for a confirmation."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for binding in declared(type(screen)):
        if binding.description and not binding.system:
            grouped.setdefault((binding.action, binding.description), []).append(key_label(binding.key))
    return tuple(("/".join(keys), description) for (_, description), keys in grouped.items())


def keys_part(*, typing: bool, panes: int, dialog: DialogKeys | None = None) -> Wording:
    """Where the keys go: a dialog over the console (the keys it takes), the field that has
    the focus, or the console (with a hint)."""
    if dialog is not None:
        if not dialog:
            return Text("dialog: esc closes", style="bold reverse"), Text("esc", style="bold reverse")
        long = ", ".join(f"{keys} {what}" for keys, what in dialog)
        return (Text(f"dialog: {long}", style="bold reverse"),
                Text("/".join(keys for keys, _ in dialog), style="bold reverse"))
    if typing:
        return (Text("typing: Esc gives the keys back", style="bold reverse"),
                Text("typing: Esc", style="bold reverse"))
    return Text(f"1-{panes} panes, ? help, ^p commands"), Text("? help")


def mode_text(*, paused: bool, missed: int, filter_text: str, connected: bool | None,
              typing: bool, memory: MemoryHeadroom | None = None, memory_warning: float = 0.8,
              panes: int = 7, width: int = 0, dialog: DialogKeys | None = None) -> Text:
    """The mode line; `dialog`: the keys of a dialog open over the console. With `width`, the
    longer wording of each part is used while it fits (the state words LIVE, PAUSED, the
    filter, the connection and the memory always stay)."""
    parts = [tail_part(paused=paused, missed=missed), filter_part(filter_text),
             connection_part(connected), memory_part(memory, memory_warning, connected=connected),
             keys_part(typing=typing, panes=panes, dialog=dialog)]
    chosen = [long for long, _ in parts]

    def length() -> int:
        return sum(part.cell_len for part in chosen) + len(SEPARATOR) * (len(chosen) - 1)

    # shorten the key hint first, then the memory, the tail and the connection
    for index in (4, 3, 0, 2):
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
    #: the keys of the dialog open over the console (a confirmation, a detail view, the help);
    #: None while the console's own screen is on top
    dialog: reactive[DialogKeys | None] = reactive(None)
    #: Redis memory as the reconcile loop last read it (the header's reading, not a new one)
    memory: reactive[MemoryHeadroom | None] = reactive(None)
    memory_warning: reactive[float] = reactive(0.8)

    def __init__(self, *, panes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: how many panes the digits show (for the key hint)
        self.panes = panes

    def on_mount(self) -> None:
        """Follow the focus (typing while an Input has it) and the dialogs opened over the
        console (their keys, while one is open)."""
        self.watch(self.screen, "focused", self._focus_moved)
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def _focus_moved(self, focused: Widget | None) -> None:
        self.typing = isinstance(focused, Input)

    def _screen_changed(self, screen: Screen[Any]) -> None:
        self.dialog = None if screen is self.screen else dialog_keys(screen)

    def render(self) -> Text:
        """The line for the current state."""
        return mode_text(paused=self.paused, missed=self.missed, filter_text=self.filter_text,
                         connected=self.connected, typing=self.typing, memory=self.memory,
                         memory_warning=self.memory_warning, panes=self.panes,
                         width=self.size.width, dialog=self.dialog)
