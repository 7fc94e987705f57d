"""Who may do what: roles, actions, the rights table and the check every write makes (rights)."""

from dashboard.auth.rights import ACTION_LABELS, LOCAL, RIGHTS, ROLE_LABELS, Action, Actor, Role, check, signed_name

__all__ = ["ACTION_LABELS", "LOCAL", "RIGHTS", "ROLE_LABELS", "Action", "Actor", "Role", "check", "signed_name"]
