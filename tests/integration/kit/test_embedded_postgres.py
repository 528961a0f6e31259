"""The embedded PostgreSQL: shared safely by racing processes, CLI control, clear errors,
and usable as a normal (non-root) user. Each test uses its own data directory."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from mercato.kit.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parents[3]


def _start_in_subprocess(data_dir: Path) -> subprocess.Popen[str]:
    code = (
        "import sys; from pathlib import Path; from mercato.kit.embedded_pg import EmbeddedPostgres as E;"
        "s = E(Path(sys.argv[1])); s.ensure_running(); s.ensure_database('shared'); print(s.status().pid)"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_racing_processes_share_one_server(pg_data_dir: Path) -> None:
    data_dir = pg_data_dir
    procs = [_start_in_subprocess(data_dir) for _ in range(5)]
    outputs = [p.communicate(timeout=120) for p in procs]
    server = EmbeddedPostgres(data_dir)
    try:
        assert [p.returncode for p in procs] == [0] * 5, outputs
        pids = {out.strip() for out, _ in outputs}
        assert len(pids) == 1, f"expected one server, got {pids}"
        assert server.status().pid == int(pids.pop())
        with psycopg.connect(server.url("shared"), autocommit=True) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("shared",)
    finally:
        server.stop(mode="immediate")
    assert not server.status().running


def test_cli_controls_the_server(pg_data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["MERCATO_PG_DIR"] = str(pg_data_dir)

    def mercato(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mercato", *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    try:
        assert mercato("db", "status").returncode == 1
        started = mercato("db", "start")
        assert started.returncode == 0, started.stderr
        assert "Running" in started.stderr
        url = mercato("db", "url")
        assert url.returncode == 0
        assert url.stdout.strip().startswith("postgresql://postgres@/mercato?host=")
        migrated = mercato("migrate")
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(url.stdout.strip()) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
        assert mercato("db", "status").returncode == 0
        assert mercato("db", "stop").returncode == 0
        assert mercato("db", "status").returncode == 1
    finally:
        EmbeddedPostgres(pg_data_dir).stop(mode="immediate")


def test_database_url_means_the_embedded_server_is_never_touched(tmp_path: Path) -> None:
    env = {**os.environ, "MERCATO_PG_DIR": str(tmp_path / "pg"), "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}
    result = subprocess.run([sys.executable, "-m", "mercato", "db", "start"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert "DATABASE_URL is set" in result.stderr
    assert not (tmp_path / "pg").exists()


def test_unusable_data_directory_is_a_clear_error(pg_data_dir: Path) -> None:
    data_dir = pg_data_dir
    data_dir.mkdir(parents=True)
    (data_dir / "PG_VERSION").write_text("not a cluster\n")
    with pytest.raises(EmbeddedPostgresError) as failure:
        EmbeddedPostgres(data_dir).ensure_running()
    assert "pg_ctl failed" in str(failure.value)


def _interpreter_usable_by(user: str) -> str:
    """This Python, or the system's build of the same version when ours sits under /root."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        probe = ["runuser", "-u", user, "--", candidate, "-c", "import sys; print(sys.version_info[:2])"]
        check = subprocess.run(probe, capture_output=True, text=True, check=False)
        if check.returncode == 0 and check.stdout.strip() == str(tuple(sys.version_info[:2])):
            return candidate
    raise AssertionError(f"no {version} interpreter that {user} may run")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create the unprivileged user")
def test_works_as_a_normal_user(tmp_path: Path) -> None:
    user = "mercato_dev"
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--create-home", user], check=True)
    home = Path(pwd.getpwnam(user).pw_dir)
    data_dir = home / f"pg-{tmp_path.name}"
    code = (
        "import sys; from pathlib import Path; from mercato.kit.embedded_pg import EmbeddedPostgres as E;"
        "s = E(Path(sys.argv[1])); s.ensure_running(); s.ensure_database('mine'); print(s.url('mine'));"
        "s.stop()"
    )
    python = _interpreter_usable_by(user)
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": f"{PROJECT / 'src'}:{site_packages}"}
    result = subprocess.run(["runuser", "-u", user, "--", python, "-c", code, str(data_dir)],
                            capture_output=True, text=True, timeout=120, env=env, check=False, cwd=str(home))
    try:
        assert result.returncode == 0, result.stderr
        assert "/mine?host=" in result.stdout
        assert data_dir.stat().st_uid == pwd.getpwnam(user).pw_uid, "a normal user owns its own cluster"
    finally:
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)
