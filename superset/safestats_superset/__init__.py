"""SafeStats inside Superset: runs in Superset's own venv, reads this install's files, imports no safestats code."""
