"""A deliberately weakened Superset for the attack suite: the real configuration with the controls named in
SAFESTATS_TEST_WEAKENED removed (and stock Superset's cookie sessions, CSRF exemptions and CSP), so each
attack can be shown to succeed where the control is missing. Never used outside tests/security."""
import functools
import os
import sys
from pathlib import Path

sys.path.insert(0, os.environ["SAFESTATS_SUPERSET_CONFIG_DIR"])

from superset_config import *  # noqa: E402,F401,F403
from superset_config import FEATURE_FLAGS  # noqa: E402

from safestats_superset.app import CONTROLS, mutate_app  # noqa: E402

WEAKENED = frozenset(os.environ.get("SAFESTATS_TEST_WEAKENED", ",".join(CONTROLS)).split(","))
FLASK_APP_MUTATOR = functools.partial(mutate_app, without=WEAKENED)
SESSION_SERVER_SIDE = False
WTF_CSRF_EXEMPT_LIST = ["superset.charts.data.api.data", "superset.dashboards.api.cache_dashboard_screenshot",
                        "superset.views.core.explore_json", "superset.views.core.log",
                        "superset.views.datasource.views.samples"]
EXTRA_RELATED_QUERY_FILTERS = {}
CUSTOM_SECURITY_MANAGER = None
FEATURE_FLAGS = dict(FEATURE_FLAGS, SQLLAB_BACKEND_PERSISTENCE=True)
DATA_CACHE_CONFIG = dict(DATA_CACHE_CONFIG)  # noqa: F405
DATA_CACHE_CONFIG["CACHE_DIR"] = str(Path(DATA_CACHE_CONFIG["CACHE_DIR"]).parent / "weakened-data")
