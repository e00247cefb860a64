"""Joining a Ray cluster: checked addresses, the cluster's authentication token, and failures that say what to do.

`ray start --head` turns Ray's token authentication on, while a process that joins by address keeps it off unless
told; so a token found where Ray keeps one turns it on here too. Ray itself retries a refused connection for about
twenty seconds and then names none of the likely causes: here a refusal is reported within a few seconds, saying
whether it was the token, a different Ray or Python version, or nothing of Ray's at that address.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

CONNECT_TIMEOUT_SECONDS = 3.0
JOIN_ATTEMPTS = 3  # Ray's own connection attempts, about a second each (it would make twenty)
# Ray reads its settings from variables named after them, in lower case; this one bounds ray.init's attempts.
ATTEMPTS_ENV = "RAY_gcs_server_port_wait_time_s"
ADDRESS_HELP = ("Use 'local' (start Ray on this machine), 'auto' (join the cluster this machine belongs to), "
                "'host:port' or 'ray://host:port'.")
AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
AUTH_REFUSED = ("InvalidAuthToken", "Authentication token is missing or incorrect", "UNAUTHENTICATED")
TOKEN_HELP = ("On the head machine run `ray get-auth-token` and give its output to this machine as "
              "`export RAY_AUTH_TOKEN=...` (or copy the head's ~/.ray/auth_token here), then try again.")


class ExecutorUnavailable(RuntimeError):
    """The Ray cluster cannot be reached or started; the message says what to do."""


def check_address(address: str) -> tuple[str, int] | None:
    """Validate a Ray address; for 'host:port' forms, return (host, port) to probe. Raises ValueError."""
    address = (address or "").strip()
    if address in ("local", "auto"):
        return None
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "ray") or not parsed.hostname or parsed.path not in ("", "/"):
        raise ValueError(f"{address!r} is not a Ray address. {ADDRESS_HELP}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if port is None:
        raise ValueError(f"{address!r} has no valid port. {ADDRESS_HELP}")
    return parsed.hostname, port


def probe(host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise ExecutorUnavailable within `timeout` seconds unless something accepts connections there.
    (ray.init towards nothing can block for minutes.)"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as error:
        raise ExecutorUnavailable(
            f"No Ray cluster answers at {host}:{port} ({error.strerror or error}). Start one there with "
            f"`ray start --head --port={port}`, or unset MNIST_RAY_ADDRESS to train on this machine."
        ) from error


def token_available(environ: dict[str, str] | None = None, home: Path | None = None) -> bool:
    """Whether this machine has a Ray authentication token where Ray looks for one: the RAY_AUTH_TOKEN variable,
    the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV, "").strip():
        return True
    named = environ.get(TOKEN_PATH_ENV, "").strip()
    path = Path(named).expanduser() if named else (home or Path.home()) / ".ray" / "auth_token"
    with contextlib.suppress(OSError):
        return bool(path.read_text().strip())
    return False


def use_token_if_available() -> bool:
    """Turn Ray's token authentication on for this process when a token is available and RAY_AUTH_MODE is not
    set (as `ray start` does on the head); True if it is on."""
    mode = os.environ.get(AUTH_MODE_ENV)
    if mode is None and token_available():
        os.environ[AUTH_MODE_ENV] = "token"
        return True
    return (mode or "").lower() == "token"


def explain(address: str, error: BaseException) -> str:
    """One line for a failure to join `address`: what went wrong and what to run."""
    chain, cause = [], error
    while cause is not None and len(chain) < 5:
        chain.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    text = " ".join(chain)
    if any(marker in text for marker in AUTH_REFUSED):
        have = "its token was refused" if os.environ.get(AUTH_MODE_ENV, "").lower() == "token" else \
            "this machine has no token for it"
        return f"The Ray cluster at {address} requires token authentication and {have}. {TOKEN_HELP}"
    if "Version mismatch" in text:
        detail = next((line.strip() for line in text.splitlines() if "Ray:" in line or "Python:" in line), "")
        return (f"The Ray cluster at {address} runs another version of Ray or Python than this machine"
                f"{': ' + detail if detail else ''}. Install the same versions everywhere "
                "(`pip install -r requirements.txt` with the same Python on every machine).")
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return (f"Ray could not join {address}: {first[:300]}. Check that this is the head's port "
            "(`ray start --head --port=...` prints it).")


def connect(address: str, runtime_env: dict):
    """The `ray` module joined to the cluster at `address` (or a local one for 'local'); ExecutorUnavailable with
    a message that says what to do when it cannot be."""
    target = check_address(address)
    if target is not None:
        probe(*target)
        use_token_if_available()  # before Ray is imported: its core reads the mode when it loads
    import ray

    if ray.is_initialized():
        return ray
    # The project travels with the job (Ray uploads the package, bundled MNIST included), so cluster nodes need
    # only the requirements installed, not a copy of this repository.
    options = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True,
               "runtime_env": runtime_env}
    if address == "local":
        try:
            ray.init(num_cpus=os.cpu_count() or 1, **options)
        except Exception as error:
            raise ExecutorUnavailable(f"Ray could not start on this machine: {error}") from error
        return ray
    previous = os.environ.get(ATTEMPTS_ENV)
    os.environ[ATTEMPTS_ENV] = str(JOIN_ATTEMPTS)
    try:
        ray.init(address=address, **options)
    except Exception as error:
        raise ExecutorUnavailable(explain(address, error)) from error
    finally:
        if previous is None:
            os.environ.pop(ATTEMPTS_ENV, None)
        else:
            os.environ[ATTEMPTS_ENV] = previous
    return ray
