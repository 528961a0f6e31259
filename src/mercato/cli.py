"""`mercato` command line: serve, worker, run, migrate, db, seed, createsuperuser, import, export, outbox."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mercato.kit.db import Database, embedded_server, resolve_database_url
from mercato.kit.embedded_pg import EmbeddedPostgresError
from mercato.kit.outbox import EventStatus
from mercato.kit.settings import PROJECT_ROOT, ConfigurationError, Settings, get_settings

app = typer.Typer(help="Mercato: a headless eCommerce backend.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The embedded PostgreSQL server (ignored when DATABASE_URL is set).",
                     no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and re-drive the event outbox.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(outbox_app, name="outbox")
inventory_app = typer.Typer(help="Stock and its ledger.", no_args_is_help=True)
app.add_typer(inventory_app, name="inventory")

console = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None


def _database_url(settings: Settings) -> str:
    try:
        return resolve_database_url(settings)
    except EmbeddedPostgresError as exc:
        console.print(f"[red]Could not start the embedded PostgreSQL:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one committed transaction."""

    async def main() -> T:
        db = Database.connect(_database_url(settings), settings, pool_size=1, max_overflow=0)
        try:
            async with db.sessionmaker() as session, session.begin():
                return await work(session)
        finally:
            await db.dispose()

    return asyncio.run(main())


# ---- serving ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [MERCATO_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [MERCATO_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="Server processes [MERCATO_WEB_WORKERS]")] = None,
    migrate_first: Annotated[bool, typer.Option("--migrate", help="Apply migrations before serving")] = False,
) -> None:
    """Serve the HTTP API with uvicorn (uvloop + httptools)."""
    import uvicorn

    settings = _settings()
    url = _database_url(settings)
    if migrate_first:
        from mercato.kit.migrations import ensure_database_exists, upgrade

        ensure_database_exists(url)
        upgrade(url)
    processes = workers or settings.web_workers
    if processes > 1:
        _prepare_multiprocess_metrics()
    uvicorn.run(
        "mercato.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=processes,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        # Client addresses come from X-Forwarded-For only behind a proxy the operator names.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _prepare_multiprocess_metrics() -> None:
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or PROJECT_ROOT / "var" / "prometheus")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Drain the outbox and run due jobs once, then exit")] = False,
) -> None:
    """Deliver outbox events to handlers and run periodic jobs."""
    from mercato.kit.logging import configure_logging
    from mercato.worker.main import run_worker

    settings = _settings()
    configure_logging(settings.log_level)
    _database_url(settings)
    asyncio.run(run_worker(settings, once=once))


@app.command()
def run(
    workers: Annotated[int, typer.Option(help="Background worker processes")] = 1,
    seed_demo: Annotated[bool, typer.Option("--seed/--no-seed", help="Seed demo data into an empty DB")] = True,
) -> None:
    """Everything for local use: database, migrations, demo data, the API and a worker. Ctrl-C stops all."""
    settings = _settings()
    started_embedded = settings.uses_embedded_db and not embedded_server(settings).status().running
    url = _database_url(settings)
    from mercato.kit.migrations import ensure_database_exists, upgrade

    if ensure_database_exists(url):
        console.print("Created the database.")
    console.print("[bold]Applying migrations…[/bold]")
    upgrade(url)
    if seed_demo:
        _seed(settings, demo=True)
    children: list[subprocess.Popen[bytes]] = []
    base = [sys.executable, "-m", "mercato"]
    children.append(subprocess.Popen([*base, "serve"], start_new_session=True))
    for _ in range(workers):
        children.append(subprocess.Popen([*base, "worker"], start_new_session=True))
    console.print(
        f"[green]Mercato is up:[/green] http://{settings.host}:{settings.port}/docs  "
        "(Ctrl-C stops everything)"
    )
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    try:
        while not stop:
            for child in children:
                code = child.poll()
                if code is not None:
                    console.print(f"[red]A child process exited with {code}; stopping.[/red]")
                    exit_code, stop = code or 1, True
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if started_embedded:
            embedded_server(settings).stop()
            console.print("Stopped the embedded PostgreSQL.")
    raise typer.Exit(exit_code)


