#!/usr/bin/env python3
"""What the inbox's dedupe index costs SQLite itself, outside the daemon.

Inserts callback rows shaped like the ingest bench's (a ~300-byte JSON body,
its headers, the SHA-256 hex of the body as `dedupe_key`) into the daemon's
`callback_inbox` schema, a batch per transaction as the inbox writer commits
them, in WAL mode with `synchronous = full`, and prints rows/s and the WAL
bytes written per row: with the index on (vendor_id, dedupe_key), without it,
and with an 8-byte key; last, with the daemon's index and a checkpointer
beside the writer, as the daemon runs (the sustained rate). The key is a hash, so each row of a batch lands on
its own leaf page of that index, and each commit writes every such page to
the WAL whole. The figures are in docs/benchmarks.md ("WAL checkpoints beside
the writer"). Usage: python3 scripts/inbox_index_cost.py [ROWS] [BATCH]
"""
import hashlib
import json
import os
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE callback_inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, vendor_id TEXT NOT NULL,
  received_at TEXT NOT NULL, remote_addr TEXT, headers TEXT NOT NULL, body BLOB NOT NULL,
  dedupe_key TEXT NOT NULL, state TEXT NOT NULL, error TEXT, events INTEGER NOT NULL DEFAULT 0,
  processed_at TEXT, retry_at TEXT NOT NULL);
CREATE INDEX ix_inbox_state_id ON callback_inbox (state, id);
CREATE INDEX ix_inbox_state_retry ON callback_inbox (state, retry_at, id);
"""
DEDUPE = "CREATE INDEX ix_inbox_vendor_dedupe ON callback_inbox (vendor_id, dedupe_key);"
HEADERS = json.dumps({"content-type": "application/json", "host": "127.0.0.1:8080", "x-sim-signature": "0" * 64})


def body(i):
    return json.dumps({"event_id": f"{i:032x}", "call_id": f"c-{i}", "reference": f"{i}-1", "batch_id": "b-1",
                       "status": "ANSWERED", "intent": "PTP", "started_at": "2026-12-06T22:00:00.123456Z",
                       "ended_at": "2026-12-06T22:00:42.123456Z", "duration_ms": 42000}).encode()


def checkpoints(path, stop):
    """What the daemon's checkpointer does (store::wal_checkpoints): a
    PASSIVE checkpoint every 100 ms on a connection of its own."""
    import sqlite3
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    while not stop.wait(0.1):
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    db.close()


def run(label, dedupe, key_bytes, rows, batch, checkpointed=False):
    import sqlite3
    import threading
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "inbox.db")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode = wal")
        db.execute("PRAGMA synchronous = full")
        # Without the checkpointer the WAL's size is the measurement; with
        # it, the daemon's backstop.
        db.execute("PRAGMA wal_autocheckpoint = " + ("10000" if checkpointed else "0"))
        db.executescript(SCHEMA + (DEDUPE if dedupe else ""))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stop = threading.Event()
        checkpointer = threading.Thread(target=checkpoints, args=(path, stop)) if checkpointed else None
        if checkpointer:
            checkpointer.start()
        started = time.perf_counter()
        for b in range(rows // batch):
            values = []
            for i in range(b * batch, (b + 1) * batch):
                data = body(i)
                digest = hashlib.sha256(data)
                key = digest.hexdigest() if key_bytes is None else digest.digest()[:key_bytes]
                values.append(("sim", "2026-12-06T22:00:00Z", "127.0.0.1", HEADERS, data, key, "pending", None,
                               "2026-12-06T22:00:00Z"))
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO callback_inbox (vendor_id, received_at, remote_addr, headers, body, "
                           "dedupe_key, state, error, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        if checkpointer:
            stop.set()
            checkpointer.join()
        wal = os.path.getsize(path + "-wal")
        db.close()
    wal_note = "(checkpointed)" if checkpointed else f"{wal / rows:>7,.0f} WAL bytes/row"
    print(f"{label:<34} {rows / elapsed:>9,.0f} rows/s  {wal_note}")


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 65_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"{rows:,} rows in batches of {batch}, WAL, synchronous = full")
    run("dedupe index, SHA-256 hex key", True, None, rows, batch)
    run("no dedupe index", False, None, rows, batch)
    run("dedupe index, 8-byte key", True, 8, rows, batch)
    run("dedupe index, SHA-256 hex key", True, None, rows, batch)
    run("as the daemon: with checkpoints", True, None, rows, batch, checkpointed=True)


if __name__ == "__main__":
    main()
