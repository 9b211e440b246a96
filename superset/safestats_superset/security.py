"""Superset's security manager, with failed logins audited (flask_login signals only see successes)."""
from __future__ import annotations

from flask import request
from superset.security import SupersetSecurityManager

from safestats_superset import audit


class SafeStatsSecurityManager(SupersetSecurityManager):
    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is None:
            known = self.find_user(username=username)
            reason = ("unknown user" if known is None else "account deactivated" if not known.is_active
                      else "wrong password")
            audit.try_write("login_failed", username, "superset",
                            {"reason": reason, "remote_addr": request.remote_addr if request else None})
        return user
