"""A real PostgreSQL server for tests, started from the server binaries in a temporary folder."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import sqlalchemy


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL server binary {name!r} not found: apt-get install postgresql"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away server on a loopback port; yield its admin URL; stop and delete it."""
    root = tempfile.mkdtemp(prefix="mtlnas-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        user = "postgres" if _has_user("postgres") else "nobody"
        info = pwd.getpwnam(user)
        os.chown(root, info.pw_uid, info.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    data, port = os.path.join(root, "data"), _free_port()
    run = lambda *cmd: subprocess.run(prefix + list(cmd), check=True, capture_output=True)  # noqa: E731
    try:
        run(_binary("initdb"), "-D", data, "-U", "mtlnas", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        run(
            _binary("pg_ctl"),
            "-D",
            data,
            "-o",
            options,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "start",
        )
        yield f"postgresql+psycopg://mtlnas@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, _binary("pg_ctl"), "-D", data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def fresh_database(admin_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name
