"""RELIER_CELLS and RELIER_CELL parse into cells, or are refused with the fix."""

from __future__ import annotations

import pytest

from relier.config import Settings
from relier.errors import ConfigurationError

EAST = "redis://127.0.0.1:7001/0"
WEST = "redis://127.0.0.1:7002/0"
SENTINELS = "redis+sentinel://s1:26379,s2:26379,s3:26379/north/0"


def test_no_cells_is_the_one_redis_case_unchanged() -> None:
    settings = Settings.from_env({"RELIER_REDIS_URL": EAST})
    assert settings.cells == ()
    assert settings.cell == ""
    assert settings.redis_url == EAST


def test_cells_keep_their_order_and_a_sentinel_url_keeps_its_commas() -> None:
    settings = Settings.from_env({"RELIER_CELLS": f"east={EAST}, west={WEST},north={SENTINELS}"})
    assert settings.cells == (("east", EAST), ("west", WEST), ("north", SENTINELS))


def test_a_producer_without_a_cell_calls_the_first_cell_its_own() -> None:
    settings = Settings.from_env({"RELIER_CELLS": f"east={EAST},west={WEST}"})
    assert settings.cell == ""
    assert settings.redis_url == EAST


def test_a_worker_uses_its_own_cells_redis() -> None:
    settings = Settings.from_env({"RELIER_CELLS": f"east={EAST},west={WEST}", "RELIER_CELL": "west"})
    assert settings.cell == "west"
    assert settings.redis_url == WEST


def test_redis_url_may_repeat_the_own_cells_url() -> None:
    settings = Settings.from_env({"RELIER_CELLS": f"east={EAST},west={WEST}", "RELIER_CELL": "west",
                                  "RELIER_REDIS_URL": WEST})
    assert settings.redis_url == WEST


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RELIER_CELLS": f"East={EAST}"}, r"RELIER_CELLS: cell name 'East' must be 1-32 lowercase"),
        ({"RELIER_CELLS": f"ea~st={EAST}"}, r"RELIER_CELLS: cell name 'ea~st'"),
        ({"RELIER_CELLS": f"east={EAST},east={WEST}"}, r"cell 'east' is given twice"),
        ({"RELIER_CELLS": f"east={EAST},west={EAST}"}, r"cells 'east' and 'west' name the same Redis"),
        ({"RELIER_CELLS": "east=localhost:6379"}, r"cell 'east': 'localhost:6379' is not a Redis URL"),
        ({"RELIER_CELLS": EAST}, r"is not name=url"),
        ({"RELIER_CELLS": "east="}, r"'east=' is not name=url"),
        ({"RELIER_CELL": "east"}, r"RELIER_CELL=east but RELIER_CELLS is empty: set RELIER_CELLS="),
        ({"RELIER_CELLS": f"east={EAST}", "RELIER_CELL": "west"},
         r"RELIER_CELL=west is not one of RELIER_CELLS \(east\)"),
        ({"RELIER_CELLS": f"east={EAST}", "RELIER_CELL": "We st"}, r"RELIER_CELL: cell name 'We st'"),
        ({"RELIER_CELLS": f"east={EAST},west={WEST}", "RELIER_REDIS_URL": WEST},
         r"RELIER_REDIS_URL does not name cell 'east'.*unset RELIER_REDIS_URL"),
    ],
)
def test_bad_cells_are_refused_in_one_line_naming_the_fix(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Settings.from_env(environ)
    assert "\n" not in str(caught.value)
