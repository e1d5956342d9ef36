"""The task-oriented docs cannot drift from the code.

docs/api.md names every export, option, member and exception, with signatures that match;
links between docs pages resolve, anchors included; every code block that says it comes
from examples/ is that file (or that function of it), and every example is quoted and tested.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import relier
import relier.errors
import relier.testing
from relier import (
    Admission,
    AdmissionRejectedError,
    DeadLetterReason,
    IdempotencyLock,
    Relier,
    RelierTask,
    TaskContext,
    TaskFailedError,
    TaskHandle,
    TaskState,
)
from relier.integrations import fastapi as fastapi_integration
from relier.spec import TaskOptions

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
API = (DOCS / "api.md").read_text()
#: The pages written as task-oriented docs; their python blocks must parse.
GUIDES = ("quickstart.md", "celery-primer.md", "concepts.md", "recipes.md", "cookbook.md",
          "troubleshooting.md", "api.md")
MARKER = re.compile(r"^<!-- example: (?P<path>examples/[\w/]+\.py)(?::(?P<name>\w+))? -->$")
FENCE = re.compile(r"^(```|~~~)")


# --- markdown helpers -------------------------------------------------------------------------


def lines_outside_code(text: str) -> Iterator[str]:
    inside = False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield line


def headings(text: str) -> list[tuple[int, str]]:
    return [(len(match.group(1)), match.group(2).strip())
            for line in lines_outside_code(text)
            if (match := re.match(r"^(#{1,6})\s+(.*)$", line))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, heading in headings(text):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def section(text: str, title: str) -> str:
    """The part of `text` under the heading `title`, up to the next heading at its level or above."""
    lines = text.splitlines()
    inside = False
    for index, line in enumerate(lines):
        if FENCE.match(line):
            inside = not inside
        match = re.match(r"^(#{1,6})\s+(.*)$", line)
        if not inside and match and match.group(2).strip() == title:
            start, level = index, len(match.group(1))
            break
    else:
        raise AssertionError(f"no heading {title!r}")
    inside = False
    for end in range(start + 1, len(lines)):
        if FENCE.match(lines[end]):
            inside = not inside
        match = re.match(r"^(#{1,6})\s", lines[end])
        if not inside and match and len(match.group(1)) <= level:
            return "\n".join(lines[start:end])
    return "\n".join(lines[start:])


def code_blocks(text: str) -> Iterator[tuple[int, str, str]]:
    """(line index of the opening fence, info string, body) for each fenced block."""
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        opening = re.match(r"^```(\S*)", lines[index])
        if opening:
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            yield index, opening.group(1), "".join(lines[index + 1:end])
            index = end
        index += 1


def mentions(text: str, name: str) -> bool:
    """`name` starts inline code: `name`, `name(...)`, `await name(...)`, `obj.name`, `name = 1`."""
    return re.search(rf"`(?:await |@|\w+\.)?{re.escape(name)}(?:[`(.\[]| =)", text) is not None


# --- the API page against the code --------------------------------------------------------------


def test_every_rl_task_option_has_a_row_and_no_other() -> None:
    rows = re.findall(r"^\| `(\w+)` \|", section(API, "`@rl_task` options"), flags=re.MULTILINE)
    assert sorted(rows) == sorted(TaskOptions.__annotations__)
    assert list(inspect.signature(relier.rl_task).parameters) == ["func", "options"]


def test_every_export_is_listed_and_nothing_else() -> None:
    table = section(API, "Names exported by `relier`")
    first_column = " ".join(re.findall(r"^\| (.+?) \|", table, flags=re.MULTILINE)[2:])
    listed = set(re.findall(r"`(\w+)`", first_column))
    assert listed == set(relier.__all__)
    for name in relier.__all__:
        assert mentions(API, name), name


def exception_classes(module: Any) -> set[str]:
    return {name for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, BaseException)
            and value.__module__ == module.__name__}


def test_every_exception_has_its_own_heading() -> None:
    documented = {title.strip("`") for level, title in headings(section(API, "Exceptions"))
                  if level == 3}
    assert documented == exception_classes(relier.errors)
    exported = {name for name in relier.__all__
                if isinstance(getattr(relier, name), type)
                and issubclass(getattr(relier, name), BaseException)}
    assert exported == exception_classes(relier.errors), "every exception is exported"


@pytest.mark.parametrize(("error", "title"), [(TaskFailedError, "`TaskFailedError`"),
                                              (AdmissionRejectedError, "`AdmissionRejectedError`")])
def test_exception_attributes_are_documented(error: type[Exception], title: str) -> None:
    text = section(API, title)
    for name in inspect.signature(error).parameters:
        assert f"`{name}`" in text, f"{error.__name__}.{name}"


def own_public_members(cls: type) -> set[str]:
    names = {name for name in vars(cls) if not name.startswith("_")}
    names |= {name for name in getattr(cls, "__annotations__", {}) if not name.startswith("_")}
    if dataclasses.is_dataclass(cls):
        names |= {field.name for field in dataclasses.fields(cls) if not field.name.startswith("_")}
    return names


@pytest.mark.parametrize(("cls", "title"), [
    (Relier, "`Relier`"),
    (RelierTask, "`RelierTask`"),
    (TaskHandle, "`TaskHandle`"),
    (TaskContext, "`TaskContext` and `current_context`"),
    (IdempotencyLock, "`idempotency_lock` and `IdempotencyLock`"),
    (Admission, "`Admission`"),
    (relier.testing.RedisServer, "`relier.testing`"),
    (relier.testing.CeleryWorker, "`relier.testing`"),
])
def test_every_public_member_is_documented(cls: type, title: str) -> None:
    text = section(API, title)
    missing = sorted(name for name in own_public_members(cls)
                     if not mentions(text, name) and not mentions(text, f"{cls.__name__}.{name}"))
    assert not missing, f"{cls.__name__} members missing under {title}: {missing}"


@pytest.mark.parametrize(("module", "title"), [
    (relier.testing, "`relier.testing`"),
    (fastapi_integration, "`relier.integrations.fastapi`"),
])
def test_every_helper_is_documented(module: Any, title: str) -> None:
    text = section(API, title)
    names = getattr(module, "__all__", None) or [
        name for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
        and not name.startswith("_")]
    missing = [name for name in names if not mentions(text, name)]
    assert not missing, missing


@pytest.mark.parametrize(("enum", "title"), [(TaskState, "`TaskState`"),
                                             (DeadLetterReason, "`DeadLetterReason`")])
def test_enum_tables_match_the_members(enum: Any, title: str) -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| `([a-z_]+)` \|", section(API, title), flags=re.MULTILINE)
    assert sorted(rows) == sorted((member.name, member.value) for member in enum)


# --- signatures written in the API page match the code ---------------------------------------


def parameters(node: ast.FunctionDef) -> list[tuple[str, str, Any]]:
    """(name, kind, default) of a parsed def, `self` left out; defaults as literals."""
    arguments = node.args
    found: list[tuple[str, str, Any]] = []
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[Any] = [inspect.Parameter.empty] * (len(positional) - len(arguments.defaults))
    defaults += [ast.literal_eval(value) for value in arguments.defaults]
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "POSITIONAL_ONLY" if index < len(arguments.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        found.append((arg.arg, kind, default))
    if arguments.vararg:
        found.append((arguments.vararg.arg, "VAR_POSITIONAL", inspect.Parameter.empty))
    for arg, kw_default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        value = inspect.Parameter.empty if kw_default is None else ast.literal_eval(kw_default)
        found.append((arg.arg, "KEYWORD_ONLY", value))
    if arguments.kwarg:
        found.append((arguments.kwarg.arg, "VAR_KEYWORD", inspect.Parameter.empty))
    return [entry for entry in found if entry[0] not in {"self", "cls"}]


def actual(target: Callable[..., Any]) -> list[tuple[str, str, Any]]:
    result = []
    for parameter in inspect.signature(target).parameters.values():
        if parameter.name in {"self", "cls"}:
            continue
        default = parameter.default
        if isinstance(default, tuple | list):
            default = type(default)(default)
        result.append((parameter.name, parameter.kind.name, default))
    return result


def signature_stubs() -> Iterator[tuple[str, ast.FunctionDef]]:
    """Every `def` stub in the API page's python blocks, with the class it sits in."""
    for _, info, body in code_blocks(API):
        if info != "python" or "def " not in body or "import" in body:
            continue
        for node in ast.parse(body).body:
            if isinstance(node, ast.FunctionDef):
                yield "", node
            elif isinstance(node, ast.ClassDef):
                yield from ((node.name, item) for item in node.body
                            if isinstance(item, ast.FunctionDef))


