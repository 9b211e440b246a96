"""Apache Superset for SafeStats: its own venv, started and provisioned from here (see docs/superset.md)."""
