"""The deployment assets under deploy/ parse, and every metric, setting, command, grace period
and Redis setting they use agrees with the code (no container engine or cluster needed)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from relier.cell_settings import parse_cells
from relier.cli import cli
from relier.config import describe, setting_names
from relier.devserver import CONSOLE_KEYSPACE_EVENTS, RedisServer
from relier.slo import ALERTS, WINDOWS
from relier.telemetry import METRICS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
METRICS_DOC = ROOT / "docs" / "metrics.md"
COMPOSE_FILES = sorted((DEPLOY / "compose").glob("*.yml"))
K8S_FILES = sorted((DEPLOY / "k8s").rglob("*.yaml"))
SYSTEMD_UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
RULE_FILES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
PROMETHEUS_CONFIGS = sorted((DEPLOY / "prometheus").glob("prometheus*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml"})
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
REDIS_CONFS = sorted(DEPLOY.rglob("*.conf"))
SHELL_SCRIPTS = sorted(DEPLOY.rglob("*.sh"))

#: Metrics the dashboard and rules may query that are not relier's, and who exports them.
EXTERNAL_METRICS = {
    "up": "Prometheus itself: whether a scrape target answered",
    "redis_key_size": "redis_exporter: length of the broker lists (queue depth)",
}
#: Grace period a worker needs beyond drain + handoff hook, as docs/shutdown.md recommends.
EXIT_MARGIN = 10.0
#: Seconds Docker waits after stop_signal when stop_grace_period is unset.
COMPOSE_DEFAULT_GRACE = 10.0
#: Seconds Kubernetes waits when terminationGracePeriodSeconds is unset.
K8S_DEFAULT_GRACE = 30.0


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def test_the_assets_exist() -> None:
    expected = [
        "deploy/Dockerfile", "deploy/compose/dev.yml", "deploy/compose/prod.yml",
        "deploy/compose/backup/redis-backup.sh", "deploy/prometheus/rules/relier-slo.yml",
        "deploy/grafana/dashboards/relier.json", "deploy/k8s/20-worker.yaml",
        "deploy/k8s/30-resurrector.yaml", "deploy/systemd/relier-worker@.service",
        "deploy/systemd/relier-resurrector.service", "docs/deployment.md",
        "deploy/compose/cells.yml", "deploy/k8s/examples/cells/20-worker-east.yaml",
        "deploy/k8s/examples/cells/20-worker-west.yaml",
        "deploy/k8s/examples/cells/30-resurrector.yaml", "deploy/k8s/examples/cells/secret.yaml",
    ]
    missing = [name for name in expected if not (ROOT / name).is_file()]
    assert not missing, f"missing deployment assets: {missing}"


# --- every file parses ------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_yaml_parses(path: Path) -> None:
    assert load_yaml(path), f"{rel(path)} holds no YAML document"


@pytest.mark.parametrize("path", JSON_FILES, ids=rel)
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=rel)
def test_shell_scripts_are_valid_and_executable(path: Path) -> None:
    result = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{rel(path)}: {result.stderr}"
    assert path.stat().st_mode & stat.S_IXUSR, f"{rel(path)} is not executable"


# --- metric names: OpenTelemetry -> Prometheus ------------------------------------------------

_UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def prometheus_base_name(name: str, unit: str) -> str:
    """The exporter's rule: non-alphanumerics become `_`, `{annotation}` units are dropped,
    known units are spelled out as a suffix."""
    base = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    unit = re.sub(r"\{[^}]*\}", "", unit)
    if unit:
        assert unit in _UNIT_SUFFIXES, f"{name}: add unit {unit!r} to _UNIT_SUFFIXES"
        suffix = _UNIT_SUFFIXES[unit]
        if not base.endswith(f"_{suffix}"):
            base = f"{base}_{suffix}"
    return base


def exported_series() -> dict[str, str]:
    """Prometheus series name -> the OpenTelemetry metric of `METRICS` it comes from."""
    series: dict[str, str] = {}
    for name, (kind, unit, _) in METRICS.items():
        base = prometheus_base_name(name, unit)
        if kind == "counter":
            names = [f"{base}_total"]
        elif kind == "histogram":
            names = [f"{base}_bucket", f"{base}_count", f"{base}_sum"]
        elif kind == "updowncounter":
            names = [base]
        else:
            raise AssertionError(f"{name}: unknown instrument kind {kind!r}")
        series.update(dict.fromkeys(names, name))
    return series


_EXPORTER_SCRIPT = """
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

