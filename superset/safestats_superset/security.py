"""Superset's security manager: failed logins audited under the account's own name (flask_login's signals
only see successes), and Superset objects kept inside the organisation that made them (see objects.py)."""
from __future__ import annotations

from flask import request
from superset.security import SupersetSecurityManager

from safestats_superset import audit, runtime, sessions


def refusal(what: str) -> str:
    """A refusal in the analyst's terms: what their agreement does not give them, where to see what it does, and
    whom to ask (their organisation's administrators), with no Superset internals."""
    from flask_login import current_user

    user = runtime.named_users().get(getattr(current_user, "username", None) or "") or {}
    admins = ", ".join(user.get("administrators") or []) or "your organisation's SafeStats administrator"
    return (f"Your organisation's Data Sharing Agreement does not give you {what}. Your home page (/home/) lists "
            f"what it covers; to ask for more, contact {admins}.")


class SafeStatsSecurityManager(SupersetSecurityManager):
    def auth_user_db(self, username, password):
        user = super().auth_user_db(username, password)
        if user is None:
            known = self.find_user(username=username)
            reason = ("unknown user" if known is None else "account deactivated" if not known.is_active
                      else "wrong password")
            name = known.username if known is not None else username
            audit.try_write("login_failed", name, "superset",
                            {"reason": reason, "typed": username if name != username else None,
                             "remote_addr": request.remote_addr if request else None})
            return None
        reason = sessions.standing(user.username, fresh=True)
        if reason is not None:    # expired or withdrawn, though Superset's own table may not say so yet
            audit.try_write("login_failed", user.username, "superset",
                            {"reason": reason, "remote_addr": request.remote_addr if request else None})
            return None
        return user

    def get_table_access_error_msg(self, tables) -> str:
        return refusal(", ".join(sorted(f"{t.schema}.{t.table}" if t.schema else t.table for t in tables)))

    @staticmethod
    def get_datasource_access_error_msg(datasource) -> str:
        return refusal(f"the dataset {getattr(datasource, 'name', None) or 'asked for'}")

    def raise_for_access(self, *args, **kwargs):
        """Superset checks a SQL Lab query by the tables it reads, never by who ran it: a query (its SQL, its
        results, its export) belongs to the user who ran it, and charts read datasets only."""
        from superset.errors import ErrorLevel, SupersetError, SupersetErrorType
        from superset.exceptions import SupersetSecurityException
        from superset.utils.core import get_user_id

        def refuse(message: str):
            raise SupersetSecurityException(SupersetError(
                error_type=SupersetErrorType.QUERY_SECURITY_ACCESS_ERROR, message=message, level=ErrorLevel.ERROR))

        if not self.is_admin():
            query = kwargs.get("query")
            if query is not None and hasattr(query, "sql") and getattr(query, "user_id", None) != get_user_id():
                refuse("This query was run by someone else.")
            context = kwargs.get("query_context")
            kind = getattr(getattr(context, "datasource", None), "type", "table") if context is not None else None
            datasource = kwargs.get("datasource")
            if kind not in (None, "table") or getattr(datasource, "type", "table") != "table":
                refuse("Charts and samples read datasets only: save the query as a dataset first.")
        return super().raise_for_access(*args, **kwargs)
