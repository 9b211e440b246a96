"""SQL Lab runs a query by calling Superset's Celery task in the web worker's own thread (no Celery workers here),
and Celery binds its tasks on first use: `finalize` marks the app finalized before it has bound them, so a second
thread's first SQL Lab query in a new gunicorn worker can call a task whose request stack is not yet there
("'NoneType' object has no attribute 'push'", a 400 to the analyst; seen once under eight concurrent analysts).
Binding them when the app is made, before any request, leaves no first use to race."""
from __future__ import annotations


def install() -> None:
    from superset import sql_lab
    from superset.extensions import celery_app

    celery_app.finalize()
    if sql_lab.get_sql_results.request_stack is None:
        raise RuntimeError("Superset's SQL Lab task is not bound to Celery after finalize")