from relier.telemetry import METRICS

meter = MeterProvider(metric_readers=[PrometheusMetricReader()]).get_meter("relier")
for name, (kind, unit, description) in METRICS.items():
    if kind == "counter":
        meter.create_counter(name, unit=unit, description=description).add(1)
    elif kind == "histogram":
        meter.create_histogram(name, unit=unit, description=description).record(1.0)
    else:
        meter.create_up_down_counter(name, unit=unit, description=description).add(1)
print(generate_latest(REGISTRY).decode())
"""


def test_the_name_mapping_is_the_exporters() -> None:
    if importlib.util.find_spec("opentelemetry.exporter.prometheus") is None:
        pytest.skip("opentelemetry-exporter-prometheus is not installed")
    result = subprocess.run([sys.executable, "-c", _EXPORTER_SCRIPT], capture_output=True,
                            text=True, check=True, timeout=60)
    names = {re.split(r"[{ ]", line, maxsplit=1)[0] for line in result.stdout.splitlines()
             if line.startswith("relier_")}
    assert names == set(exported_series())


# --- PromQL -----------------------------------------------------------------------------------

_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                 "group_left", "group_right", "inf", "nan", "start", "end"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, label matchers, ranges, grouping
    clauses and Grafana variables left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])[a-zA-Z_:][\w:]*", text):
        word = match.group()
        if text[match.end():].lstrip().startswith("(") or word.lower() in _PROMQL_WORDS:
            continue
        names.add(word)
    return names


def test_metric_names_reads_promql() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, task) (rate(relier_task_duration_seconds_bucket'
            '{task=~"$task"}[$__rate_interval]))) > 1e3 and on (task) relier:slo_burn_rate:5m')
    assert metric_names(expr) == {"relier_task_duration_seconds_bucket", "relier:slo_burn_rate:5m"}


def alerting_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_FILES:
        for document in load_yaml(path):
            for group in document["groups"]:
                for rule in group["rules"]:
                    yield path, rule


def recorded() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for _, rule in alerting_rules() if "record" in rule}


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of every dashboard."""
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard_panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                yield f"{rel(path)} panel {panel['title']!r}", target["expr"]
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                query = variable["query"]
                text = query["query"] if isinstance(query, dict) else query
                selector = re.fullmatch(r"label_values\((.+),\s*\w+\)", text)
                yield f"{rel(path)} variable {variable['name']}", selector[1] if selector else text


def queried_metrics() -> list[tuple[str, str]]:
    """(where, metric name) for every metric a rule or a dashboard queries."""
    found = [(f"{rel(path)} {rule.get('alert') or rule.get('record')}", name)
             for path, rule in alerting_rules() for name in metric_names(rule["expr"])]
    found += [(where, name) for where, expr in dashboard_queries() for name in metric_names(expr)]
    return found


def test_rules_and_dashboards_query_something() -> None:
    names = {name for _, name in queried_metrics()}
    assert "relier_tasks_completed_total" in names
    assert "relier:slo_burn_rate:1h" in names


def test_every_queried_metric_exists() -> None:
    series = exported_series()
    records = recorded()
    unknown = [f"{where}: {name}" for where, name in queried_metrics()
               if name not in series and name not in records and name not in EXTERNAL_METRICS]
    assert not unknown, (
        "queries name metrics that are neither Prometheus names of relier.telemetry.METRICS, "
        f"nor recorded by a rule, nor listed in EXTERNAL_METRICS: {unknown}"
    )


