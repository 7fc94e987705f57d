"""Sign-in with Streamlit's OpenID Connect (st.login), or local mode: who is using the app, and what they see."""

from __future__ import annotations

import logging
import os

import streamlit as st

from dashboard import auth
from dashboard.auth import Actor
from dashboard.data import users_data
from dashboard.ui.text import plain

LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger(__name__)


def sign_in_configured() -> bool:
    """True when .streamlit/secrets.toml has an [auth] section (st.login's configuration)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own not-found error
        return False


def admin_emails() -> tuple[str, ...]:
    """HANDOFF_ADMINS: emails that are admins before the users table knows anyone."""
    return tuple(e.strip() for e in os.environ.get("HANDOFF_ADMINS", "").split(",") if e.strip())


def refuse_unless_local() -> None:
    """Without sign-in the app has one user with every right: it may only listen on this machine."""
    address = st.get_option("server.address") or ""
    if address in LOOPBACK:
        return
    where = address or "every network interface"
    message = (
        f"Handoff refuses to start: it is asked to listen on {where}, but no sign-in is configured, so anyone who "
        "can reach it would act with every right. Configure sign-in ([auth] in .streamlit/secrets.toml, see the "
        "README) or listen on 127.0.0.1 only."
    )
    log.error(message)
    st.error(message, icon=":material/gpp_bad:")
    st.stop()


def acting() -> Actor:
    """Who the writes of this session are made by: the actor the entry script signed in (local mode: LOCAL)."""
    return st.session_state.get("actor") or auth.LOCAL


def signed_in_name() -> str | None:
    """The signed-in user's name; None in local mode, where nobody signed in."""
    actor = acting()
    return None if actor == auth.LOCAL else actor.name


def author_field(label: str, *, key: str, max_chars: int) -> str:
    """Who writes: the signed-in user's name, shown and not editable; in local mode a field to type a name in."""
    name = signed_in_name()
    if name is None:
        return st.text_input(label, key=key, max_chars=max_chars)
    st.caption(f"{label}: **{plain(name)}** (signed in)")
    return name


def current_actor(url: str) -> Actor:
    """The signed-in user's actor, kept for acting(); stops the page with the sign-in or "no access yet" screen
    when needed."""
    actor = _signed_in(url)
    st.session_state["actor"] = actor
    return actor


def _signed_in(url: str) -> Actor:
    if not sign_in_configured():
        refuse_unless_local()
        return auth.LOCAL
    if not st.user.is_logged_in:
        st.title("Handoff")
        st.write("Sign in with your company account to open the dashboard.")
        st.button("Sign in", type="primary", on_click=st.login, key="signin", icon=":material/login:")
        st.stop()
    email = str(st.user.get("email") or st.user.get("sub") or "")
    actor = users_data.actor_for(url, email, admin_emails())
    if actor is None:
        no_access(url, email)
    return actor


def no_access(url: str, email: str) -> None:
    """A known identity without a role: say who can grant access, show no data."""
    admins = sorted(set(users_data.people(url).admins) | set(admin_emails()))
    st.title("No access yet")
    st.write(f"You are signed in as **{plain(email)}**, but nobody has given this address a role in Handoff yet.")
    if admins:  # as text, not markdown: the addresses exactly as they are, to copy
        st.write("Ask an admin to add you:")
        st.text(", ".join(admins))
    else:
        st.write("Ask whoever runs Handoff to add you (admins are set with HANDOFF_ADMINS).")
    st.button("Sign out", on_click=st.logout, key="signout_unknown", icon=":material/logout:")
    st.stop()


def sidebar_identity(actor: Actor) -> None:
    """Who is signed in, with their role, and the way out."""
    with st.sidebar:
        st.caption(f"Signed in as **{plain(actor.name)}** · {auth.ROLE_LABELS[actor.role]}")
        if sign_in_configured():
            st.button("Sign out", on_click=st.logout, key="signout", icon=":material/logout:")
