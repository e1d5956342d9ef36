"""What ``python -m bench recovery`` measured, and how it reads: figures, tables, text."""

from __future__ import annotations

from dataclasses import dataclass

from bench.figures import Figure, Table, by_arm, stats_table, table
from bench.report import Row, column_formatter, summarize


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one arm of the delivery test ended with."""

    arm: str
    tasks: int
    kills: int
    completed: int
    lost: int
    executions: int
    extra_executions: int
    duplicate_completions: int
    waited_s: float


@dataclass(frozen=True, slots=True)
class VanillaChildDeath:
    """Kills of a vanilla worker's pool process running attempt 1, and which tasks re-ran."""

    arm: str
    kills: int
    rerun: int
    rerun_timeout_s: float
    latencies_ns: list[int]


def format_delivery(title: str, method: str, results: list[Delivery]) -> str:
    headers = ("arm", "tasks", "kills", "completed", "lost", "executions", "extra exec",
               "dup completions")
    body = [(d.arm, str(d.tasks), str(d.kills), str(d.completed), str(d.lost),
             str(d.executions), str(d.extra_executions), str(d.duplicate_completions))
            for d in results]
    line = column_formatter([headers, *body])
    return "\n".join([title, f"[delivery] {method}", line(headers), *map(line, body)])


def _ms(value_ns: float) -> float:
    return round(value_ns / 1e6, 1)


def _child_cell(death: VanillaChildDeath | None) -> float | str | None:
    """A vanilla arm's child-death p50 in ms, or what happened when nothing re-ran."""
    if death is None:
        return None
    if not death.latencies_ns:
        return f"never re-run (0/{death.kills} in {death.rerun_timeout_s:g} s)"
    return _ms(summarize(death.latencies_ns).p50_ns)


def figures_and_tables(rows: list[Row], deliveries: list[Delivery],
                       vanilla: list[VanillaChildDeath], methods: dict[str, str]
                       ) -> tuple[list[Figure], list[Table]]:
    """The page's figures (relier beside the vanilla arms) and detail tables."""
    figures: list[Figure] = []
    tables: list[Table] = []
    child = next((row for row in rows if row.group == "child death"), None)
    whole = next((row for row in rows if row.group == "whole-worker death"), None)
    deaths = {death.arm: death for death in vanilla}
    if child is not None or deaths:
        for label, attribute in (("p50", "p50_ns"), ("p99", "p99_ns")):
            values: dict[str, float | str | None] = {
                "relier": None if child is None else _ms(getattr(child.stats, attribute))}
            for arm, death in deaths.items():
                values[arm] = (_child_cell(death) if label == "p50" or not death.latencies_ns
                               else _ms(getattr(summarize(death.latencies_ns), attribute)))
            figures.append(by_arm(f"child death: SIGKILL -> task re-run starts, {label}", "ms",
                                  methods["child"], values))
    if whole is not None:
        figures += [Figure(f"whole-worker death: killpg -> re-run on another worker, {label}",
                           "s", methods["worker"], round(getattr(whole.stats, attribute) / 1e9, 3))
                    for label, attribute in (("p50", "p50_ns"), ("p99", "p99_ns"))]
    if deliveries:
        first = deliveries[0]
        figures += [
            by_arm(f"delivery, {first.tasks} tasks under {first.kills} kills: tasks lost", "tasks",
                   methods["delivery"], {d.arm: d.lost for d in deliveries}),
            by_arm(f"delivery, {first.tasks} tasks under {first.kills} kills: extra executions",
                   "tasks", methods["delivery"], {d.arm: d.extra_executions for d in deliveries}),
        ]
    for group in dict.fromkeys(row.group for row in rows):
        tables.append(stats_table(f"{group}: kill -> start of the task's next attempt",
                                  [row for row in rows if row.group == group], "ms",
                                  count_label="kills"))
    if vanilla:
        tables.append(table("vanilla Celery, pool process SIGKILLed while running a task",
                            methods["vanilla"], ("arm", "kills", "re-run", "p50", "max"),
                            [(d.arm, d.kills, d.rerun,
                              f"{_ms(summarize(d.latencies_ns).p50_ns)} ms" if d.latencies_ns
                              else "—",
                              f"{_ms(max(d.latencies_ns))} ms" if d.latencies_ns else "—")
                             for d in vanilla]))
    if deliveries:
        tables.append(table("delivery under kills", methods["delivery"],
                            ("arm", "tasks", "kills", "completed", "lost", "executions",
                             "extra executions", "duplicate completions"),
                            [(d.arm, d.tasks, d.kills, d.completed, d.lost, d.executions,
                              d.extra_executions, d.duplicate_completions) for d in deliveries]))
    return figures, tables