def test_signature_stubs_match_the_code() -> None:
    stubs = list(signature_stubs())
    assert len(stubs) >= 5
    for owner, node in stubs:
        target = getattr(getattr(relier, owner), node.name) if owner else getattr(relier, node.name)
        assert parameters(node) == actual(target), f"{owner or 'relier'}.{node.name}"


#: Calls written in the API page's tables, checked against these objects.
TABLE_SIGNATURES: dict[str, list[tuple[str, Any]]] = {
    "`Relier`": [("task", Relier.task), ("of", Relier.of), ("idempotency_lock", Relier.idempotency_lock),
                 ("preflight_checks", Relier.preflight_checks), ("migrations_for", Relier.migrations_for)],
    "`RelierTask`": [(name, getattr(RelierTask, name)) for name in
                     ("push", "apush", "push_with", "apush_with", "delay", "apply_async",
                      "migration", "run")],
    "`TaskHandle`": [("astate", TaskHandle.astate), ("result", TaskHandle.result),
                     ("aresult", TaskHandle.aresult)],
    "`TaskContext` and `current_context`": [("set_partial", TaskContext.set_partial),
                                            ("aset_partial", TaskContext.aset_partial)],
    "`idempotency_lock` and `IdempotencyLock`": [("set_result", IdempotencyLock.set_result)],
    "`relier.testing`": [
        ("wait_until", relier.testing.wait_until),
        ("free_port", relier.testing.free_port),
        ("server_binary", relier.testing.server_binary),
        ("start_resurrector", relier.testing.start_resurrector),
        ("stop_process", relier.testing.stop_process),
    ],
    "`relier.testing` :: RedisServer": [
        ("RedisServer", relier.testing.RedisServer.__init__),
        ("start", relier.testing.RedisServer.start), ("stop", relier.testing.RedisServer.stop),
        ("kill", relier.testing.RedisServer.kill), ("pause", relier.testing.RedisServer.pause),
        ("resume", relier.testing.RedisServer.resume), ("client", relier.testing.RedisServer.client),
        ("log_tail", relier.testing.RedisServer.log_tail),
    ],
    "`relier.testing` :: CeleryWorker": [
        ("CeleryWorker", relier.testing.CeleryWorker.__init__),
        ("start", relier.testing.CeleryWorker.start), ("stop", relier.testing.CeleryWorker.stop),
        ("kill", relier.testing.CeleryWorker.kill), ("log", relier.testing.CeleryWorker.log),
        ("wait_ready", relier.testing.CeleryWorker.wait_ready),
        ("wait_exit", relier.testing.CeleryWorker.wait_exit),
    ],
    "`relier.integrations.fastapi`": [
        (name, getattr(fastapi_integration, name)) for name in
        ("install_admission_handler", "admission_rejected_handler", "retry_after_header")],
}