# ---- schema and data --------------------------------------------------------------------------


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Create the database if missing and apply migrations (safe from several processes at once)."""
    from mercato.kit.migrations import ensure_database_exists, upgrade

    url = _database_url(_settings())
    ensure_database_exists(url)
    upgrade(url, revision)
    console.print("[green]Database is at the requested revision.[/green]")


@app.command()
def makemigration(message: Annotated[str, typer.Option("-m", "--message", help="What changes")]) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    from mercato.kit.migrations import make_migration

    path = make_migration(_database_url(_settings()), message)
    console.print(f"Wrote {path}")


def _seed(settings: Settings, *, demo: bool, products: int | None = None) -> None:
    from mercato.modules import catalog, channels, identity, inventory, pricing, promotions, shipping

    steps: list[tuple[str, Callable[[Any], Awaitable[int]]]] = [
        ("currencies and channels", channels.seed_base),
        ("staff roles", identity.seed_builtin_roles),
    ]
    if demo:
        steps.append(("tax zones and rates", pricing.seed_tax_demo))
        steps.append(("shipping zones and methods", shipping.seed_demo))
        steps.append(("promotions (WELCOME10)", promotions.seed_demo))
        if catalog.demo_data_available():
            steps.append(("the demo catalogue", catalog.seed_demo))
            steps.append(("the demo stock", inventory.seed_demo_stock))
        else:
            console.print(f"[yellow]No demo catalogue: its data sets are not in {catalog.demo_data_dir()} "
                          "(set MERCATO_DEMO_DATA_DIR).[/yellow]")
            products = None

    async def work(session: Any) -> int:
        added = 0
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("Seeding", total=len(steps))
            for label, step in steps:
                progress.update(task, description=f"Seeding {label}")
                added += await step(session)
                progress.advance(task)
        return added

    added = _with_session(settings, work)
    console.print(f"[green]Seed complete[/green] ({added} rows added{'; demo store' if demo else ''}).")
    if not (demo and products):
        return

    async def grow() -> Any:  # --products N: COPY, a committed chunk at a time, on two connections
        db = Database.connect(_database_url(settings), settings, pool_size=2, max_overflow=0)
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed:,}"), TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("Loading products", total=None)

                def report(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                return await catalog.seed_bulk(db.sessionmaker, products, on_progress=report)
        finally:
            await db.dispose()

    result = asyncio.run(grow())
    console.print(
        f"[green]Catalogue has {result.existing + result.added:,} demo products[/green] "
        f"({result.added:,} added in {result.seconds:.1f} s, {result.rate:,.0f} products/s)."
    )


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Also load the demo store (into an empty catalogue)")] = False,
    products: Annotated[int | None, typer.Option(
        "--products", min=1, max=1_000_000,
        help="Grow the demo catalogue to N products (generated from the real ones, bulk-loaded; implies --demo)",
    )] = None,
) -> None:
    """Load base channels and currencies (and, with --demo, the demo store). Idempotent."""
    _seed(_settings(), demo=demo or products is not None, products=products)


@app.command()
def createsuperuser(
    email: Annotated[str, typer.Option(help="Staff email")],
    password: Annotated[str, typer.Option(help="Password (min. 10 characters)")],
) -> None:
    """Create a staff user holding every permission, non-interactively."""
    from mercato.kit.errors import DomainError
    from mercato.modules import identity

    if len(password) < 10:
        console.print("[red]The password must have at least 10 characters.[/red]")
        raise typer.Exit(2)

    async def work(session: Any) -> str:
        user = await identity.create_superuser(session, email=email, password=password)
        return str(user.email)

    try:
        created = _with_session(_settings(), work)
    except DomainError as exc:
        console.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]Superuser {created} created.[/green]")


# ---- bulk import / export ----------------------------------------------------------------------


def _format_of(path: Path, given: str | None) -> str:
    if given is not None:
        if given not in ("csv", "jsonl"):
            console.print("[red]--format is csv or jsonl.[/red]")
            raise typer.Exit(2)
        return given
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "csv"


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or JSON Lines file (format: see catalog/import_rows.py)")],
    format: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from the extension)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count only; change nothing")] = False,
    show: Annotated[int, typer.Option("--errors", min=0, help="How many row errors to print")] = 20,
) -> None:
    """Import products, variants and prices (upsert by slug and SKU). Exits 1 when rows failed."""
    import uuid as uuid_

    from sqlalchemy import select

    from mercato.kit.ids import new_id
    from mercato.kit.storage import build_storage
    from mercato.modules.catalog import catalog_jobs, importer
    from mercato.modules.catalog.models import CatalogJob, CatalogJobError

    if not file.is_file():
        console.print(f"[red]No such file: {escape(str(file))}[/red]")
        raise typer.Exit(2)
    fmt = _format_of(file, format)
    settings = _settings()
    storage = build_storage(settings)

    async def chunks() -> Any:
        with file.open("rb") as source:
            while chunk := await asyncio.to_thread(source.read, 1 << 16):
                yield chunk

    async def invalidate() -> None:  # reaches the API processes through Redis or PostgreSQL notifications
        from mercato.kit.cache import build_cache
        from mercato.modules.catalog import invalidate_catalog

        cache = build_cache(settings)
        try:
            await invalidate_catalog(cache)
        finally:
            await cache.close()

    async def main() -> tuple[Any, list[Any], int]:
        db = Database.connect(_database_url(settings), settings, pool_size=2, max_overflow=0)
        try:
            job_id: uuid_.UUID = new_id()
            key = catalog_jobs.import_key(job_id, fmt)
            await storage.write(key, chunks(), catalog_jobs.CONTENT_TYPES[fmt])
            async with db.sessionmaker() as session, session.begin():
                await catalog_jobs.queue_import(session, job_id=job_id, key=key, fmt=fmt, dry_run=dry_run,
                                                actor="cli", may_publish=True, in_worker=False)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"),
                          TextColumn("{task.fields[rate]:,.0f} rows/s"), TimeElapsedColumn(),
                          console=console) as progress:
                task = progress.add_task("Importing" + (" (dry run)" if dry_run else ""), total=None, rate=0.0)
                started = time.monotonic()

                def report(counts: dict[str, int]) -> None:
                    rate = counts["rows"] / max(time.monotonic() - started, 1e-6)
                    progress.update(task, completed=counts["rows"], rate=rate, description=(
                        f"created {counts['created']:,} · updated {counts['updated']:,} · "
                        f"unchanged {counts['unchanged']:,} · [red]failed {counts['failed']:,}[/red]"))

                await importer.run_import(db.sessionmaker, job_id, storage, on_progress=report,
                                          on_catalog_changed=invalidate)
            async with db.sessionmaker() as session:
                job = await session.get(CatalogJob, job_id)
                errors = list((await session.execute(
                    select(CatalogJobError).where(CatalogJobError.job_id == job_id)
                    .order_by(CatalogJobError.id).limit(show))).scalars())
            return job, errors, show
        finally:
            await db.dispose()

    job, errors, _ = asyncio.run(main())
    counts = {k: int(v) for k, v in job.counts.items()}
    seconds = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else 0.0
    if job.status == "failed":
        console.print(f"[red]The import failed:[/red] {escape(job.error or 'unknown error')}")
        raise typer.Exit(1)
    rate = counts.get("rows", 0) / seconds if seconds else 0.0
    console.print(
        f"[green]{'Checked' if dry_run else 'Imported'}[/green] {counts.get('rows', 0):,} rows in {seconds:.1f} s "
        f"({rate:,.0f} rows/s): created {counts.get('created', 0):,}, updated {counts.get('updated', 0):,}, "
        f"unchanged {counts.get('unchanged', 0):,}, failed {counts.get('failed', 0):,} "
        f"(products created {counts.get('products_created', 0):,}, updated {counts.get('products_updated', 0):,})."
    )
    typer.echo(f"job {job.id}")
    if counts.get("failed", 0):
        table = Table("row", "field", "message", title=f"First {len(errors)} row errors")
        for error in errors:
            table.add_row(str(error.row), error.field, error.message)
        Console(stderr=True).print(table)
        console.print(f"All row errors: GET /admin/imports/{job.id}/errors (or the catalog_job_errors table).")
        raise typer.Exit(1)


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the file")],
    format: Annotated[str | None, typer.Option("--format", help="csv or jsonl (default: from the extension)")] = None,
) -> None:
    """Export every product, variant and base price in the import format."""
    from mercato.kit.storage import build_storage
    from mercato.modules.catalog import catalog_jobs, exporter
    from mercato.modules.catalog.models import CatalogJob

    fmt = _format_of(file, format)
    settings = _settings()
    storage = build_storage(settings)

    async def main() -> Any:
        db = Database.connect(_database_url(settings), settings, pool_size=2, max_overflow=0)
        try:
            async with db.sessionmaker() as session, session.begin():
                job = await catalog_jobs.create_export(session, fmt=fmt, actor="cli", in_worker=False)
                job_id = job.id
            with Progress(SpinnerColumn(), TextColumn("Exporting"), TextColumn("{task.completed:,} rows"),
                          TimeElapsedColumn(), console=console) as progress:
                task = progress.add_task("export", total=None)
                await exporter.run_export(db.sessionmaker, job_id, storage,
                                          on_progress=lambda n: progress.update(task, completed=n))
            async with db.sessionmaker() as session:
                done = await session.get(CatalogJob, job_id)
            if done is None or done.file_key is None:
                return done
            with file.open("wb") as out:
                async for chunk in storage.read(done.file_key):
                    await asyncio.to_thread(out.write, chunk)
            await storage.delete(done.file_key)
            return done
        finally:
            await db.dispose()

    job = asyncio.run(main())
    if job is None or job.status != "succeeded":
        console.print(f"[red]The export failed:[/red] {escape(getattr(job, 'error', None) or 'unknown error')}")
        raise typer.Exit(1)
    console.print(f"[green]Exported[/green] {int(job.counts.get('rows', 0)):,} rows to {escape(str(file))}.")


# ---- embedded database -------------------------------------------------------------------------


def _embedded_or_exit(settings: Settings) -> Any:
    if not settings.uses_embedded_db:
        console.print("DATABASE_URL is set: the embedded server is not used.")
        raise typer.Exit(0)
    return embedded_server(settings)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (initialising it on first use)."""
    settings = _settings()
    server = _embedded_or_exit(settings)
    _database_url(settings)
    console.print(f"[green]Running[/green] (pid {server.status().pid}, data in {server.data_dir}).")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    server = _embedded_or_exit(_settings())
    console.print("Stopped." if server.stop() else "It was not running.")


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded PostgreSQL runs (exit 1 when it does not)."""
    server = _embedded_or_exit(_settings())
    status = server.status()
    if status.running:
        console.print(f"Running: pid {status.pid}, data {status.data_dir}, socket {status.socket_dir}")
    else:
        console.print(f"Not running (data directory {status.data_dir}).")
        raise typer.Exit(1)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (starting the embedded server if needed)."""
    typer.echo(_database_url(_settings()))


