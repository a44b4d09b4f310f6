"""What every benchmark shares: the run context, figures and results files, timing, a bounded HTTP load
generator and a gunicorn server on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK_RESULTS_DIR = RESULTS_DIR / "local"  # not committed: every run without --update-results


@dataclass
class Context:
    """What a benchmark function gets: the data-set size, quick or full, and where the database is."""

    leads: int
    quick: bool = False
    seed: int = 42
    database_url: str = ""  # handed to servers the benchmark starts; empty when none may be started
    meta: dict = field(default_factory=dict)  # what the generator stored (users, anchor time, sizes)

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Figure:
    label: str
    value: float | int | str | None
    unit: str = ""

    def text(self) -> str:
        return f"{fmt(self.value)} {self.unit}".strip()


@dataclass
class Result:
    """One benchmark's outcome. `figure` / `reference` are the headline pair; `details` holds the rest."""

    name: str
    title: str
    figure: Figure | None = None
    reference: Figure | None = None
    ratio: float | None = None  # figure / reference where that means something
    goal: str = ""
    goal_met: bool | None = None  # informative only: a benchmark never fails
    details: list[Figure] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | not available | error
    seconds: float = 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["machine"] = machine()
        data["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return data


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio_text(ratio: float | None) -> str:
    """A throughput share as a percentage; a time ratio (figure / reference >= 2) as a multiple."""
    if ratio is None:
        return "-"
    return f"{ratio:.1f}x" if ratio >= 2 else f"{ratio:.0%}"


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of a list of numbers."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` -> seconds (also after the block)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


# --- results files -------------------------------------------------------------------------------------


def results_dir(quick: bool) -> Path:
    path = QUICK_RESULTS_DIR if quick else RESULTS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_result(result: Result, *, quick: bool, context: Context) -> Path:
    data = result.to_json()
    data["data_set"] = {"leads": context.leads, "seed": context.seed, "quick": context.quick,
                        **{k: v for k, v in context.meta.items() if k in ("rows", "anchor", "generator")}}
    path = results_dir(quick) / f"{result.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def load_results(quick: bool) -> list[dict]:
    folder = results_dir(quick)
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def table(rows: list[dict], order: list[str]) -> str:
    """The Markdown table of results (one row per benchmark, in `order`)."""
    rank = {name: i for i, name in enumerate(order)}
    rows = sorted(rows, key=lambda r: rank.get(r["name"], len(rank)))
    lines = [
        "| # | benchmark | figure | reference (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        fig = row.get("figure") or {}
        ref = row.get("reference") or {}
        figure = f"{fig.get('label', '')}: {Figure(**fig).text()}" if fig else row.get("status", "")
        reference = f"{ref.get('label', '')}: {Figure(**ref).text()}" if ref else "-"
        ratio = ratio_text(row.get("ratio"))
        met = {True: "yes", False: "**no**", None: "-"}[row.get("goal_met")]
        number = rank.get(row["name"], len(rank)) + 1
        lines.append(f"| {number} | {row['title']} | {figure} | {reference} | {ratio} | {row.get('goal', '')} "
                     f"| {met} |")
    return "\n".join(lines)


def details_markdown(rows: list[dict], order: list[str]) -> str:
    rank = {name: i for i, name in enumerate(order)}
    parts = []
    for row in sorted(rows, key=lambda r: rank.get(r["name"], len(rank))):
        parts.append(f"### {row['title']} (`{row['name']}`)\n")
        if row.get("status") != "ok":
            parts.append(f"Status: {row.get('status')}.\n")
        for detail in row.get("details", []):
            parts.append(f"- {detail['label']}: {Figure(**detail).text()}")
        for note in row.get("notes", []):
            parts.append(f"- note: {note}")
        params = ", ".join(f"{k}={v}" for k, v in row.get("params", {}).items())
        if params:
            parts.append(f"- parameters: {params}")
        parts.append(f"- took {row.get('seconds', 0):.1f} s, at {row.get('at', '')}\n")
    return "\n".join(parts)


def write_markdown(*, quick: bool, order: list[str]) -> Path:
    rows = load_results(quick)
    data_sets = sorted({json.dumps(r.get("data_set", {}).get("leads")) for r in rows})
    header = (
        "# Benchmark results\n\n"
        "Written by `python -m benchmarks.run`; see docs/performance.md for what each figure means.\n"
        f"Machine: {machine()['cpus']} CPUs, Python {machine()['python']}. Data set: "
        f"{', '.join(data_sets)} generated leads. Benchmarks never fail by timing; 'met' only compares "
        "the ratio with the goal of issue 21.\n\n"
    )
    path = results_dir(quick) / "results.md"
    path.write_text(header + table(rows, order) + "\n\n## Details\n\n" + details_markdown(rows, order) + "\n")
    return path


def print_result(result: Result) -> None:
    print(f"\n== {result.title} ({result.name}) ==")
    if result.status != "ok":
        print(f"   {result.status}")
    if result.figure:
        print(f"   {result.figure.label:<48} {result.figure.text()}")
    if result.reference:
        print(f"   {result.reference.label:<48} {result.reference.text()}   (reference, same run)")
    if result.ratio is not None:
        print(f"   {'ratio':<48} {ratio_text(result.ratio)}")
    for detail in result.details:
        print(f"   {detail.label:<48} {detail.text()}")
    for note in result.notes:
        print(f"   note: {note}")
    if result.goal:
        met = {True: "met", False: "NOT met", None: "-"}[result.goal_met]
        print(f"   goal: {result.goal} -> {met}")


# --- HTTP load on loopback -----------------------------------------------------------------------------


@dataclass
class Reply:
    index: int
    status: int  # 0: no answer (connection refused or reset)
    seconds: float
    body: bytes = b""
    attempts: int = 1
    tag: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, path: str, body: bytes, headers: dict, *, timeout: float = 30) -> tuple[int, bytes]:
    """One POST to 127.0.0.1 on a fresh connection (gunicorn's sync workers close after each response)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_load(
    *,
    port: int | list[int],
    path: str,
    total: int,
    concurrency: int,
    make: Callable[[int], tuple[bytes, dict, str]],
    retry: Callable[[int, int], float | None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[Reply], float]:
    """Send `total` POSTs with `concurrency` threads; returns the replies and the wall time in seconds.

    `make(i)` gives (body, headers, tag) of request i. `retry(status, attempt)` returns seconds to wait
    before sending the same request again, or None to accept the reply; connection errors count as 0.
    Latency is measured per attempt that is accepted, retries are counted in `attempts`. With a list of
    ports the client goes round robin, as a load balancer would: request i's attempt a goes to port
    (i + a - 1) mod n, so a retry goes to the next web instance.
    """
    ports = port if isinstance(port, list) else [port]
    replies: list[Reply | None] = [None] * total
    counter = iter(range(total))
    lock = threading.Lock()
    done = [0]

    def worker():
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            body, headers, tag = make(index)
            attempt = 0
            while True:
                attempt += 1
                start = time.perf_counter()
                try:
                    status, content = post(ports[(index + attempt - 1) % len(ports)], path, body, headers)
                except (OSError, http.client.HTTPException):
                    status, content = 0, b""
                seconds = time.perf_counter() - start
                wait = retry(status, attempt) if retry else None
                if wait is None:
                    break
                time.sleep(wait)
            replies[index] = Reply(index, status, seconds, content, attempt, tag)
            with lock:
                done[0] += 1
                finished = done[0]
            if on_progress:
                on_progress(finished)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in replies if r is not None], time.perf_counter() - start


class Gunicorn:
    """One gunicorn (bench settings: product URLs + the ceiling view) on a fixed loopback port, in a process
    group of its own so `kill()` takes the master and its workers down at once, as a crashed machine would."""

    def __init__(self, database_url: str, *, workers: int = 4, extra_env: dict | None = None, port: int = 0):
        from benchmarks import db

        self.port = port or free_port()
        self.env = {**os.environ, **db.bench_environment(), "DATABASE_URL": database_url, **(extra_env or {})}
        self.command = [
            db.python(), "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", "sync", "--timeout", "120", "--log-level", "warning",
        ]
        self.process: subprocess.Popen | None = None
        self.log = None

    def start(self) -> None:
        from benchmarks import db

        if self.log is None:
            self.log = open(RESULTS_DIR.parent / ".gunicorn.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command, cwd=db.BASE_DIR, env=self.env, stdout=self.log,
                                        stderr=self.log, start_new_session=True)
        _wait_until_serving(self.port, self.process)

    def kill(self) -> None:
        """SIGKILL to the master and every worker: requests in flight are cut."""
        import signal

        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.log is not None:
            self.log.close()
            self.log = None


@contextlib.contextmanager
def gunicorn(database_url: str, *, workers: int = 4, extra_env: dict | None = None) -> Iterator[int]:
    """Serve the project (bench settings: product URLs + the ceiling view) on 127.0.0.1; yields the port."""
    server = Gunicorn(database_url, workers=workers, extra_env=extra_env)
    try:
        server.start()
        yield server.port
    finally:
        server.stop()


def _wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see benchmarks/.gunicorn.log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/accounts/login/")
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise RuntimeError("gunicorn did not start serving within a minute")
