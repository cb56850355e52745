#!/usr/bin/env python3
"""Signed `sim` result bodies as a Lua table for scripts/load.sh.

Usage: load_bodies.py SECRET COUNT > bodies.lua

Built from the sim protocol (src/vendors/sim/wire.rs: a CallResult, signed
X-Sim-Signature = hex(HMAC-SHA256(secret, body))), for references the daemon
never sent: the ingest path is measured, including the waiting it gives a
result it cannot match yet.
"""
import hashlib, hmac, json, sys, uuid

secret, count = sys.argv[1].encode(), int(sys.argv[2])
bodies, sigs = [], []
for i in range(count):
    body = json.dumps({
        "event_id": str(uuid.uuid4()), "call_id": f"load-{i}", "reference": f"load000000-{i}-1",
        "batch_id": "b-load", "status": "NO_ANSWER", "intent": None,
        "started_at": None, "ended_at": "2026-12-03T08:00:00Z", "duration_ms": 0,
    }, separators=(",", ":"))
    bodies.append(body)
    sigs.append(hmac.new(secret, body.encode(), hashlib.sha256).hexdigest())
lua = lambda s: "[==[" + s + "]==]"
print("bodies = {" + ",\n".join(lua(b) for b in bodies) + "}")
print("signatures = {" + ",\n".join(lua(s) for s in sigs) + "}")