@db_app.command("psql")
def db_psql() -> None:
    """Open psql on the database."""
    settings = _settings()
    url = _database_url(settings)
    argv = embedded_server(settings).psql_argv(settings.db_name) if settings.uses_embedded_db else ["psql", url]
    os.execvp(argv[0], argv)  # noqa: S606 - replacing the process with psql is the point


# ---- outbox --------------------------------------------------------------------------------------


@outbox_app.command("stats")
def outbox_stats() -> None:
    """Pending and dead-lettered event counts, and the delivery lag."""
    from mercato.kit import outbox_admin

    stats = _with_session(_settings(), outbox_admin.stats)
    typer.echo(f"pending={stats.pending} dead={stats.dead} lag={stats.lag_seconds:.1f}s")


@outbox_app.command("list")
def outbox_list(
    status: Annotated[EventStatus | None, typer.Option(help="pending, done or dead")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """List recent events, newest first."""
    from mercato.kit import outbox_admin

    wanted = status

    async def work(session: Any) -> Any:
        return await outbox_admin.list_events(session, status=wanted, limit=limit, cursor=None)

    page = _with_session(_settings(), work)
    table = Table("id", "name", "status", "attempts", "created", "last error")
    for event in page.items:
        table.add_row(str(event.id), event.name, event.status, str(event.attempts),
                      event.created_at.isoformat(timespec="seconds"), (event.last_error or "")[:60])
    Console().print(table)


@outbox_app.command("dead")
def outbox_dead(limit: Annotated[int, typer.Option(min=1, max=100)] = 20) -> None:
    """List dead-lettered events."""
    outbox_list(status=EventStatus.DEAD, limit=limit)


@outbox_app.command("retry")
def outbox_retry(
    event_ids: Annotated[list[str] | None, typer.Argument(help="Dead event ids; none means all")] = None,
) -> None:
    """Put dead-lettered events back in the queue."""
    import uuid

    from mercato.kit import outbox_admin

    try:
        ids = [uuid.UUID(raw) for raw in event_ids] if event_ids else None
    except ValueError:
        console.print("[red]Event ids must be UUIDs (see `mercato outbox dead`).[/red]")
        raise typer.Exit(2) from None

    async def work(session: Any) -> int:
        return await outbox_admin.retry(session, ids)

    typer.echo(f"Re-queued {_with_session(_settings(), work)} event(s).")


# ---- inventory -----------------------------------------------------------------------------------


@inventory_app.command("verify")
def inventory_verify() -> None:
    """Check every stock row against its ledger (exit 1 and list the differences if any)."""
    from mercato.modules import inventory

    found = _with_session(_settings(), inventory.verify)
    for d in found:
        typer.echo(f"{d.stock_id}: {d.what}: expected {d.expected}, found {d.actual}")
    if found:
        raise typer.Exit(1)
    typer.echo("ledger verified: every stock row equals the sum of its movements")


def main() -> None:
    import psycopg
    import sqlalchemy.exc

    try:
        app(standalone_mode=True)
    except (psycopg.OperationalError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
            ConnectionError) as exc:
        console.print(f"[red]Cannot reach the database:[/red] {escape(str(exc).splitlines()[0])}")
        sys.exit(1)


if __name__ == "__main__":
    main()
