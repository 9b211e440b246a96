"""Make Superset's roles and users match the plan on stdin (JSON from `safestats superset sync`).

Runs inside Superset's venv with its app context: one role per organisation (its warehouse schemas), the
analysts' base roles, and each named user with their per-install password; users not in the plan are
deactivated (the provisioning account excepted). Prints a JSON summary.
"""
from __future__ import annotations

import json
import sys


def main() -> int:
    plan = json.load(sys.stdin)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager as sm
        from superset.extensions import db

        summary = {"roles": [], "created": [], "updated": [], "deactivated": []}
        roles = {}
        for name, schema_perms in sorted(plan["roles"].items()):
            role = sm.find_role(name) or sm.add_role(name)
            wanted = {sm.add_permission_view_menu("schema_access", perm) for perm in schema_perms}
            for pvm in list(role.permissions):
                if pvm.permission.name == "schema_access" and pvm not in wanted:
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
                user = sm.add_user(spec["username"], spec["first_name"], spec["last_name"], spec["email"],
                                   user_roles, password=spec["password"])
                if not user:
                    raise SystemExit(f"Superset refused to create user {spec['username']}")
                summary["created"].append(spec["username"])
            else:
                summary["updated"].append(spec["username"])
            user.first_name, user.last_name, user.email = spec["first_name"], spec["last_name"], spec["email"]
            user.roles = user_roles
            user.active = spec["active"]
            sm.update_user(user)
            sm.reset_password(user.id, spec["password"])
        keep = {u["username"] for u in plan["users"] if u["active"]} | {plan["provisioning_user"]}
        for user in sm.get_all_users():
            if user.username not in keep and user.active:
                user.active = False
                sm.update_user(user)
                summary["deactivated"].append(user.username)
        db.session.commit()
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
