"""Tests for mnist_models.jobs.ray_connect: where a token is found, and the one-line reasons a join fails."""

from __future__ import annotations

import pytest

from mnist_models.jobs import ray_connect
from mnist_models.jobs.ray_connect import explain, token_available, use_token_if_available


def test_a_token_is_found_where_ray_keeps_one(tmp_path):
    home = tmp_path / "home"
    assert not token_available({}, home=home)
    assert token_available({"RAY_AUTH_TOKEN": "abc"}, home=home)
    named = tmp_path / "token.txt"
    named.write_text("abc\n")
    assert token_available({"RAY_AUTH_TOKEN_PATH": str(named)}, home=home)
    assert not token_available({"RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing")}, home=home)
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("   \n")
    assert not token_available({}, home=home), "an empty file is no token"
    (home / ".ray" / "auth_token").write_text("abc")
    assert token_available({}, home=home)


def test_token_mode_is_turned_on_only_when_unset_and_a_token_exists(monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "abc")
    assert use_token_if_available() and ray_connect.os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # said explicitly: respected
    assert not use_token_if_available() and ray_connect.os.environ["RAY_AUTH_MODE"] == "disabled"


def _chained(outer: str, inner: str) -> BaseException:
    try:
        try:
            raise RuntimeError(inner)
        except RuntimeError as cause:
            raise ConnectionError(outer) from cause
    except ConnectionError as error:
        return error


@pytest.mark.parametrize("mode, expected", [(None, "this machine has no token for it"),
                                            ("token", "its token was refused")])
def test_an_authentication_refusal_says_so_and_what_to_run(monkeypatch, mode, expected):
    if mode is None:
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    # Ray 2.60's own words, deep in the chain under "Failed to connect to Ray cluster at ...".
    error = _chained("Failed to connect to Ray cluster at 10.0.0.5:6379",
                     "Failed to connect to GCS. Last connection error: Unauthenticated: RPC error: InvalidAuthToken: "
                     "Authentication token is missing or incorrect.")
    message = explain("head:6379", error)
    assert message.startswith("The Ray cluster at head:6379 requires token authentication and " + expected)
    assert "ray get-auth-token" in message and "RAY_AUTH_TOKEN" in message and "\n" not in message


def test_a_version_mismatch_names_both_versions_and_the_fix():
    error = RuntimeError("Version mismatch: The cluster was started with:\n    Ray: 2.59.0\n    Python: 3.11.7\n"
                         "This process on node 127.0.0.1 was started with:\n    Ray: 2.60.0\n    Python: 3.11.7\n")
    message = explain("head:6379", error)
    assert "another version of Ray or Python" in message and "Ray: 2.59.0" in message
    assert "pip install -r requirements.txt" in message and "\n" not in message


def test_anything_else_is_one_line_that_points_at_the_port():
    message = explain("head:6379", _chained("Failed to connect to Ray cluster at head:6379", "Connection reset"))
    assert message.startswith("Ray could not join head:6379: Failed to connect") and "ray start --head" in message
