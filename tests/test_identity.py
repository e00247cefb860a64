"""Tests for dashboard.identity: the owner key is the identity hashed, the one place it is."""

from __future__ import annotations

from dashboard.identity import owner_of


def test_owner_key_hides_the_identity():
    assert owner_of("abc") == owner_of("abc") != owner_of("abd")
    assert "abc" not in owner_of("abc")
    assert len(owner_of("abc")) == 24 and int(owner_of("abc"), 16) >= 0


def test_wrong_teacher_passwords_make_the_next_guess_wait_longer():
    from dashboard.identity import GuessThrottle

    throttle = GuessThrottle()
    for _ in range(GuessThrottle.FREE_GUESSES):
        assert throttle.wait_seconds(now=100.0) == 0
        throttle.failed(now=100.0)
    assert throttle.wait_seconds(now=100.0) == 0, "the first few guesses are free"
    waits = []
    for guess in range(10):
        now = 1000.0 * (guess + 1)
        throttle.failed(now=now)
        waits.append(throttle.wait_seconds(now=now))
    assert waits[:4] == [1, 2, 4, 8] and waits[-1] == GuessThrottle.MAX_WAIT_SECONDS
    assert throttle.wait_seconds(now=10_000.0 + GuessThrottle.MAX_WAIT_SECONDS) == 0
    throttle.succeeded()
    throttle.failed(now=20_000.0)
    assert throttle.wait_seconds(now=20_000.0) == 0, "a right password starts the count again"


def test_the_teacher_box_refuses_guesses_while_the_server_waits(tmp_path, monkeypatch):
    from pathlib import Path

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MNIST_TEACHER_PASSWORD", "sesame")
    st.cache_resource.clear()
    app = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
    guesser = AppTest.from_file(app, default_timeout=60).switch_page("app_pages/runs.py").run()
    for guess in range(7):
        guesser.text_input(key="teacher_password_input").set_value(f"guess {guess}").run()
    assert any("Too many wrong passwords" in error.value for error in guesser.error)
    # Another browser, with the right password, waits too (a private window would not get round it)...
    teacher = AppTest.from_file(app, default_timeout=60).switch_page("app_pages/runs.py").run()
    teacher.text_input(key="teacher_password_input").set_value("sesame").run()
    assert "teacher" not in teacher.session_state or not teacher.session_state["teacher"]
    assert any("Too many wrong passwords" in error.value for error in teacher.error)
    st.cache_resource.clear()