def test_every_queried_relier_metric_is_documented() -> None:
    documented = set(re.findall(r"^\| `(relier\.[a-z_.]+)` \|", METRICS_DOC.read_text(), re.MULTILINE))
    series = exported_series()
    undocumented = sorted({series[name] for _, name in queried_metrics()
                           if name in series and series[name] not in documented})
    assert not undocumented, f"docs/metrics.md does not list {undocumented}"


def test_dashboard_panels_use_the_provisioned_data_source() -> None:
    sources = [source for path in (DEPLOY / "grafana" / "provisioning" / "datasources").glob("*.yml")
               for doc in load_yaml(path) for source in doc["datasources"]]
    uids = {source["uid"] for source in sources}
    for path in DASHBOARDS:
        for panel in dashboard_panels(json.loads(path.read_text())["panels"]):
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{rel(path)} panel {panel['title']!r} queries nothing"
            for target in [panel, *panel["targets"]]:
                assert target["datasource"]["uid"] in uids, f"{panel['title']!r}: unknown data source"


# --- SLO rules agree with relier.slo ----------------------------------------------------------


def test_slo_rules_cover_every_window() -> None:
    records = recorded()
    missing = [name for window in WINDOWS
               for name in (f"relier:slo_error_ratio:rate{window}", f"relier:slo_burn_rate:{window}")
               if name not in records]
    assert not missing, f"missing recording rules: {missing}"


@pytest.mark.parametrize("window", list(WINDOWS))
def test_error_ratio_counts_dead_letters_against_completions(window: str) -> None:
    expr = recorded()[f"relier:slo_error_ratio:rate{window}"]
    assert metric_names(expr) == {"relier_tasks_dead_lettered_total", "relier_tasks_completed_total"}
    assert set(re.findall(r"\[([^\]]+)\]", expr)) == {window}
    assert "sum by (task)" in expr


@pytest.mark.parametrize("window", list(WINDOWS))
def test_burn_rate_uses_the_default_objective(window: str) -> None:
    expr = recorded()[f"relier:slo_burn_rate:{window}"]
    match = re.fullmatch(rf"relier:slo_error_ratio:rate{window}\s*/\s*\(1 - ([0-9.]+)\)", expr.strip())
    assert match, f"unexpected burn-rate expression: {expr}"
    assert float(match[1]) == float(describe("RELIER_SLO_OBJECTIVE").default)


@pytest.mark.parametrize(("name", "long", "short", "threshold", "severity"), ALERTS)
def test_burn_rate_alerts_match_relier_slo(name: str, long: str, short: str, threshold: float,
                                           severity: str) -> None:
    rules = [rule for _, rule in alerting_rules() if rule.get("labels", {}).get("slo_alert") == name]
    assert len(rules) == 1, f"expected one alert labelled slo_alert={name}"
    rule = rules[0]
    assert rule["labels"]["severity"] == severity
    compared = dict(re.findall(r"relier:slo_burn_rate:(\w+)\s*>\s*([0-9.]+)", rule["expr"]))
    assert {window: float(value) for window, value in compared.items()} == {
        long: threshold, short: threshold}
    assert " and " in rule["expr"]


# --- settings ---------------------------------------------------------------------------------

_SETTING = re.compile(r"\bRELIER_[A-Z0-9_]+\b")


def text_files() -> list[Path]:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    return [*files, DEPLOYMENT_DOC] if DEPLOYMENT_DOC.is_file() else files


def settings_used() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for path in text_files():
        for name in sorted(set(_SETTING.findall(path.read_text(errors="replace")))):
            used.setdefault(name, []).append(rel(path))
    return used


def test_assets_pass_settings() -> None:
    assert {"RELIER_REDIS_URL", "RELIER_DRAIN_TIMEOUT"} <= set(settings_used())


@pytest.mark.parametrize("name", sorted(settings_used()))
def test_every_setting_passed_exists(name: str) -> None:
    assert name in setting_names(), (
        f"{name} (used in {settings_used()[name]}) is not in relier.config.SETTINGS")