def table_text(title: str) -> str:
    """A section, or with "<section> :: <Name>" the one table row of that section about `Name(`."""
    heading, _, row = title.partition(" :: ")
    text = section(API, heading)
    if not row:
        return text
    rows = [line for line in text.splitlines() if line.startswith(f"| `{row}(")]
    assert len(rows) == 1, f"one row for {row} under {heading}"
    return rows[0]


@pytest.mark.parametrize("title", sorted(TABLE_SIGNATURES))
def test_calls_written_in_tables_match_the_code(title: str) -> None:
    text = table_text(title)
    for name, target in TABLE_SIGNATURES[title]:
        written = re.findall(rf"`(?:await |\w+\.)?{name}\(([^`]*)\)`", text)
        assert written, f"{name}(...) is not written out under {title}"
        for params in written:
            stub = ast.parse(f"def {name}({params}): ...").body[0]
            assert isinstance(stub, ast.FunctionDef)
            assert parameters(stub) == actual(target), f"{title}: {name}({params})"


# --- links, examples and code blocks across the docs ---------------------------------------------


def markdown_pages() -> list[Path]:
    return [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


def links(text: str) -> Iterator[str]:
    for line in lines_outside_code(text):
        without_code = re.sub(r"`[^`]*`", "", line)
        yield from re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", without_code)


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda page: page.name)
def test_links_between_pages_resolve(page: Path) -> None:
    broken = []
    for target in links(page.read_text()):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        is_missing_anchor = (destination.exists() and bool(anchor) and destination.suffix == ".md"
                             and anchor not in anchors(destination.read_text()))
        if not destination.exists() or is_missing_anchor:
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def example_source(path: str, name: str | None) -> str:
    text = (ROOT / path).read_text()
    if name is None:
        return text
    lines = text.splitlines(keepends=True)
    for node in ast.parse(text).body:
        names = ([node.name] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                 else [target.id for target in getattr(node, "targets", []) if isinstance(target, ast.Name)])
        if name in names:
            first = min([node.lineno, *(item.lineno for item in getattr(node, "decorator_list", []))])
            return "".join(lines[first - 1:node.end_lineno])
    raise AssertionError(f"{path} has no top-level {name}")


