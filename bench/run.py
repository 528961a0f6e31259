"""Load benchmark: `mercato serve` as in production next to a bare ASGI probe, both driven by wrk.

    .venv/bin/python bench/run.py [--duration 10] [--connections 64] [--threads 1] [--only healthz,readyz]

Prints one JSON document and writes it to bench/results/<UTC timestamp>.json. See bench/README.md.
The hot SKU rows (`reserve_hot_*` over HTTP, `db_reserve_*` with pgbench) run on a throw-away
database of their own (bench/hot_sku.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import psutil
import psycopg
from sqlalchemy.engine import make_url

import cart_flow
import hot_sku
from hot_sku import BUCKET_COUNTS

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
WRK_PATHS_SCRIPT = BENCH_DIR / "wrk_paths.lua"
WRK_RESERVE_SCRIPT = BENCH_DIR / "wrk_reserve.lua"
PATHS_FILE = RESULTS_DIR / "product_paths.txt"
CATALOGUE_VALUES = ("{product_slug}", "{deep_cursor}", "{category_slug}")
WARMUP_S = 2
PROBE_ROWS = 1000
SERVER_CPU, WRK_CPU = 0, 1
START_TIMEOUT_S = 60.0

# "hot": a Mercato server on the hot SKU database; "pgbench": no server, pgbench against that database.
ServerName = Literal["probe", "mercato", "hot", "pgbench"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    server: ServerName
    path: str
    method: str = "GET"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Fewer connections where a figure is about service time, not throughput (login: argon2).
    connections: int | None = None
    # A different path each request, from the run's list of product paths (uncached reads).
    rotate_paths: bool = False
    # "{unique}" in the body becomes a different token each request (one cart per reservation).
    unique_body: bool = False
    # With rotate_paths: which list of paths (bench/cart_flow.py makes "cart_lines" and "checkouts");
    # None is the catalogue's product paths.
    paths_list: str | None = None


# Later steps add rows here. The REFERENCES rows are the denominators of the ratios.
ENDPOINTS: list[Endpoint] = [
    Endpoint("probe_const", "probe", "/const"),
    Endpoint("probe_pk", "probe", "/pk"),
    Endpoint("healthz", "mercato", "/healthz"),
    Endpoint("readyz", "mercato", "/readyz"),
    # {email}, {password} and {customer_token} are filled in with a customer made for the run.
    Endpoint("store_login", "mercato", "/store/auth/login", method="POST",
             body='{"email": "{email}", "password": "{password}"}',
             headers={"Content-Type": "application/json"}, connections=1),
    Endpoint("store_me", "mercato", "/store/me", headers={"Authorization": "Bearer {customer_token}"}),
    # Catalogue ({product_slug}, {deep_cursor} and the rotating paths come from the catalogue in the
    # database; `--products N` grows it first). Lists at 32 connections, as issue #4 measures them.
    Endpoint("product_cached", "mercato", "/store/products/{product_slug}"),
    Endpoint("product_uncached", "mercato", "/store/products/", rotate_paths=True),
    Endpoint("list_first", "mercato", "/store/products?limit=20", connections=32),
    Endpoint("list_deep", "mercato", "/store/products?limit=20&cursor={deep_cursor}", connections=32),
    Endpoint("list_category", "mercato", "/store/products?limit=20&category={category_slug}", connections=32),
    # Step 4, hot SKU: one reservation of one unit per request, every request for the same SKU
    # ({variant_b1}...: SKUs with 1, 4, 16 and 64 buckets), each for a cart of its own.
    *(Endpoint(f"reserve_hot_b{k}", "hot", "/admin/inventory/reservations", method="POST",
               body='{"reference": "bench:{unique}", "lines": [{"variant_id": "{variant_b' + str(k)
               + '}", "quantity": 1}]}',
               headers={"Content-Type": "application/json", "Authorization": "Bearer {staff_token}"},
               unique_body=True) for k in BUCKET_COUNTS),
    # The same at the database, without HTTP: pgbench clients sending the literal single-row
    # conditional update (naive_sql) or the statements the service sends (b1...b64). The path
    # names the SKU.
    Endpoint("db_reserve_naive_sql", "pgbench", "naive"),
    *(Endpoint(f"db_reserve_b{k}", "pgbench", f"b{k}") for k in BUCKET_COUNTS),
    # Step 5: add-to-cart (one unit of {cart_variant} into a different empty guest cart each
    # request) and checkout (a different cart ready to pay each request, 16 buyers at once, paid
    # with the in-process test gateway's approving token: the payment step costs nothing here).
    Endpoint("cart_add_line", "mercato", "", method="POST", body='{"variant_id": "{cart_variant}", "quantity": 1}',
             headers={"Content-Type": "application/json"}, rotate_paths=True, paths_list="cart_lines"),
    Endpoint("checkout", "mercato", "", method="POST",
             body='{"payment": {"gateway": "test", "token": "tok_visa"}}',
             headers={"Content-Type": "application/json"}, connections=16, rotate_paths=True,
             paths_list="checkouts"),
]
REFERENCES = ("probe_const", "probe_pk")


@dataclass
class Server:
    name: ServerName
    process: subprocess.Popen[bytes]
    base_url: str
    log: IO[bytes]


def main() -> None:
    args = _parse_args()
    endpoints = _select(args.only)
    wrk = _ensure_wrk()
    pin = _can_pin()
    signal.signal(signal.SIGTERM, _interrupt)
    started = datetime.now(UTC)
    load_at_start = round(os.getloadavg()[0], 2)
    RESULTS_DIR.mkdir(exist_ok=True)
    url = _database_url()
    needed = {endpoint.server for endpoint in endpoints}
    servers: dict[ServerName, Server] = {}
    catalogue: dict[str, Any] = {}
    hot: hot_sku.HotSku | None = None
    scripts_dir = tempfile.TemporaryDirectory(prefix="bench-pgbench-")
    path_files: dict[str | None, Path] = {None: PATHS_FILE}
    try:
        if "mercato" in needed:
            from mercato.kit.migrations import upgrade

            upgrade(url)
            if any(_needs_catalogue(endpoint) for endpoint in endpoints):
                _grow_catalogue(url, args.products)
                catalogue = _catalogue_values(url)
                endpoints = [_fill(endpoint, catalogue["values"]) for endpoint in endpoints]
            servers["mercato"] = _start_mercato(url, pin)
            lists = {endpoint.paths_list for endpoint in endpoints if endpoint.paths_list}
            if lists:
                from mercato.kit.settings import get_settings

                variants = cart_flow.stocked_variants(url, get_settings().default_channel, 200)
                variant = variants[0]
                path_files.update(cart_flow.prepare(
                    servers["mercato"].base_url, variants, Path(scripts_dir.name),
                    empty_carts=args.empty_carts if "cart_lines" in lists else 0,
                    checkout_carts=args.checkout_carts if "checkouts" in lists else 0))
                endpoints = [_fill(endpoint, {"cart_variant": str(variant)}) for endpoint in endpoints]
            if any(endpoint.server == "mercato" and _needs_customer(endpoint) for endpoint in endpoints):
                # One customer for the run (registering one per endpoint ran into the per-IP limit).
                customer = _bench_customer(servers["mercato"])
                endpoints = [_fill(endpoint, customer) for endpoint in endpoints]
        if "probe" in needed:
            _fill_probe_table(url)
            servers["probe"] = _start_probe(url, pin)
        if needed & {"hot", "pgbench"}:
            hot = hot_sku.prepare(url)
            values = {f"variant_{key}": str(variant) for key, variant in hot.variants.items()}
            if "hot" in needed:
                secret = secrets.token_urlsafe(36)
                values["staff_token"] = hot_sku.staff_token(hot.url, secret)
                servers["hot"] = _start_mercato(hot.url, pin, name="hot", secret=secret)
            endpoints = [_fill(endpoint, values) for endpoint in endpoints]
            Path(scripts_dir.name, "naive.sql").write_text(hot_sku.naive_script())
            Path(scripts_dir.name, "service.sql").write_text(hot_sku.service_script())
        # Round-robin rounds, then medians: background load on a shared machine comes and goes, and
        # interleaving spreads it over every endpoint instead of landing on whichever ran then.
        runs: dict[str, list[dict[str, Any]]] = {endpoint.name: [] for endpoint in endpoints}
        for round_number in range(args.rounds):
            for endpoint in endpoints:
                if endpoint.server == "pgbench":
                    assert hot is not None
                    runs[endpoint.name].append(_measure_pgbench(hot, endpoint, Path(scripts_dir.name), args, pin))
                    continue
                paths_file = path_files[endpoint.paths_list]
                paths = len(paths_file.read_text().splitlines()) if endpoint.rotate_paths else 0
                runs[endpoint.name].append(
                    _measure(wrk, servers[endpoint.server], endpoint, args, pin, warm_up=round_number == 0,
                             paths_file=paths_file, paths_offset=round_number * paths // max(args.rounds, 1))
                )
        results = {name: _median_run(measured) for name, measured in runs.items()}
        spent = [endpoint.name for endpoint in endpoints
                 if endpoint.paths_list == "checkouts" and any(run["non_2xx"] for run in runs[endpoint.name])]
        if spent:  # a cart paid twice answers 409 in a few ms: those runs measure refusals, not checkouts
            print(f"WARNING: {', '.join(spent)} ran out of carts ready to pay (non-2xx answers); "
                  "raise --checkout-carts", file=sys.stderr)
        hot_summary = _hot_summary(results, hot) if hot is not None else None
    finally:
        for server in servers.values():
            _stop(server)
        if "probe" in needed:
            _drop_probe_table(url)
        if hot is not None:
            hot_sku.drop_database(url, hot.database)
        scripts_dir.cleanup()
    report = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {**_machine_info(wrk), "loadavg_1m_at_start": load_at_start},
        "config": {
            "duration_s": args.duration, "rounds": args.rounds, "connections": args.connections,
            "threads": args.threads,
            "warmup_s": WARMUP_S, "mercato_workers": 1,
            "catalogue": {key: value for key, value in catalogue.items() if key != "paths"} if catalogue else None,
            "cpu_pinning": {"used": pin, "servers_cpu": SERVER_CPU, "wrk_cpu": WRK_CPU} if pin else {"used": False},
        },
        "endpoints": results,
        "ratios": _ratios(results, endpoints),
        "hot_sku": hot_summary,
    }
    text = json.dumps(report, indent=2)
    (RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}.json").write_text(text + "\n")
    print(text)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so the `finally` in main() stops the servers.
    raise KeyboardInterrupt


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per endpoint; medians reported")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--products", type=int, default=None,
                        help="grow the demo catalogue to N products first (mercato seed --demo --products N)")
    parser.add_argument("--empty-carts", type=int, default=2000, help="carts cart_add_line adds to, in turn")
    parser.add_argument("--checkout-carts", type=int, default=10000,
                        help="carts ready to pay for the checkout row (one per request: more than it sends)")
    parser.add_argument("--only", default="", help="comma-separated endpoint names: "
                        + ",".join(e.name for e in ENDPOINTS))
    return parser.parse_args()


def _select(only: str) -> list[Endpoint]:
    if not only:
        return ENDPOINTS
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    known = {endpoint.name: endpoint for endpoint in ENDPOINTS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        sys.exit(f"unknown endpoint(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in wanted]


def _ensure_wrk() -> str:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed and `apt-get install -y wrk` did not provide it")
    return wrk


def _can_pin() -> bool:
    # The servers get one core and wrk the other, so runs don't depend on where the scheduler puts them.
    return shutil.which("taskset") is not None and {SERVER_CPU, WRK_CPU} <= os.sched_getaffinity(0)


def _pinned(argv: list[str], cpu: int, pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if pin else argv


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        from mercato.kit.db import resolve_database_url
        from mercato.kit.settings import get_settings

        url = resolve_database_url(get_settings())
    # Plain libpq form for psycopg and asyncpg, whatever driver suffix DATABASE_URL carries.
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fill_probe_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_probe")
        conn.execute("CREATE TABLE bench_probe (id int PRIMARY KEY, payload text NOT NULL)")
        conn.execute("INSERT INTO bench_probe SELECT g, md5(g::text) FROM generate_series(1, %s) AS g",
                     (PROBE_ROWS,))


def _drop_probe_table(url: str) -> None:
    # Not a Mercato table: left behind, `mercato makemigration` would propose dropping it.
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_probe")
    except psycopg.Error as exc:  # reported, not raised: it would hide the error that ended the run
        print(f"could not drop bench_probe: {exc}", file=sys.stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(name: ServerName, argv: list[str], env: dict[str, str], pin: bool) -> Server:
    port = _free_port()
    # One log per server, overwritten each run: the access log grows by tens of MB per run.
    log = (RESULTS_DIR / f"{name}.log").open("wb")
    process = subprocess.Popen(_pinned([*argv, "--port", str(port)], SERVER_CPU, pin), env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name, process, f"http://127.0.0.1:{port}", log)


def _start_mercato(url: str, pin: bool, *, name: ServerName = "mercato", secret: str | None = None) -> Server:
    env = {
        **os.environ, "DATABASE_URL": url, "MERCATO_ENV": "production",
        "MERCATO_SECRET_KEY": secret or secrets.token_urlsafe(36), "MERCATO_ACCESS_LOG": "true",
        # wrk comes from one address; real traffic from many. Per-IP limits would measure only 429s.
        "MERCATO_RATE_LIMIT_LOGIN": "100000000/minute",
    }
    server = _spawn(name, [sys.executable, "-m", "mercato", "serve", "--workers", "1"], env, pin)
    _wait_ready(server, "/healthz")
    return server


def _needs_customer(endpoint: Endpoint) -> bool:
    text = (endpoint.body or "") + "".join(endpoint.headers.values())
    return "{customer_token}" in text or "{email}" in text


def _needs_catalogue(endpoint: Endpoint) -> bool:
    return endpoint.rotate_paths or any(value in endpoint.path for value in CATALOGUE_VALUES)


def _grow_catalogue(url: str, products: int | None) -> None:
    """The demo catalogue (`mercato seed --demo`), grown to `products` when given."""
    argv = [sys.executable, "-m", "mercato", "seed", "--demo"]
    if products:
        argv += ["--products", str(products)]
    subprocess.run(argv, env={**os.environ, "DATABASE_URL": url}, cwd=ROOT, check=True)
    # What autovacuum does within minutes of a bulk load, done now so every run starts alike:
    # planner statistics, and the visibility map that lets index-only scans skip the table.
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("categories", "products", "variants", "variant_prices", "product_media", "product_listings"):
            conn.execute(f"VACUUM (ANALYZE) {table}")


def _catalogue_values(url: str) -> dict[str, Any]:
    """What the catalogue endpoints name: a listed product, a cursor 90% of the way into the
    newest-first list, the largest category, and every listed product's path (shuffled)."""
    from mercato.kit.pagination import encode_cursor
    from mercato.kit.settings import get_settings

    channel = get_settings().default_channel
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT l.slug FROM product_listings l JOIN channels c ON c.id = l.channel_id WHERE c.code = %s "
            "ORDER BY random()", (channel,)).fetchall()
        listed = len(rows)
        if not listed:
            sys.exit("the catalogue lists no product in the default channel; run `mercato seed --demo`")
        deep = conn.execute(
            "SELECT l.published_at, l.product_id FROM product_listings l JOIN channels c ON c.id = l.channel_id "
            "WHERE c.code = %s ORDER BY l.published_at DESC, l.product_id DESC OFFSET %s LIMIT 1",
            (channel, listed * 9 // 10)).fetchone()
        category = conn.execute(
            "SELECT k.slug FROM categories k WHERE k.parent_id IS NULL ORDER BY "
            "(SELECT count(*) FROM product_listings l WHERE l.category_path LIKE k.path || '%%') DESC LIMIT 1"
        ).fetchone()
    if deep is None or category is None:
        sys.exit("the catalogue has no category to list; run `mercato seed --demo`")
    paths = [f"/store/products/{slug}" for (slug,) in rows]
    PATHS_FILE.write_text("\n".join(paths) + "\n")
    values = {"product_slug": rows[0][0], "deep_cursor": "n." + encode_cursor([deep[0], deep[1]]),
              "category_slug": category[0]}
    return {"listed_products": listed, "deep_offset": listed * 9 // 10, "values": values, "paths": paths}


def _bench_customer(server: Server) -> dict[str, str]:
    """Register and sign in a customer for this run; returns the values the templates name."""
    email = f"bench-{secrets.token_hex(6)}@example.com"
    password = secrets.token_urlsafe(18)
    _post_json(server.base_url + "/store/auth/register", {"email": email, "password": password})
    tokens = _post_json(server.base_url + "/store/auth/login", {"email": email, "password": password})
    return {"email": email, "password": password, "customer_token": str(tokens["access_token"])}


def _post_json(url: str, payload: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read() or b"{}")
        return body


def _fill(endpoint: Endpoint, values: dict[str, str]) -> Endpoint:
    def fill(text: str) -> str:
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text

    return Endpoint(endpoint.name, endpoint.server, fill(endpoint.path), endpoint.method,
                    fill(endpoint.body) if endpoint.body else None,
                    {name: fill(value) for name, value in endpoint.headers.items()}, endpoint.connections,
                    endpoint.rotate_paths, endpoint.unique_body, endpoint.paths_list)


def _start_probe(url: str, pin: bool) -> Server:
    from mercato.kit.settings import get_settings

    settings = get_settings()
    # As many connections as Mercato's engine may open, so neither side has more.
    pool_size = str(settings.db_pool_size + settings.db_max_overflow)
    env = {**os.environ, "DATABASE_URL": url}
    server = _spawn("probe", [sys.executable, str(BENCH_DIR / "probe.py"), "--pool-size", pool_size], env, pin)
    _wait_ready(server, "/const")
    return server


def _wait_ready(server: Server, path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}; see {server.log.name}")
        if _status(server.base_url + path) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {START_TIMEOUT_S:.0f} s")


def _status(url: str, method: str = "GET", body: str | None = None, headers: dict[str, str] | None = None) -> int:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    server.log.close()


def _median_run(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rps, plus every run's rps and the median CPU per request."""
    ordered = sorted(measured, key=lambda run: run["rps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rps_runs"] = [run["rps"] for run in measured]
    cpu = sorted(run["cpu_us_per_req"] for run in measured if run["cpu_us_per_req"] is not None)
    chosen["cpu_us_per_req"] = cpu[len(cpu) // 2] if cpu else None
    return chosen


def _measure(
    wrk: str, server: Server, endpoint: Endpoint, args: argparse.Namespace, pin: bool, *, warm_up: bool = True,
    paths_file: Path = PATHS_FILE, paths_offset: int = 0,
) -> dict[str, Any]:
    url = server.base_url + endpoint.path
    # wrk counts only statuses >= 400 as errors; one plain request first shows a 3xx or a wrong route.
    status = _status(url, endpoint.method, endpoint.body, endpoint.headers)
    if endpoint.rotate_paths:
        # The path wrk would send first is sent now: a cart checked out here is not paid twice.
        first = paths_file.read_text().splitlines()[paths_offset % max(1, len(paths_file.read_text().splitlines()))]
        status = _status(server.base_url + first, endpoint.method, endpoint.body, endpoint.headers)
        paths_offset += 1
    if warm_up and not endpoint.rotate_paths:  # a warm-up would put the products it reads in the cache
        _wrk(wrk, url, endpoint, WARMUP_S, args, pin)
    cpu_before, core_before = _cpu_seconds(server), _core_jiffies(SERVER_CPU)
    raw = _wrk(wrk, url, endpoint, args.duration, args, pin, paths_file, paths_offset)
    cpu_used = _cpu_seconds(server) - cpu_before
    core_after = _core_jiffies(SERVER_CPU)
    busy, total = core_after[0] - core_before[0], core_after[1] - core_before[1]
    errors = raw["errors"]
    result = {
        "server": endpoint.server, "method": endpoint.method, "path": endpoint.path, "first_status": status,
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["latency_ms"]["p50"], "p90_ms": raw["latency_ms"]["p90"], "p99_ms": raw["latency_ms"]["p99"],
        "errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "non_2xx": errors["status"],
        # The server's own CPU time per request: steadier than rps when other jobs share the machine.
        "cpu_us_per_req": round(cpu_used * 1e6 / raw["requests"], 1) if raw["requests"] else None,
        # Near 1.0: the servers' core was saturated, so rps measures the server, not the client.
        # (cpu_us_per_req leaves out the kernel's softirq network work, some 20% of that core.)
        "server_core_busy": round(busy / total, 2) if pin and total else None,
        "wrk": raw,
    }
    print(f"{endpoint.name:<14} {result['rps']:>9.1f} rps  p50 {result['p50_ms']:.2f} ms  "
          f"p99 {result['p99_ms']:.2f} ms  {result['cpu_us_per_req']} us cpu/req  "
          f"core busy {result['server_core_busy']}  "
          f"errors {result['errors']}  non_2xx {result['non_2xx']}", file=sys.stderr)
    return result


def _measure_pgbench(hot: hot_sku.HotSku, endpoint: Endpoint, scripts: Path, args: argparse.Namespace,
                     pin: bool) -> dict[str, Any]:
    """One pgbench run on the hot SKU named by the endpoint's path, pinned where wrk would run."""
    key = endpoint.path
    script = scripts / ("naive.sql" if key == "naive" else "service.sql")
    connections = endpoint.connections or args.connections
    raw = hot_sku.run_pgbench(_pinned([], WRK_CPU, pin), hot, key, script, clients=connections,
                              threads=min(2, connections), duration=args.duration)
    result = {"server": "pgbench", "sku": key, "script": script.name, "connections": connections,
              "rps": round(raw["tps"] or 0.0, 1), "latency_avg_ms": raw["latency_avg_ms"],
              "transactions": raw["transactions"], "failed": raw["failed"], "cpu_us_per_req": None}
    print(f"{endpoint.name:<22} {result['rps']:>9.1f} tps  avg {raw['latency_avg_ms']} ms  "
          f"failed {raw['failed']}", file=sys.stderr)
    return result


def _hot_summary(results: dict[str, dict[str, Any]], hot: hot_sku.HotSku) -> dict[str, Any]:
    """Reservations per second on one hot SKU, each bucket count against the naive figure of the
    same layer, plus what the database was set to (durable commits make the single row slower)."""
    def ratios(prefix: str, baseline: str) -> dict[str, float | None]:
        base = results.get(baseline, {}).get("rps")
        return {name: round(run["rps"] / base, 2) if base else None
                for name, run in results.items() if name.startswith(prefix) and name != baseline}

    with psycopg.connect(hot.url) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("synchronous_commit", "fsync", "wal_sync_method", "server_version")}
    return {
        "units_per_sku": hot_sku.HOT_UNITS,
        "http_vs_b1": ratios("reserve_hot_", "reserve_hot_b1"),
        "db_vs_naive_sql": ratios("db_reserve_", "db_reserve_naive_sql"),
        "ledger_discrepancies_after": hot_sku.ledger_discrepancies(hot.url),
        "database": settings,
    }


def _cpu_seconds(server: Server) -> float:
    times = psutil.Process(server.process.pid).cpu_times()
    return float(times.user + times.system)


def _core_jiffies(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU from /proc/stat, steal counted as busy."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            # user nice system idle iowait irq softirq steal; guest time is already inside user.
            fields = [int(value) for value in line.split()[1:9]]
            return sum(fields) - fields[3] - fields[4], sum(fields)
    return 0, 0


def _wrk(
    wrk: str, url: str, endpoint: Endpoint, duration: int, args: argparse.Namespace, pin: bool,
    paths_file: Path = PATHS_FILE, paths_offset: int = 0,
) -> Any:
    connections = endpoint.connections or args.connections
    script = WRK_PATHS_SCRIPT if endpoint.rotate_paths else WRK_RESERVE_SCRIPT if endpoint.unique_body else WRK_SCRIPT
    argv = [wrk, f"-t{min(args.threads, connections)}", f"-c{connections}", f"-d{duration}s", "-s", str(script)]
    for name, value in endpoint.headers.items():
        argv += ["-H", f"{name}: {value}"]
    env = {**os.environ, "WRK_METHOD": endpoint.method, "WRK_BODY": endpoint.body or "",
           "WRK_PATHS_FILE": str(paths_file), "WRK_PATHS_OFFSET": str(paths_offset),
           "WRK_UNIQUE_PREFIX": secrets.token_hex(6)}
    done = subprocess.run(_pinned([*argv, url], WRK_CPU, pin), env=env, capture_output=True, text=True, check=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no report for {url}:\n{done.stdout}{done.stderr}")
    return json.loads(lines[-1])


def _ratios(results: dict[str, dict[str, Any]], endpoints: list[Endpoint]) -> dict[str, dict[str, float | None]]:
    def rps_ratio(name: str, reference: str) -> float | None:
        base = results.get(reference)
        return round(results[name]["rps"] / base["rps"], 3) if base and base["rps"] else None

    # The rps ratio if the server's CPU were the only limit: probe CPU per request over ours.
    def cpu_ratio(name: str, reference: str) -> float | None:
        base, ours = results.get(reference), results[name]["cpu_us_per_req"]
        return round(base["cpu_us_per_req"] / ours, 3) if base and base["cpu_us_per_req"] and ours else None

    return {
        endpoint.name: {
            **{f"ratio_to_{reference}": rps_ratio(endpoint.name, reference) for reference in REFERENCES},
            **{f"cpu_ratio_to_{reference}": cpu_ratio(endpoint.name, reference) for reference in REFERENCES},
        }
        for endpoint in endpoints if endpoint.server == "mercato"
    }


def _machine_info(wrk: str) -> dict[str, Any]:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    commit = _git("rev-parse", "--short", "HEAD")
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu_model, "python": platform.python_version(),
        "platform": platform.platform(), "wrk": wrk_version, "git_commit": commit or None,
        # Figures from uncommitted code are not comparable with the commit's.
        "src_dirty": bool(_git("status", "--porcelain", "--", "src", "migrations")),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
