"""Users: who may sign in, with which role; reps are linked to their rep record, managers to a team."""

from datetime import datetime

import streamlit as st

from dashboard import auth
from dashboard.data import users_data
from dashboard.refusals import Refused
from dashboard.ui import components, signin
from dashboard.ui.text import plain

settings, _ = components.page_context()
url = settings.database_url
st.title("Users")
st.caption(
    "Viewing the analytics is open to every known user. Reps decide and reassign only leads in their own queue; "
    "sales managers do the same within their team; RevOps / marketing ops save and apply scoring models, run imports "
    'and reassign misrouted leads anywhere; admins can do everything. An unknown email that signs in sees a "no '
    'access yet" page.'
)
people = users_data.people(url)
rep_names = people.rep_names
st.dataframe(people.table, hide_index=True, width="stretch", column_config=components.USER_COLUMNS)
components.table_downloads(people.table, file_stem="users", columns=components.USER_COLUMNS)

with st.form("users_form", border=True):
    st.markdown("**Add a user, or change one (by email)**")
    email_col, name_col = st.columns(2)
    email = email_col.text_input("Email they sign in with", key="users_email")
    name = name_col.text_input("Name", key="users_name")
    role_col, rep_col, team_col = st.columns(3)
    role = role_col.selectbox("Role", options=list(auth.Role), format_func=auth.ROLE_LABELS.get, key="users_role")
    rep = rep_col.selectbox(
        "Rep record (reps)", options=[None, *rep_names], format_func=lambda i: rep_names.get(i, "—"), key="users_rep"
    )
    team = team_col.selectbox(
        "Team (sales managers)", options=[None, *people.teams], format_func=lambda t: t or "—", key="users_team"
    )
    active = st.checkbox("Active", value=True, key="users_active")
    if st.form_submit_button("Save user", type="primary", icon=":material/person_add:"):
        try:
            users_data.save_user(
                url=url,
                email=email,
                name=name,
                role=role,
                rep_id=rep,
                team=team,
                active=active,
                now=datetime.now(),
                actor=signin.acting(),
            )
        except Refused as exc:
            st.error(plain(exc))
        else:
            st.toast(f"Saved {plain(email.strip())}.", icon=":material/check:")
            st.rerun()
