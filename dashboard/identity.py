"""Who is this browser: an identity that survives a page refresh (a cookie), the owner key made from it (the one
place it is hashed: the job queue, the run store, My digits and the Lab take the key), and the teacher's unlock."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

import streamlit as st

COOKIE = "mnist_identity"
TEACHER_ENV = "MNIST_TEACHER_PASSWORD"
_VALID = re.compile(r"[0-9a-f]{32}")
# Sets the identity cookie for a year, only for this site and never sent with requests from other sites.
_SET_COOKIE_JS = """
export default function({ data }) {
    if (data && /^[0-9a-f]{32}$/.test(data.identity)
            && !document.cookie.split("; ").some((item) => item.startsWith("mnist_identity="))) {
        document.cookie = `mnist_identity=${data.identity}; path=/; max-age=31536000; SameSite=Strict`;
    }
}
"""
_cookie_setter = st.components.v2.component("mnist_identity_cookie", js=_SET_COOKIE_JS)


def identity() -> str:
    """This browser's identity: from its cookie when it has one, else a new one that the cookie keeps.

    It lives in the session state too, so that a session whose browser refuses cookies keeps one identity
    for as long as it is open (its jobs are still its own until the page is reloaded).
    """
    if "identity" not in st.session_state:
        st.session_state["identity"] = _cookie() or secrets.token_hex(16)
    return st.session_state["identity"]


def owner_of(identity: str) -> str:
    """What the server keeps of an identity: a hash, so that the identity itself never leaves this module."""
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


def owner() -> str:
    """This browser's owner key: what its runs, jobs and digits are filed under."""
    return owner_of(identity())


def remember_identity() -> None:
    """Once per script run (the entry script's job): have the browser keep its identity in a cookie."""
    value = identity()
    if _cookie() != value:
        with st.sidebar:
            _cookie_setter(data={"identity": value}, key="identity_cookie")


def _cookie() -> str | None:
    try:
        cookie = st.context.cookies.get(COOKIE)
    except (AttributeError, RuntimeError):  # no browser behind this session (a test harness)
        return None
    return cookie if isinstance(cookie, str) and _VALID.fullmatch(cookie) else None


def teacher_password() -> str | None:
    """The teacher password: `teacher_password` in Streamlit's secrets, else the MNIST_TEACHER_PASSWORD variable."""
    try:
        secret = st.secrets.get("teacher_password")
    except (FileNotFoundError, KeyError, ValueError, OSError):
        secret = None  # no secrets.toml at all: fine, the variable may still be set
    value = secret or os.environ.get(TEACHER_ENV)
    return str(value) if value else None


def is_teacher() -> bool:
    return bool(st.session_state.get("teacher"))


def teacher_ui() -> None:
    """A sidebar box that unlocks stopping anybody's job, for the teacher who knows the password."""
    expected = teacher_password()
    if expected is None:
        return
    with st.sidebar.expander("Teacher", icon=":material/school:", expanded=False):
        if is_teacher():
            st.caption("Unlocked: you can stop or cancel any training on this server.")
            if st.button("Lock", key="teacher_lock"):
                st.session_state["teacher"] = False
                st.rerun()
            return
        given = st.text_input("Teacher password", type="password", key="teacher_password_input")
        if given:
            if hmac.compare_digest(given.encode(), expected.encode()):
                st.session_state["teacher"] = True
                st.session_state.pop("teacher_password_input", None)
                st.rerun()
            else:
                st.error("That is not the teacher password.")
