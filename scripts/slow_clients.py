#!/usr/bin/env python3
"""Hostile clients: the /healthz rate of one peer while another holds many
half-sent requests open.

Starts `campaignd run` on a fresh SQLite file (no campaigns, no vendors beyond
one sim), measures /healthz from 127.0.0.1 for DURATION seconds (baseline),
then opens SLOW connections from 127.0.0.2 that each send half a request's
headers and keep reopening when the server closes them, and measures /healthz
from 127.0.0.1 again. Prints both rates, the latency percentiles, how many
slow connections the server held open at the peak and how many it closed.

    scripts/slow_clients.py [--bin target/release/campaignd] [--slow 2000] [--duration 10]
                            [--reconnect-delay 1.0] [--http 'max_connections_per_peer = 64']

Python 3 standard library only. Raises its own soft fd limit as far as the
hard limit allows.
"""

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CONFIG = """
[database]
url = "sqlite://{db}?mode=rwc"

[http]
listen = "127.0.0.1:0"
{http}

[[vendors]]
id = "sim-a"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "k"
callback_secret = "s"
"""


def start_daemon(binary, workdir, http):
    cfg = os.path.join(workdir, "config.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(db=os.path.join(workdir, "campaignd.db"), http=http))
    proc = subprocess.Popen(
        [binary, "--config", cfg, "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CAMPAIGND_LOG": "error"},
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("campaignd listening on http://"):
            host, port = line.strip().rsplit("//", 1)[1].rsplit(":", 1)
            return proc, host, int(port)
    raise SystemExit("campaignd exited before listening")


async def healthz_rate(host, port, seconds, workers=4):
    """Requests/s of GET /healthz from 127.0.0.1, each on a new connection
    (the way a health checker does it), with a 5 s timeout per request."""
    latencies, failures = [], 0
    deadline = time.monotonic() + seconds

    async def one():
        nonlocal failures
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=("127.0.0.1", 0)), 5)
                w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = await asyncio.wait_for(r.read(), 5)
                w.close()
                if data.startswith(b"HTTP/1.1 200"):
                    latencies.append(time.monotonic() - t0)
                else:
                    failures += 1
            except (OSError, asyncio.TimeoutError):
                failures += 1

    await asyncio.gather(*(one() for _ in range(workers)))
    return latencies, failures


async def slow_client(host, port, stats, stop, reconnect_delay):
    """Hold one connection with half a request; reopen it when the server closes it."""
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection(host, port, local_addr=("127.0.0.2", 0))
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.5)
            continue
        w.write(b"POST /callbacks/sim-a HTTP/1.1\r\nHost: x\r\n")
        stats["open"] += 1
        stats["peak"] = max(stats["peak"], stats["open"])
        try:
            await r.read()  # returns when the server closes the connection
        except OSError:
            pass
        stats["open"] -= 1
        stats["closed_by_server"] += 1
        w.close()
        # How fast the attacker comes back after the server closed it: at
        # once is a connection flood (limited by this script's own CPU).
        await asyncio.sleep(reconnect_delay)


def summary(name, latencies, failures, seconds):
    n = len(latencies)
    if n:
        q = statistics.quantiles(latencies, n=100) if n > 1 else [latencies[0]] * 99
        p50, p99 = q[49] * 1000, q[98] * 1000
    else:
        p50 = p99 = float("nan")
    print(f"{name}: {n / seconds:.0f} /healthz per s ({n} ok, {failures} failed), p50 {p50:.1f} ms, p99 {p99:.1f} ms")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/campaignd")
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--reconnect-delay", type=float, default=1.0, help="seconds before a closed slow client reconnects")
    ap.add_argument("--http", default="", help="extra [http] lines, e.g. 'max_connections_per_peer = 64'")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.slow * 2 + 1024)), hard))

    with tempfile.TemporaryDirectory() as workdir:
        proc, host, port = start_daemon(args.bin, workdir, args.http.replace("\\n", "\n"))
        try:
            lat, fail = await healthz_rate(host, port, args.duration)
            summary("baseline (no slow clients)", lat, fail, args.duration)

            stats = {"open": 0, "peak": 0, "closed_by_server": 0, "connect_errors": 0}
            stop = asyncio.Event()
            slow = [asyncio.create_task(slow_client(host, port, stats, stop, args.reconnect_delay)) for _ in range(args.slow)]
            await asyncio.sleep(2)  # let the slow connections pile up (not a synchronization: a load ramp)
            lat, fail = await healthz_rate(host, port, args.duration)
            summary(f"with {args.slow} slow connections from 127.0.0.2", lat, fail, args.duration)
            print(
                f"slow connections: at most {stats['peak']} open at once, "
                f"{stats['closed_by_server']} closed by the server, {stats['connect_errors']} connect errors"
            )
            stop.set()
            for t in slow:
                t.cancel()
            await asyncio.gather(*slow, return_exceptions=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print("campaignd did not exit within 60 s of SIGTERM (slow connections held its shutdown); killed")
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
