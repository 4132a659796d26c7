"""Optional timing logs: where a script run spends its time before the first screen shows.

Off unless ``DASHBOARD_LOG_LEVEL=DEBUG`` (environment or Streamlit secrets): then each run
logs, at DEBUG on the ``dashboard`` logger, the milliseconds from the run's start to each
milestone (``banner drawn``, ``run done``), and :mod:`dashboard.api` logs every call's time.
The browser benchmark (``benchmarks/dashboard.py``) turns it on to profile the first screen.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from dashboard.config import setting

#: The dashboard's loggers' parent.
LOGGER_NAME = "dashboard"
logger = logging.getLogger(__name__)

_run = threading.local()  # a script run happens in one thread: its start is that thread's


def configure_logging() -> None:
    """Send the dashboard's logs to stderr at ``DASHBOARD_LOG_LEVEL`` (once a process)."""
    level = (setting("DASHBOARD_LOG_LEVEL") or "").upper()
    parent = logging.getLogger(LOGGER_NAME)
    if not level or parent.handlers or level not in logging.getLevelNamesMapping():
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    parent.addHandler(handler)
    parent.setLevel(level)


def run_started() -> None:
    """Mark the start of a script run (the milestones count from here)."""
    _run.started = time.perf_counter()
    milestone("started")


def milestone(what: str) -> None:
    """Log, at DEBUG, the milliseconds since this run started (when timing is on)."""
    started = getattr(_run, "started", None)
    if started is not None and logger.isEnabledFor(logging.DEBUG):
        logger.debug("run %s at %.0f ms", what, 1000 * (time.perf_counter() - started))