# --- commands ---------------------------------------------------------------------------------

_SHELL_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")"}


def shell_tokens(script: str) -> list[str]:
    """Words of a shell script, with separators as their own tokens (one line at a time)."""
    tokens: list[str] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens += [*lexer, ";"]
    return tokens


def argv(command: Any) -> list[str]:
    """A compose/Kubernetes command as words; `sh -c SCRIPT` and strings are split as shell."""
    if command is None:
        return []
    if isinstance(command, str):
        return shell_tokens(command)
    words = [str(word) for word in command]
    if words[:1] in (["CMD"], ["CMD-SHELL"]):
        return shell_tokens(words[1]) if words[0] == "CMD-SHELL" else words[1:]
    if len(words) >= 3 and words[0] in {"sh", "/bin/sh", "bash", "/bin/bash"} and words[1] == "-c":
        return shell_tokens(words[2])
    return words


def resolve(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR:-default} / ${VAR:?message} and systemd's ${VAR}, with env or defaults."""
    def substitute(match: re.Match[str]) -> str:
        name, operator, default = match[1], match[2] or "", match[3] or ""
        if env is not None and name in env:
            return env[name]
        return default if operator.endswith("-") else ""

    return re.sub(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", substitute, value)


def compose_services() -> Iterator[tuple[Path, str, dict[str, Any]]]:
    for path in COMPOSE_FILES:
        for name, service in load_yaml(path)[0]["services"].items():
            yield path, name, service


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: resolve(str(value)) for key, value in environment.items() if value is not None}


def pod_specs() -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, manifest, pod spec) for every workload in deploy/k8s."""
    for path in K8S_FILES:
        for doc in load_yaml(path):
            kind = doc.get("kind")
            if kind == "Pod":
                yield path, doc, doc["spec"]
            elif kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
                yield path, doc, doc["spec"]["template"]["spec"]
            elif kind == "CronJob":
                yield path, doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def config_maps() -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: doc.get("data", {}) for path in K8S_FILES
            for doc in load_yaml(path) if doc.get("kind") == "ConfigMap"}


def container_env(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    maps = config_maps()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps.get(source["configMapRef"]["name"], {}))
    env.update({item["name"]: item["value"] for item in container.get("env", []) if "value" in item})
    return env


def container_argv(container: dict[str, Any]) -> list[str]:
    return argv([*container.get("command", []), *container.get("args", [])])


PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def probe_argv(probe: dict[str, Any]) -> list[str]:
    return argv(probe.get("exec", {}).get("command"))


def unit_directives(path: Path) -> list[tuple[str, str]]:
    directives = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            directives.append((key.strip(), value.strip()))
    return directives


def unit_env(path: Path) -> dict[str, str]:
    """Environment= assignments, then the example EnvironmentFile values (which win)."""
    env: dict[str, str] = {}
    for key, value in unit_directives(path):
        if key == "Environment":
            env.update(item.split("=", 1) for item in shlex.split(value))
    example = DEPLOY / "systemd" / "relier.env.example"
    for raw in example.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


def unit_exec_argv(path: Path) -> list[list[str]]:
    return [shlex.split(resolve(value.lstrip("@-:+!"), unit_env(path)))
            for key, value in unit_directives(path)
            if key.startswith(("ExecStart", "ExecStop", "ExecReload"))]


def command_lines(*, with_doc: bool = True) -> list[tuple[str, list[str]]]:
    """(where, words) of every command the compose files, manifests, units and (with_doc) the
    deployment doc's shell blocks run."""
    found: list[tuple[str, list[str]]] = []
    for path, name, service in compose_services():
        for key in ("entrypoint", "command"):
            found.append((f"{rel(path)} {name}.{key}", [resolve(w) for w in argv(service.get(key))]))
        if "healthcheck" in service:
            found.append((f"{rel(path)} {name}.healthcheck",
                          argv(service["healthcheck"].get("test"))))
    for path, doc, spec in pod_specs():
        for container in spec.get("containers", []):
            where = f"{rel(path)} {doc['metadata']['name']}/{container['name']}"
            found.append((where, container_argv(container)))
            found += [(f"{where} {probe}", probe_argv(container[probe]))
                      for probe in PROBES if probe in container]
    for path in SYSTEMD_UNITS:
        found += [(rel(path), words) for words in unit_exec_argv(path)]
    if with_doc and DEPLOYMENT_DOC.is_file():
        blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", DEPLOYMENT_DOC.read_text(), re.DOTALL)
        found += [(rel(DEPLOYMENT_DOC), shell_tokens(block)) for block in blocks]
    return found


