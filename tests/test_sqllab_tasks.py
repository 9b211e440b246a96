"""Superset as this project makes it has SQL Lab's Celery task bound before any request (safestats_superset.
sqllab_tasks): Celery binds tasks on first use and marks the app finalized before it has bound them, so two first
SQL Lab queries in a new web worker could race (an analyst got "'NoneType' object has no attribute 'push'")."""
from __future__ import annotations

import subprocess

SCRIPT = """
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import sql_lab
    from superset.extensions import celery_app
    print(celery_app.finalized, sql_lab.get_sql_results.request_stack is not None)
"""


def test_sql_labs_task_is_bound_when_the_app_is_made(cfg, superset):
    from safestats.superset import server

    done = subprocess.run([str(server.paths(cfg).venv_bin / "python"), "-c", SCRIPT], env=server.environment(cfg),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["True", "True"], done.stdout + done.stderr[-3000:]
