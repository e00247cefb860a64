"""Who is this browser: an identity that survives a page refresh (a cookie), the owner key made from it (the one
place it is hashed: the job queue, the run store, My digits and the Lab take the key), and the teacher's unlock."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time

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


class GuessThrottle:
    """Wrong teacher-password guesses, for the whole server (a fresh browser identity costs a learner nothing).

    A few wrong guesses are free; after that each one makes the next wait twice as long, up to a minute, so a
    script cannot try more than about sixty passwords an hour while the teacher waits at most a minute.
    """

    FREE_GUESSES = 5
    MAX_WAIT_SECONDS = 60.0

    def __init__(self):
        self._lock = threading.Lock()
        self._failures = 0
        self._blocked_until = 0.0

    def wait_seconds(self, now: float | None = None) -> float:
        """How long until the next guess is heard (0 when it may be tried now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return max(0.0, self._blocked_until - now)

    def failed(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._failures += 1
            extra = self._failures - self.FREE_GUESSES
            if extra > 0:
                self._blocked_until = now + min(self.MAX_WAIT_SECONDS, 2.0 ** (extra - 1))

    def succeeded(self) -> None:
        with self._lock:
            self._failures, self._blocked_until = 0, 0.0


@st.cache_resource(show_spinner=False)
def guess_throttle() -> GuessThrottle:
    """The server's one throttle of teacher-password guesses."""
    return GuessThrottle()


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
            throttle = guess_throttle()
            wait = throttle.wait_seconds()
            if wait > 0:
                st.error(f"Too many wrong passwords on this server: wait {wait:.0f} s, then try again.")
            elif hmac.compare_digest(given.encode(), expected.encode()):
                throttle.succeeded()
                st.session_state["teacher"] = True
                st.session_state.pop("teacher_password_input", None)
                st.rerun()
            else:
                throttle.failed()
                st.error("That is not the teacher password.")