def invocations(program: str, *, with_doc: bool = True) -> list[tuple[str, list[str]]]:
    """(where, arguments) of each run of `program` in the command lines."""
    runs = []
    for where, words in command_lines(with_doc=with_doc):
        for index, word in enumerate(words):
            if word == program or word.endswith(f"/{program}"):
                arguments = []
                for following in words[index + 1:]:
                    if following in _SHELL_SEPARATORS:
                        break
                    arguments.append(following)
                runs.append((where, arguments))
    return runs


def rl_problems(arguments: list[str]) -> list[str]:
    """Why `rl ARGUMENTS` is not a command line of the click tree (empty when it is)."""
    command: click.Command = cli
    path: list[str] = []
    rest = list(arguments)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            return [f"`rl {' '.join([*path, name])}` is not a command of relier.cli"]
        command, path = sub, [*path, name]
    if isinstance(command, click.Group) and not rest:
        return [f"`rl {' '.join(path)}` names a group, not a command"]
    options = {opt for param in command.params if isinstance(param, click.Option)
               for opt in (*param.opts, *param.secondary_opts)} | {"--help", "-h"}
    return [f"`rl {' '.join(path)}` has no option {word.split('=', 1)[0]}" for word in rest
            if word.startswith("-") and word.split("=", 1)[0] not in options]


def rl_cases() -> list[Any]:
    return [pytest.param(arguments, id=f"{where}: rl {' '.join(arguments)}")
            for where, arguments in invocations("rl")]


def test_assets_run_rl_commands() -> None:
    used = {tuple(arguments[:1]) for _, arguments in invocations("rl")}
    assert {("run-resurrector",), ("health",)} <= used


@pytest.mark.parametrize("arguments", rl_cases())
def test_every_rl_command_exists(arguments: list[str]) -> None:
    problems = rl_problems(arguments)
    assert not problems, problems


def celery_cases() -> list[Any]:
    return [pytest.param(arguments, id=f"{where}: celery {' '.join(arguments)}")
            for where, arguments in invocations("celery", with_doc=False)]


@pytest.mark.parametrize("arguments", celery_cases())
def test_celery_workers_load_an_importable_app(arguments: list[str]) -> None:
    modules = []
    for index, word in enumerate(arguments):
        if word in {"-A", "--app"}:
            modules.append(arguments[index + 1].split(":")[0])
        elif word.startswith(("--app=", "--include=")):
            modules += word.split("=", 1)[1].split(",")
    assert modules, "no -A/--app"
    for module in modules:
        assert importlib.util.find_spec(module), f"{module} is not importable"


def test_rl_app_options_name_importable_modules() -> None:
    for where, arguments in invocations("rl"):
        for index, word in enumerate(arguments[:-1]):
            if word == "--app":
                module = arguments[index + 1].split(":")[0]
                assert importlib.util.find_spec(module), f"{where}: --app {module} is not importable"


# --- grace periods ----------------------------------------------------------------------------


