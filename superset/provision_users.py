"""Make Superset's roles and users match the plan on stdin (JSON from `safestats superset sync`).

Runs inside Superset's venv with its app context: one role per organisation (the datasets its database role
reads; the audit report's role, its schema), the analysts' base roles, and each named user with their
per-install password; users not in the plan are deactivated (the provisioning account excepted). Each
dashboard made for an organisation is shown to its role only, its native filters told which charts they apply to;
the platform's dashboards and charts the plan no longer makes are deleted (analysts' own are kept). Prints a
JSON summary.
"""
from __future__ import annotations

import json
import secrets
import sys


def main() -> int:
    plan = json.load(sys.stdin)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager as sm
        from superset.extensions import db

        summary = {"roles": [], "created": [], "updated": [], "deactivated": [], "dashboards": 0,
                   "retired": []}
        roles = {}
        for name, access in sorted(plan["roles"].items()):
            role = sm.find_role(name) or sm.add_role(name)
            wanted = {sm.add_permission_view_menu("schema_access", perm) for perm in access["schemas"]}
            wanted |= {sm.add_permission_view_menu("datasource_access", perm)
                       for perm in dataset_perms(db, access["datasets"])}
            for pvm in list(role.permissions):
                if pvm.permission.name in ("schema_access", "datasource_access") and pvm not in wanted:
                    sm.del_permission_role(role, pvm)
            for pvm in wanted:
                if pvm not in role.permissions:
                    sm.add_permission_role(role, pvm)
            roles[name] = role
            summary["roles"].append(name)
        for spec in plan["users"]:
            user_roles = [roles.get(r) or sm.find_role(r) for r in spec["roles"]]
            missing = [r for r, found in zip(spec["roles"], user_roles) if found is None]
            if missing:
                raise SystemExit(f"Superset has no role(s) {missing}: has `superset init` run?")
            user = sm.find_user(username=spec["username"])
            if user is None:
                # a person onboarded through an invitation has a Superset account already; should it be lost,
                # a password no one knows stands until their administrator sends a new link
                user = sm.add_user(spec["username"], spec["first_name"], spec["last_name"], spec["email"],
                                   user_roles, password=spec["password"] or secrets.token_urlsafe(24))
                if not user:
                    raise SystemExit(f"Superset refused to create user {spec['username']}")
                summary["created"].append(spec["username"])
            else:
                summary["updated"].append(spec["username"])
            user.first_name, user.last_name, user.email = spec["first_name"], spec["last_name"], spec["email"]
            user.roles = user_roles
            user.active = spec["active"]
            sm.update_user(user)
            if spec["password"] is not None:
                sm.reset_password(user.id, spec["password"])
        keep = {u["username"] for u in plan["users"] if u["active"]} | {plan["provisioning_user"]}
        for user in sm.get_all_users():
            if user.username not in keep and user.active:
                user.active = False
                sm.update_user(user)
                summary["deactivated"].append(user.username)
        platform = {None} | {u.id for u in [sm.find_user(username=plan["provisioning_user"])] if u}
        summary["dashboards"], summary["retired"] = show_dashboards(db, roles, plan, platform)
        db.session.commit()
        print(json.dumps(summary))
    return 0


def dataset_perms(db, qualified_names: list[str]) -> list[str]:
    """Superset's permission name of each dataset (it carries the dataset's id, so it is read here)."""
    from superset.connectors.sqla.models import SqlaTable

    perms = []
    for qualified in qualified_names:
        schema, _, name = qualified.partition(".")
        perms += [t.perm for t in db.session.query(SqlaTable).filter_by(schema=schema, table_name=name)]
    return perms


def scope_native_filters(dashboard) -> None:
    """Each native filter's `chartsInScope` (which the front end applies it by) from its scope: the import maps
    the charts a scope excludes to their new ids but does not write the charts it includes."""
    metadata = json.loads(dashboard.json_metadata or "{}")
    filters = metadata.get("native_filter_configuration") or []
    if not filters:
        return
    charts = [chart.id for chart in dashboard.slices]
    for native_filter in filters:
        excluded = set(native_filter.get("scope", {}).get("excluded", []))
        native_filter["chartsInScope"] = [c for c in charts if c not in excluded]
    dashboard.json_metadata = json.dumps(metadata)


def show_dashboards(db, roles: dict, plan: dict, platform: set) -> tuple[int, list[str]]:
    """Each planned dashboard shown to its roles alone; the platform's other dashboards and charts deleted."""
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    retired = []
    for dashboard in db.session.query(Dashboard).all():
        if dashboard.slug in plan["dashboards"]:
            dashboard.roles = [roles[r] for r in plan["dashboards"][dashboard.slug]]
            scope_native_filters(dashboard)
        elif dashboard.created_by_fk in platform:
            retired.append(dashboard.slug or str(dashboard.id))
            db.session.delete(dashboard)
    charts = set(plan["charts"])
    for chart in db.session.query(Slice).all():
        if str(chart.uuid) not in charts and chart.created_by_fk in platform:
            db.session.delete(chart)
    return len(plan["dashboards"]), sorted(retired)


if __name__ == "__main__":
    sys.exit(main())
