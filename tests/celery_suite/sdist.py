"""Celery's test suite from the Celery sdist on the package registry, unpacked into a cache.

Only ``t/``, ``pyproject.toml`` (its pytest settings) and ``requirements/`` are unpacked: the
sdist's ``celery/`` source stays out, so the suite imports the installed Celery. Nothing is
vendored into this repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

#: The sdist's parts the suite needs.
_KEPT = ("t/", "pyproject.toml", "requirements/")
#: pytest plugins Celery's integration tests use (pinned in the sdist's requirements/test.txt).
#: pytest-rerunfailures is left out on purpose: a test that fails once is reported, not rerun.
SUITE_PLUGINS = ("pytest-subtests",)


def default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "relier-celery-suite"


def celery_version() -> str:
    return metadata.version("celery")


def suite_dir(cache: Path, version: str) -> Path:
    """Where the sdist's test suite is unpacked (its pytest rootdir)."""
    return cache / f"celery-{version}" / "suite"


def plugins_dir(cache: Path, version: str) -> Path:
    """Where the suite's extra pytest plugins are installed (put on ``PYTHONPATH``)."""
    return cache / f"celery-{version}" / "site"


def fetch(cache: Path, version: str) -> Path:
    """The unpacked suite of Celery `version`, downloaded with pip on first use; returns its
    rootdir."""
    root = suite_dir(cache, version)
    if (root / "t" / "integration" / "conftest.py").exists():
        return root
    download = cache / f"celery-{version}" / "sdist"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", f"celery=={version}",
                    "--no-binary", ":all:", "--no-deps", "--disable-pip-version-check",
                    "-d", str(download)], check=True)
    archive = download / f"celery-{version}.tar.gz"
    prefix = f"celery-{version}/"
    with tarfile.open(archive) as tar:
        members = [member for member in tar.getmembers()
                   if member.name.startswith(prefix)
                   and member.name[len(prefix):].startswith(_KEPT)
                   and (member.isfile() or member.isdir())]
        for member in members:
            member.name = member.name[len(prefix):]
        tar.extractall(root, members=members, filter="data")
    return root


def install_plugins(cache: Path, version: str) -> Path:
    """Install `SUITE_PLUGINS` at the versions the sdist pins into the cache; returns the
    directory to put on ``PYTHONPATH``."""
    site = plugins_dir(cache, version)
    if any(site.glob("*.dist-info")):
        return site
    pins = (suite_dir(cache, version) / "requirements" / "test.txt").read_text()
    requirements = []
    for name in SUITE_PLUGINS:
        match = re.search(rf"^{re.escape(name)}==(\S+)", pins, re.MULTILINE)
        requirements.append(f"{name}=={match.group(1)}" if match else name)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
                    "--target", str(site), *requirements], check=True)
    return site