def example_quotes() -> Iterator[tuple[str, str, str | None, str]]:
    """(page, example path, name or None, the quoted block) for every example marker."""
    for page in sorted(DOCS.glob("*.md")):
        lines = page.read_text().splitlines(keepends=True)
        blocks = {index: body for index, _, body in code_blocks(page.read_text())}
        for index, line in enumerate(lines):
            match = MARKER.match(line.strip())
            if match:
                assert index + 1 in blocks, f"{page.name}:{index + 1}: marker not followed by a code block"
                yield page.name, match["path"], match["name"], blocks[index + 1]


def test_every_example_quote_is_the_file() -> None:
    quotes = list(example_quotes())
    assert quotes
    for page, path, name, block in quotes:
        assert (ROOT / path).is_file(), f"{page}: {path} does not exist"
        assert block == example_source(path, name), f"{page}: the block quoting {path} differs"


def test_every_example_is_quoted_and_tested() -> None:
    quoted = {path for _, path, _, _ in example_quotes()}
    tests = (ROOT / "tests" / "integration" / "test_examples.py").read_text()
    for example in sorted(EXAMPLES.glob("*.py")):
        assert f"examples/{example.name}" in quoted, f"{example.name} is quoted in no docs page"
        assert re.search(rf"\b{example.stem}\b", tests), f"{example.name} is not exercised"


@pytest.mark.parametrize("page", GUIDES)
def test_python_blocks_in_the_guides_parse(page: str) -> None:
    text = (DOCS / page).read_text()
    for index, info, body in code_blocks(text):
        if info == "python":
            try:
                compile(body, f"{page}:{index + 1}", "exec",
                        flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            except SyntaxError as exc:
                pytest.fail(f"{page}:{index + 1}: {exc}")