def duration_seconds(text: str | int | float) -> float:
    """A compose or systemd duration ("35s", "1m30s", "2min", "40") in seconds."""
    if isinstance(text, int | float):
        return float(text)
    units = {"h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1, "ms": 0.001}
    parts = re.findall(r"([0-9.]+)\s*(h|min|ms|m|sec|s)?", text.strip())
    assert parts, f"not a duration: {text!r}"
    return sum(float(number) * units[unit or "s"] for number, unit in parts)


def needed_grace(env: dict[str, str]) -> float:
    drain = float(env.get("RELIER_DRAIN_TIMEOUT", describe("RELIER_DRAIN_TIMEOUT").default))
    hook = float(env.get("RELIER_HANDOFF_HOOK_TIMEOUT", describe("RELIER_HANDOFF_HOOK_TIMEOUT").default))
    return drain + hook + EXIT_MARGIN


def is_celery_worker(words: list[str]) -> bool:
    return bool(words) and words[0].endswith("celery") and "worker" in words


COMPOSE_WORKERS = [pytest.param(service, id=f"{rel(path)} {name}")
                   for path, name, service in compose_services()
                   if is_celery_worker(argv(service.get("command")))]
K8S_WORKERS = [pytest.param(spec, container, id=f"{rel(path)} {doc['metadata']['name']}")
               for path, doc, spec in pod_specs() for container in spec.get("containers", [])
               if is_celery_worker(container_argv(container))]
UNIT_WORKERS = [pytest.param(path, id=rel(path)) for path in SYSTEMD_UNITS
                if any(is_celery_worker(words) for words in unit_exec_argv(path))]


def test_every_deployment_runs_workers() -> None:
    assert len(COMPOSE_WORKERS) >= 2
    assert K8S_WORKERS
    assert UNIT_WORKERS


@pytest.mark.parametrize("service", COMPOSE_WORKERS)
def test_compose_workers_get_sigterm_and_time_to_drain(service: dict[str, Any]) -> None:
    assert isinstance(service["command"], list), "exec form, so celery is PID 1 and gets SIGTERM"
    assert service.get("stop_signal", "SIGTERM") == "SIGTERM"
    grace = duration_seconds(service.get("stop_grace_period", COMPOSE_DEFAULT_GRACE))
    assert grace >= needed_grace(compose_env(service))


@pytest.mark.parametrize(("spec", "container"), K8S_WORKERS)
def test_k8s_workers_get_time_to_drain(spec: dict[str, Any], container: dict[str, Any]) -> None:
    grace = float(spec.get("terminationGracePeriodSeconds", K8S_DEFAULT_GRACE))
    assert grace >= needed_grace(container_env(container))


@pytest.mark.parametrize("path", UNIT_WORKERS)
def test_systemd_workers_get_sigterm_and_time_to_drain(path: Path) -> None:
    directives = dict(unit_directives(path))
    assert directives.get("KillSignal", "SIGTERM") == "SIGTERM"
    assert directives.get("KillMode") == "mixed", "SIGTERM to the main process only"
    assert duration_seconds(directives["TimeoutStopSec"]) >= needed_grace(unit_env(path))


# --- health probes ----------------------------------------------------------------------------


def health_file_option(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word == "--file":
            return words[index + 1]
        if word.startswith("--file="):
            return word.split("=", 1)[1]
    return None


def is_rl(word: str) -> bool:
    return word == "rl" or word.endswith("/rl")


def is_rl_health(words: list[str]) -> bool:
    return any(is_rl(word) and words[index + 1:index + 2] == ["health"]
               for index, word in enumerate(words))


def touches_redis(words: list[str]) -> bool:
    """Any `rl` command but `health` reads Redis, and so does redis-cli."""
    return "redis-cli" in words or (any(map(is_rl, words)) and not is_rl_health(words))


@pytest.mark.parametrize("service", COMPOSE_WORKERS)
def test_compose_worker_health_reads_the_health_file(service: dict[str, Any]) -> None:
    words = argv(service["healthcheck"]["test"])
    assert is_rl_health(words)
    assert health_file_option(words) == compose_env(service)["RELIER_HEALTH_FILE"]


@pytest.mark.parametrize(("spec", "container"), K8S_WORKERS)
def test_k8s_worker_probes_read_the_health_file(spec: dict[str, Any], container: dict[str, Any]) -> None:
    health_file = container_env(container)["RELIER_HEALTH_FILE"]
    for probe in ("livenessProbe", "readinessProbe"):
        words = probe_argv(container[probe])
        assert is_rl_health(words), f"{probe} must be `rl health`"
        assert health_file_option(words) == health_file
    if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
        mounts = [mount["mountPath"] for mount in container.get("volumeMounts", [])]
        assert any(health_file.startswith(mount.rstrip("/") + "/") for mount in mounts), (
            "the health file needs a writable volume under a read-only root filesystem")


def test_no_probe_depends_on_redis() -> None:
    probes = [(f"{rel(path)} {name}", argv(service["healthcheck"]["test"]))
              for path, name, service in compose_services()
              if "healthcheck" in service and any(
                  is_rl(word) or word.endswith("celery") for word in argv(service.get("command")))]
    probes += [(f"{rel(path)} {doc['metadata']['name']} {probe}", probe_argv(container[probe]))
               for path, doc, spec in pod_specs() for container in spec.get("containers", [])
               for probe in PROBES if probe in container]
    assert probes
    redis_probes = [where for where, words in probes if touches_redis(words)]
    assert not redis_probes, f"probes that fail while Redis is away: {redis_probes}"


# --- Redis ------------------------------------------------------------------------------------


def redis_directives(path: Path) -> dict[str, str]:
    directives = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            directives[key.lower()] = value.strip().strip('"')
    return directives


def is_sentinel_conf(path: Path) -> bool:
    return any(key == "sentinel" for key in redis_directives(path))


DATA_CONFS = [path for path in REDIS_CONFS if not is_sentinel_conf(path)]


@pytest.mark.parametrize("path", DATA_CONFS, ids=rel)
def test_redis_configs_keep_every_task(path: Path) -> None:
    directives = redis_directives(path)
    assert directives.get("appendonly") == "yes"
    assert directives.get("maxmemory-policy") == "noeviction"
    wanted = inspect.signature(RedisServer).parameters["notify_keyspace_events"].default
    assert set(wanted) <= set(directives.get("notify-keyspace-events", "")), (
        f"notify-keyspace-events must include {wanted} (rl tui)")


def bind_mounts(path: Path, service: dict[str, Any]) -> list[tuple[Path, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str) and volume.startswith((".", "/")):
            source, target = volume.split(":")[:2]
            mounts.append(((path.parent / source).resolve(), target))
    return mounts


def test_compose_bind_mounts_and_builds_exist() -> None:
    for path, name, service in compose_services():
        for source, _ in bind_mounts(path, service):
            assert source.exists(), f"{rel(path)} {name}: {source} does not exist"
        build = service.get("build")
        if build:
            context = path.parent / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file()


def test_compose_redis_servers_run_the_checked_configs() -> None:
    servers = 0
    for path, name, service in compose_services():
        words = argv(service.get("command"))
        if "redis-server" not in words:
            continue
        servers += 1
        confs = [source for source, _ in bind_mounts(path, service) if source.suffix == ".conf"]
        assert confs, f"{name}: mounts no Redis config"
        assert all(conf in DATA_CONFS for conf in confs), f"{name}: runs an unchecked config"
        for flag, required in (("--appendonly", "yes"), ("--maxmemory-policy", "noeviction")):
            if flag in words:
                assert words[words.index(flag) + 1] == required, f"{name}: {flag} overridden"
        if path.name == "prod.yml":
            assert all(int(redis_directives(conf).get("min-replicas-to-write", "0")) >= 1
                       for conf in confs), f"{name}: min-replicas-to-write must be at least 1"
    assert servers >= 3


def test_prod_compose_reaches_redis_through_its_sentinels() -> None:
    path = DEPLOY / "compose" / "prod.yml"
    services = load_yaml(path)[0]["services"]
    sentinels = {name for name, service in services.items()
                 if "redis-sentinel" in argv(service.get("command"))}
    assert len(sentinels) == 3
    conf = next(source for name in sentinels for source, _ in bind_mounts(path, services[name]))
    master = next(line.split()[2] for line in conf.read_text().splitlines()
                  if line.startswith("sentinel monitor "))
    urls = {compose_env(service).get("RELIER_REDIS_URL") for service in services.values()} - {None}
    assert len(urls) == 1
    url = urls.pop()
    assert url is not None
    match = re.fullmatch(r"redis\+sentinel://(?::[^@]*@)?([^/]+)/([\w.-]+)/(\d+)", url)
    assert match, f"not a Sentinel URL: {url}"
    hosts = {host.split(":")[0] for host in match[1].split(",")}
    assert hosts == sentinels
    assert all(host.endswith(":26379") for host in match[1].split(","))
    assert match[2] == master


# --- the image --------------------------------------------------------------------------------


def test_the_image_installs_the_project_and_runs_as_the_manifests_user() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"pip install \"?\.(\[[\w,]+\])?\"?", dockerfile)
    user = re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)
    assert user
    for path, doc, spec in pod_specs():
        run_as = spec.get("securityContext", {}).get("runAsUser")
        assert run_as is None or str(run_as) == user[-1], f"{rel(path)} {doc['metadata']['name']}"


# --- promtool, where installed ----------------------------------------------------------------

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run([str(PROMTOOL), "check", "rules", *map(str, RULE_FILES)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_dashboard_queries(tmp_path: Path) -> None:
    substitutions = {"$__rate_interval": "1m", "$task": ".*", "$queue": ".*"}
    rules = []
    for index, (_, query) in enumerate(dashboard_queries()):
        expr = query
        for variable, value in substitutions.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query:{index}", "expr": expr})
    path = tmp_path / "dashboard.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("path", sorted((DEPLOY / "prometheus" / "tests").glob("*.yml")), ids=rel)
def test_promtool_rule_unit_tests(path: Path) -> None:
    result = subprocess.run([str(PROMTOOL), "test", "rules", path.name], cwd=path.parent,
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stdout + result.stderr


# --- cells: every worker serves a cell of the list it is given -----------------------------------


def test_compose_cell_workers_serve_a_cell_of_their_list() -> None:
    services = load_yaml(DEPLOY / "compose" / "cells.yml")[0]["services"]
    served = {}
    for name, service in services.items():
        if not str(service.get("image", "")).startswith("relier"):
            continue  # the cells' Redis servers
        env = compose_env(service)
        cells = parse_cells(env["RELIER_CELLS"]) if "RELIER_CELLS" in env else None
        assert cells is not None, f"{name} does not know the cells"
        if "RELIER_CELL" in env:
            assert env["RELIER_CELL"] in dict(cells), f"{name} serves a cell not in RELIER_CELLS"
            served[env["RELIER_CELL"]] = name
    assert set(served) == {"east", "west"}, served


def test_k8s_cell_workers_serve_a_cell_of_the_secret_list() -> None:
    directory = DEPLOY / "k8s" / "examples" / "cells"
    secret = next(doc for path in directory.glob("*.yaml") for doc in load_yaml(path)
                  if doc.get("kind") == "Secret")
    names = dict(parse_cells(secret["stringData"]["RELIER_CELLS"]))
    served = set()
    for path in sorted(directory.glob("20-worker-*.yaml")):
        container = load_yaml(path)[0]["spec"]["template"]["spec"]["containers"][0]
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        assert env.get("RELIER_CELL") in names, rel(path)
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]
        served.add(env["RELIER_CELL"])
    assert served == set(names)


def test_the_recommended_notifications_are_what_the_console_watches_and_no_more() -> None:
    from relier_tui.source import covers_console

    assert covers_console(CONSOLE_KEYSPACE_EVENTS)
    assert covers_console("AK")
    # each class the console reads is needed; list, stream and expiry events are not
    assert not any(covers_console(CONSOLE_KEYSPACE_EVENTS.replace(c, "")) for c in "Kghz")
    assert not set("ltx$s") & set(CONSOLE_KEYSPACE_EVENTS)
