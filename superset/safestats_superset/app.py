"""Every control SafeStats adds to Superset's Flask app, installed in one place (FLASK_APP_MUTATOR).

Each control has a name so a test can start a server without it and show the attack it stops succeeding.
"""
from __future__ import annotations

from flask import Flask, request, session
from flask_login import user_logged_in, user_logged_out

from safestats_superset import (
    audit,
    audit_hooks,
    audit_report,
    dictionary,
    gate,
    home,
    legacy,
    objects,
    onboarding,
    org_admin,
    outputs_page,
    plain_errors,
    postprocessing,
    request_guard,
    sanitise,
    saved_queries,
    second_factor,
    sessions,
    sqllab_limit,
    sqllab_tasks,
)

CONTROLS = ("request_guard", "session_standing", "second_factor", "conditions_gate", "legacy_cache_by_user",
            "organisation_objects", "markdown_sanitiser", "object_audit", "plain_errors")


def mutate_app(app: Flask, without: frozenset[str] | set[str] = frozenset()) -> None:
    unknown = set(without) - set(CONTROLS)
    if unknown:
        raise ValueError(f"unknown controls {sorted(unknown)}: the controls are {CONTROLS}")

    def on(name: str) -> bool:
        return name not in without

    app.add_url_rule("/terms/", "safestats_terms", gate.terms_page, methods=["GET", "POST"])
    app.add_url_rule(home.HOME, "safestats_home", home.home_page)
    app.add_url_rule(dictionary.DICTIONARY, "safestats_dictionary", dictionary.dictionary_page)
    app.add_url_rule(second_factor.PATH, "safestats_second_factor", second_factor.second_factor_page,
                     methods=["GET", "POST"])
    app.add_url_rule("/invite/<token>/", "safestats_invite", onboarding.invite_page, methods=["GET", "POST"])
    app.add_url_rule(org_admin.USERS, "safestats_org_users", org_admin.users_page, methods=["GET", "POST"])
    app.add_url_rule(org_admin.USERS + "<username>/", "safestats_org_user", org_admin.user_page)
    app.add_url_rule(org_admin.USERS + "<username>/<action>", "safestats_org_user_action", org_admin.user_page,
                     methods=["POST"])
    app.add_url_rule(audit_report.PATH, "safestats_audit_report", audit_report.report_page)
    app.add_url_rule(outputs_page.PATH, "safestats_outputs", outputs_page.outputs_page)
    app.add_url_rule(outputs_page.FILE + "<path:relpath>", "safestats_output_file", outputs_page.download)
    # Order matters: where a request may come from, then whether its session still stands, then the second
    # factor, then the terms.
    if on("request_guard"):
        app.before_request(request_guard.refuse)
    if on("session_standing"):
        app.before_request(sessions.check)
    if on("second_factor"):
        app.before_request(second_factor.gate)
    if on("conditions_gate"):
        app.before_request(gate.gate)
    app.before_request(home.land)
    sqllab_limit.install()
    sqllab_tasks.install()
    postprocessing.install()
    if on("markdown_sanitiser"):
        sanitise.install()
    app.after_request(audit_hooks.audit_response if on("object_audit") else audit_hooks.audit_data_only)
    if on("plain_errors"):
        app.after_request(plain_errors.plain)
    if on("legacy_cache_by_user"):
        legacy.key_cache_by_user()
    if on("organisation_objects"):
        objects.install(app)
        saved_queries.share_within_organisation()

    @user_logged_in.connect_via(app)
    def _logged_in(sender, user, **extra):
        sessions.logged_in(user)
        second_factor.logged_in()                # and the second factor, and the conditions page, again
        session.pop(gate.TERMS_ACCEPTED, None)
        audit.try_write("login", user.username, "superset", {"method": "form", "remote_addr": request.remote_addr})

    @user_logged_out.connect_via(app)
    def _logged_out(sender, user, **extra):
        audit.try_write("logout", getattr(user, "username", None), "superset")
        if on("session_standing"):
            sessions.logged_out(user)
        session.pop(gate.TERMS_ACCEPTED, None)
