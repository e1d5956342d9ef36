"""``python -m tests.celery_suite``: see `tests.celery_suite.runner`."""

from __future__ import annotations

import sys

from tests.celery_suite.runner import main

sys.exit(main())
