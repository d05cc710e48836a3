"""Real database servers for tests (PostgreSQL, MariaDB), started in a temporary folder.

Each runs from the distribution's server binaries on a loopback port, as an unprivileged user
when the tests run as root (both servers refuse root), and is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import sqlalchemy


def _binary(name: str, package: str = "postgresql") -> str:
    # Debian keeps PostgreSQL's server binaries off PATH, and /usr/sbin is off a user's PATH.
    candidates = [shutil.which(name), f"/usr/sbin/{name}"]
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = next((c for c in candidates if c and os.path.exists(c)), None)
    if found is None:
        raise RuntimeError(f"database server binary {name!r} not found: apt-get install {package}")
    return found


def _unprivileged(root: str, preferred: str) -> list[str]:
    """The command prefix that runs a server as a non-root owner of ``root``."""
    if os.geteuid() != 0:
        return []
    user = preferred if _has_user(preferred) else "nobody"
    info = pwd.getpwnam(user)
    os.chown(root, info.pw_uid, info.pw_gid)
    return ["runuser", "-u", user, "--"]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away server on a loopback port; yield its admin URL; stop and delete it."""
    root = tempfile.mkdtemp(prefix="mtlnas-pg-")
    prefix = _unprivileged(root, "postgres")
    data, port = os.path.join(root, "data"), free_port()
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


@contextlib.contextmanager
def mariadb_server() -> Iterator[str]:
    """Start a throw-away MariaDB (MySQL) server; yield its admin URL; stop and delete it."""
    root = tempfile.mkdtemp(prefix="mtlnas-my-")
    prefix = _unprivileged(root, "mysql")
    data, port = os.path.join(root, "data"), free_port()
    install = ["--no-defaults", f"--datadir={data}", "--skip-test-db"]
    subprocess.run(
        [*prefix, _binary("mariadb-install-db", "mariadb-server"), *install],
        check=True,
        capture_output=True,
    )
    # No grant tables: anyone on the loopback port is root, which a throw-away server allows.
    options = [
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={root}/sock",
        f"--pid-file={root}/pid",
        "--skip-grant-tables",
        "--max-connections=300",
    ]
    server = subprocess.Popen(
        [*prefix, _binary("mariadbd", "mariadb-server"), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"mysql+pymysql://root@127.0.0.1:{port}/mysql"
    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        deadline = time.monotonic() + 60
        while True:  # ready once it answers
            try:
                with engine.connect():
                    break
            except sqlalchemy.exc.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()  # runuser passes SIGTERM on: a clean shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
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
