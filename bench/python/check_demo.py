#!/usr/bin/env python3
"""End-to-end check of bench/python/demo.py against the demo contract.

    python bench/python/check_demo.py [--demo PATH]

Starts the demo itself (``--port 0``), drives it over the level-1 wire protocol
with plain ``websockets`` + HTTP, checks snapshots, every command (results,
errors, patches), acquisition streams (incl. binary float32 trace frames),
persistence, refused flags, and a clean stop on SIGTERM and SIGINT. Exits
non-zero with a clear message on the first mismatch.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import jsonpatch
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

HERE = Path(__file__).resolve().parent
INITIAL: dict[str, Any] = {
    "enabled": False,
    "channels": [
        {"name": "ch0", "bias_voltage": 0.0, "active": False},
        {"name": "ch1", "bias_voltage": 0.0, "active": False},
        {"name": "ch2", "bias_voltage": 0.0, "active": False},
        {"name": "ch3", "bias_voltage": 0.0, "active": False},
    ],
    "labels": {},
    "acquisition": {"running": False, "rate_hz": 10.0, "count": 0},
}
BIAS_MSG = "Bias voltage must be between -10 V and 10 V."
RATE_MSG = "Rate must be above 0 Hz and at most 1000 Hz."
CHECKS = 0


class Mismatch(Exception):
    pass


def same(a: Any, b: Any) -> bool:
    """Equal including key order and int/float distinction."""
    return json.dumps(a) == json.dumps(b)


def expect(cond: bool, what: str, got: Any = None) -> None:
    global CHECKS
    CHECKS += 1
    if not cond:
        raise Mismatch(what + ("" if got is None else f"\n    got: {got!r}"))


def expect_eq(got: Any, want: Any, what: str) -> None:
    global CHECKS
    CHECKS += 1
    if not same(got, want):
        raise Mismatch(f"{what}\n    want: {json.dumps(want)}\n    got:  {json.dumps(got)}")


# ── the demo process ──────────────────────────────────────────────────────────


class Demo:
    def __init__(self, demo: Path, *extra: str) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, str(demo), "--port", "0", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(20)
        if not line or not line[0]:
            self.proc.kill()
            raise Mismatch(f"demo printed no listening line within 20 s\n{self.log()}")
        self.line = line[0]
        prefix = "lab-link demo listening on http://127.0.0.1:"
        expect(self.line.startswith(prefix) and self.line.endswith("\n"), "listening line format", self.line)
        self.port = int(self.line[len(prefix):].strip())
        expect(self.port > 0, "a real port is printed for --port 0", self.line)
        self.base = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        self.stderr.seek(0)
        return "demo stderr:\n" + self.stderr.read().decode(errors="replace")[-4000:]

    def stop(self, sig: int, timeout: float = 8.0) -> tuple[int, float, str]:
        start = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Mismatch(f"demo did not stop within {timeout} s of signal {sig}\n{self.log()}")
        rest = self.proc.stdout.read()
        return rc, time.monotonic() - start, rest

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http_state(base: str, prefix: str = "/sync") -> Any:
    with urllib.request.urlopen(f"{base}{prefix}/state", timeout=5) as resp:
        expect(resp.status == 200, "GET state status 200", resp.status)
        expect(
            resp.headers.get("content-type", "").startswith("application/json"),
            "GET state content type",
            resp.headers.get("content-type"),
        )
        return json.loads(resp.read())


# ── a protocol client ─────────────────────────────────────────────────────────


class Client:
    """Raw level-1 client keeping a replica and checking version continuity."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.doc: Any = None
        self.version = -1
        self.client_id: str | None = None
        self.rid = 0

    @classmethod
    async def open(cls, url: str) -> tuple["Client", dict[str, Any]]:
        ws = await connect(url, max_size=None)
        client = cls(ws)
        snap = await client.recv()
        expect(isinstance(snap, dict) and snap.get("type") == "snapshot", "first message is a snapshot", snap)
        client.doc = copy.deepcopy(snap["data"])
        client.version = snap["version"]
        streams = {}
        for _ in range(3):
            msg = await client.recv()
            expect(isinstance(msg, dict) and msg.get("type") == "stream_snapshot", "stream snapshots follow", msg)
            streams[msg["id"]] = msg
        expect_eq(sorted(streams), ["counts", "histogram", "trace"], "one stream_snapshot per registered stream")
        return client, {"snapshot": snap, "streams": streams}

    async def recv(self, timeout: float = 5.0) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return raw if isinstance(raw, bytes) else json.loads(raw)

    def apply(self, msg: dict[str, Any]) -> None:
        expect(
            msg["version"] == self.version + 1,
            f"patch version {self.version + 1} follows {self.version} without gap",
            msg,
        )
        self.version = msg["version"]
        self.doc = jsonpatch.apply_patch(self.doc, msg["patch"])

    async def command(
        self, command: str, params: dict[str, Any] | None = None, raw_params: str | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any], list[Any]]:
        """Send a command; return (patches before the reply, reply, other messages)."""
        self.rid += 1
        rid = f"r{self.rid}"
        if raw_params is not None:
            text = f'{{"type":"command","command":"{command}","params":{raw_params},"requestId":"{rid}"}}'
        else:
            text = json.dumps({"type": "command", "command": command, "params": params or {}, "requestId": rid})
        t0 = time.monotonic()
        await self.ws.send(text)
        patches: list[dict[str, Any]] = []
        other: list[Any] = []
        while True:
            msg = await self.recv()
            if isinstance(msg, dict) and msg.get("type") == "patch":
                self.apply(msg)
                patches.append(msg)
            elif isinstance(msg, dict) and msg.get("type") in ("command_ack", "command_error") and msg.get("requestId") == rid:
                msg["_elapsed"] = time.monotonic() - t0
                expect(msg.get("command") == command, f"{command}: reply names the command", msg)
                expect(msg.get("version") == self.version, f"{command}: reply version is the current version", msg)
                return patches, msg, other
            else:
                other.append(msg)


async def ok(c: Client, command: str, params: dict[str, Any] | None, result: Any, ops: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Run a command expected to succeed; ops=None means no patch at all."""
    patches, reply, _ = await c.command(command, params)
    what = f"{command}({json.dumps(params)})"
    expect(reply["type"] == "command_ack", f"{what} succeeds", reply)
    if result is None:
        expect("result" not in reply, f"{what}: ack has no result", reply)
    else:
        expect_eq(reply.get("result"), result, f"{what}: result")
    if ops is None:
        expect(not patches, f"{what}: no patch", patches)
    else:
        expect(len(patches) == 1, f"{what}: exactly ONE patch message", patches)
        p = patches[0]
        expect_eq(p["patch"], ops, f"{what}: patch ops")
        expect(p.get("requestId") == reply["requestId"] and p.get("command") == command, f"{what}: patch carries command metadata", p)
        if c.client_id is None:
            c.client_id = p.get("originClientId")
        expect(p.get("originClientId") == c.client_id and c.client_id, f"{what}: patch originClientId", p)
    return patches


async def err(
    c: Client, command: str, params: dict[str, Any] | None, code: str, message: str | None,
    path: str | None, display: str = "inline", raw_params: str | None = None, detail: str | None = None,
    recoverable: bool = True,
) -> dict[str, Any]:
    before = copy.deepcopy(c.doc)
    patches, reply, _ = await c.command(command, params, raw_params)
    what = f"{command}({raw_params or json.dumps(params)})"
    expect(reply["type"] == "command_error", f"{what} fails", reply)
    expect(not patches, f"{what}: nothing changes (no patch)", patches)
    expect_eq(c.doc, before, f"{what}: state unchanged")
    expect_eq(reply.get("code"), code, f"{what}: error code")
    if message is not None:
        expect_eq(reply.get("message"), message, f"{what}: error message")
    expect_eq(reply.get("path"), path, f"{what}: error path")
    expect_eq(reply.get("detail"), detail, f"{what}: error detail")
    expect_eq(reply.get("display"), display, f"{what}: display")
    expect_eq(reply.get("severity"), "error", f"{what}: severity")
    expect_eq(reply.get("recoverable"), recoverable, f"{what}: recoverable")
    expect(bool(reply.get("originClientId")), f"{what}: originClientId present", reply)
    return reply


def rep(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def decode_frame(frame: bytes) -> tuple[str, int, list[float]]:
    expect(frame[0] == 0x01, "binary frame tag 0x01", frame[:8])
    (n,) = struct.unpack_from("<H", frame, 1)
    sid = frame[3:3 + n].decode()
    (seq,) = struct.unpack_from("<I", frame, 3 + n)
    body = frame[7 + n:]
    expect(len(body) % 4 == 0, "float32 payload length", len(body))
    return sid, seq, list(struct.unpack(f"<{len(body) // 4}f", body))


# ── the checks ─────────────────────────────────────────────────────────────────


async def check_commands(base: str) -> None:
    ws_url = base.replace("http://", "ws://") + "/sync/ws"
    expect_eq(http_state(base), INITIAL, "GET /sync/state is the initial state (key order, 0.0 floats)")

    c, hello = await Client.open(ws_url)
    obs, _ = await Client.open(ws_url)  # a second client sees the same patches
    expect_eq(hello["snapshot"]["data"], INITIAL, "snapshot data is the initial state")
    s = hello["streams"]
    expect_eq(s["counts"]["data"], [], "counts starts empty")
    expect_eq(s["trace"]["data"], [], "trace starts empty")
    expect_eq(s["histogram"]["data"], [0] * 64, "histogram has 64 zero bins")

    # set_enabled
    await ok(c, "set_enabled", {"enabled": True}, {"enabled": True}, [rep("/enabled", True)])
    # set_channel, rounding, range edges, errors
    await ok(c, "set_channel", {"channel": 1, "value": 1.23456}, {"channel": 1, "value": 1.235}, [rep("/channels/1/bias_voltage", 1.235)])
    await ok(c, "set_channel", {"channel": 0, "value": 2.0005}, {"channel": 0, "value": round(2.0005, 3)}, [rep("/channels/0/bias_voltage", round(2.0005, 3))])
    await ok(c, "set_channel", {"channel": 2, "value": -10}, {"channel": 2, "value": -10.0}, [rep("/channels/2/bias_voltage", -10.0)])
    await ok(c, "set_channel", {"channel": 3, "value": 10.0}, {"channel": 3, "value": 10.0}, [rep("/channels/3/bias_voltage", 10.0)])
    for ch in (4, 7, -1, -5):
        await err(c, "set_channel", {"channel": ch, "value": 1.0}, "invalid_channel", f"Channel {ch} does not exist.", f"/channels/{ch}")
    await err(c, "set_channel", {"channel": 9, "value": 100.0}, "invalid_channel", "Channel 9 does not exist.", "/channels/9")
    for v in ("10.5", "-10.001", "NaN", "Infinity", "-Infinity", "1e999"):
        await err(c, "set_channel", None, "out_of_range", BIAS_MSG, "/channels/0/bias_voltage", raw_params=f'{{"channel":0,"value":{v}}}')
    # set_active
    await ok(c, "set_active", {"channel": 2, "active": True}, {"channel": 2, "active": True}, [rep("/channels/2/active", True)])
    await err(c, "set_active", {"channel": 4, "active": True}, "invalid_channel", "Channel 4 does not exist.", "/channels/4")
    await err(c, "set_active", {"channel": -1, "active": False}, "invalid_channel", "Channel -1 does not exist.", "/channels/-1")
    # add_channel / remove_channel
    await ok(c, "add_channel", {"name": "aux"}, {"index": 4},
             [{"op": "add", "path": "/channels/4", "value": {"name": "aux", "bias_voltage": 0.0, "active": False}}])
    await ok(c, "set_channel", {"channel": 4, "value": 3.0}, {"channel": 4, "value": 3.0}, [rep("/channels/4/bias_voltage", 3.0)])
    await ok(c, "remove_channel", {"channel": 4}, {"removed": "aux"}, [{"op": "remove", "path": "/channels/4"}])
    await ok(c, "add_channel", {"name": "tmp"}, {"index": 4}, [{"op": "add", "path": "/channels/4", "value": {"name": "tmp", "bias_voltage": 0.0, "active": False}}])
    await ok(c, "remove_channel", {"channel": 0}, {"removed": "ch0"}, [{"op": "remove", "path": "/channels/0"}])
    for ch in (4, 10, -1):
        await err(c, "remove_channel", {"channel": ch}, "invalid_channel", f"Channel {ch} does not exist.", f"/channels/{ch}")
    # set_label: add, replace, remove, remove-missing, escaping
    for key, esc in (("a/b~c", "a~1b~0c"), ("plain", "plain"), ("", "")):
        await ok(c, "set_label", {"key": key, "value": "x"}, None, [{"op": "add", "path": f"/labels/{esc}", "value": "x"}])
        await ok(c, "set_label", {"key": key, "value": "y"}, None, [rep(f"/labels/{esc}", "y")])
    await ok(c, "set_label", {"key": "plain", "value": None}, None, [{"op": "remove", "path": "/labels/plain"}])
    await ok(c, "set_label", {"key": "plain", "value": None}, None, None)
    await ok(c, "set_label", {"key": "never", "value": None}, None, None)
    # set_all: one patch for every channel
    n = len(c.doc["channels"])
    await ok(c, "set_all", {"value": 2.34567}, {"count": n}, [rep(f"/channels/{i}/bias_voltage", 2.346) for i in range(n)])
    await ok(c, "set_all", {"value": -4}, {"count": n}, [rep(f"/channels/{i}/bias_voltage", -4.0) for i in range(n)])
    for v in ("11", "-10.5", "NaN", "1e999"):
        await err(c, "set_all", None, "out_of_range", BIAS_MSG, "/channels", raw_params=f'{{"value":{v}}}')
    # start_acquisition range errors
    for v in ("0", "-1", "1000.5", "1e999", "NaN", "0.0"):
        await err(c, "start_acquisition", None, "out_of_range", RATE_MSG, "/acquisition/rate_hz", raw_params=f'{{"rate_hz":{v}}}')
    # simulate_timeout returns at once
    r = await err(c, "simulate_timeout", None, "hardware_timeout", "The voltage source did not respond before the timeout.",
                  None, display="banner", detail="UDP timeout after 5.0 s")
    expect(r["_elapsed"] < 1.0, "simulate_timeout answers at once", r["_elapsed"])
    # wrong or missing params (this demo's own check; level 2 names it invalid_params)
    await err(c, "set_channel", {"channel": 0}, "invalid_params", "Missing parameter 'value'.", None)
    await err(c, "set_channel", {"channel": "1", "value": 1.0}, "invalid_params", "Parameter 'channel' must be an integer.", None)
    await err(c, "set_enabled", {"enabled": 1}, "invalid_params", "Parameter 'enabled' must be a boolean.", None)
    await err(c, "set_label", {"key": "k", "value": 3}, "invalid_params", "Parameter 'value' must be a string.", None)
    await ok(c, "set_enabled", {"enabled": True, "extra": 1}, {"enabled": True}, None)  # unknown params ignored
    # unknown command (0.5.0 server behaviour)
    _, reply, _ = await c.command("no_such_command", {})
    expect(reply["type"] == "command_error" and reply["code"] == "unknown_command" and reply["recoverable"] is False,
           "unknown command -> unknown_command", reply)

    expect_eq(http_state(base), c.doc, "replica (snapshot + patches) equals GET /sync/state")

    # reset: one whole-document replace
    await ok(c, "reset", None, None, [{"op": "replace", "path": "", "value": INITIAL}])
    expect_eq(http_state(base), INITIAL, "reset restores the initial state")
    expect_eq(c.doc, INITIAL, "replica after reset")

    # the observer got the very same patch messages
    seen = 0
    while obs.version < c.version:
        msg = await obs.recv()
        if isinstance(msg, dict) and msg.get("type") == "patch":
            obs.apply(msg)
            seen += 1
    expect_eq(obs.doc, c.doc, "second client's replica equals the first's")

    await check_acquisition(c, obs, ws_url, base)
    await c.ws.close()
    await obs.ws.close()


async def check_acquisition(c: Client, obs: Client, ws_url: str, base: str) -> None:
    await ok(c, "set_enabled", {"enabled": True}, {"enabled": True}, [rep("/enabled", True)])
    await ok(c, "set_active", {"channel": 0, "active": True}, {"channel": 0, "active": True}, [rep("/channels/0/active", True)])
    await ok(c, "set_channel", {"channel": 0, "value": 5.0}, {"channel": 0, "value": 5.0}, [rep("/channels/0/bias_voltage", 5.0)])
    await ok(c, "start_acquisition", {"rate_hz": 50}, {"rate_hz": 50.0},
             [rep("/acquisition/running", True), rep("/acquisition/rate_hz", 50.0)])

    counts: list[Any] = []
    seqs: dict[str, list[int]] = {"counts": [], "trace": [], "histogram": []}
    bins = [0] * 64
    last_trace: list[float] = []
    ticks = 0
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        msg = await c.recv()
        if isinstance(msg, bytes):
            sid, seq, samples = decode_frame(msg)
            expect_eq(sid, "trace", "binary frame id")
            expect(len(samples) == 256, "trace frame holds 256 float32 samples", len(samples))
            expect(all(math.isfinite(x) for x in samples), "trace samples finite")
            seqs["trace"].append(seq)
            last_trace = samples
        elif msg["type"] == "patch":
            c.apply(msg)
            expect_eq(msg["patch"], [rep("/acquisition/count", ticks + 1)], "tick patch increments /acquisition/count by 1")
            expect(not ({"originClientId", "requestId", "command"} & set(msg)), "tick patch has no command metadata", msg)
            ticks += 1
        elif msg["type"] == "stream_append":
            expect_eq(msg["id"], "counts", "append stream id")
            expect(len(msg["data"]) == 1 and isinstance(msg["data"][0], float) and msg["data"][0] >= 0, "one float count rate per tick", msg)
            expect(round(msg["data"][0], 1) == msg["data"][0], "count rate rounded to 1 decimal", msg)
            counts.extend(msg["data"])
            seqs["counts"].append(msg["seq"])
        elif msg["type"] == "stream_delta":
            expect_eq(msg["id"], "histogram", "delta stream id")
            d = msg["deltas"]
            expect(len(d) == 3 and len({b for b, _ in d}) == 3 and all(0 <= b < 64 and v == 1 for b, v in d),
                   "3 distinct histogram bins incremented by 1", msg)
            for b, v in d:
                bins[b] += v
            seqs["histogram"].append(msg["seq"])
        else:
            raise Mismatch(f"unexpected message during acquisition: {msg!r}")
    expect(80 <= ticks <= 110, "about 50 ticks per second at 50 Hz (2 s window)", ticks)
    for sid, ss in seqs.items():
        expect(ss == list(range(1, len(ss) + 1)), f"{sid}: seq grows by 1 from 1", ss[:5])
        expect(abs(len(ss) - ticks) <= 1, f"{sid}: one update per tick", (len(ss), ticks))
    expect(600 < sum(counts) / len(counts) < 800, "count rate reflects channel 0 bias (mean 1000*(0.2+0.5) = 700)", sum(counts) / len(counts))

    # stop: running false, ticks stop
    patches, reply, other = await c.command("stop_acquisition")
    expect(reply["type"] == "command_ack" and "result" not in reply, "stop_acquisition acks without result", reply)
    stop = [p for p in patches if p.get("command") == "stop_acquisition"]
    expect(len(stop) == 1 and stop[0]["patch"] == [rep("/acquisition/running", False)], "stop_acquisition patch", patches)
    # drain what was in flight, then make sure nothing more arrives
    drained = other
    try:
        while True:
            drained.append(await c.recv(timeout=0.5))
    except asyncio.TimeoutError:
        pass
    for msg in drained:
        if isinstance(msg, bytes):
            _, seq, last_trace = decode_frame(msg)
            seqs["trace"].append(seq)
        elif msg["type"] == "patch":
            c.apply(msg)
        elif msg["type"] == "stream_append":
            counts.extend(msg["data"])
            seqs["counts"].append(msg["seq"])
        elif msg["type"] == "stream_delta":
            for b, v in msg["deltas"]:
                bins[b] += v
            seqs["histogram"].append(msg["seq"])
    expect(len(drained) <= 8, "acquisition stops promptly after stop_acquisition", len(drained))
    state = http_state(base)
    expect_eq(state, c.doc, "replica equals GET state after acquisition")
    expect(state["acquisition"]["running"] is False and state["acquisition"]["count"] >= ticks and state["acquisition"]["rate_hz"] == 50.0,
           "acquisition: stopped, count kept, rate kept", state["acquisition"])

    # reset keeps the streams; a new client's stream snapshots equal what was streamed
    await ok(c, "reset", None, None, [{"op": "replace", "path": "", "value": INITIAL}])
    fresh, hello = await Client.open(ws_url)
    expect_eq(hello["snapshot"]["data"], INITIAL, "new client's snapshot after reset")
    s = hello["streams"]
    expect_eq(s["counts"]["data"], counts[-1000:], "counts snapshot = appended values (stream kept across reset)")
    expect_eq(s["counts"]["seq"], seqs["counts"][-1], "counts snapshot seq = last append seq")
    expect_eq(s["trace"]["data"], last_trace, "trace snapshot = last binary frame, float32-identical")
    expect_eq(s["trace"]["seq"], seqs["trace"][-1], "trace snapshot seq = last frame seq")
    expect_eq(s["histogram"]["data"], bins, "histogram snapshot = sum of deltas")
    expect_eq(sum(bins), 3 * len(seqs["histogram"]), "3 increments per tick")
    # stream_resync
    await fresh.ws.send(json.dumps({"type": "stream_resync", "id": "histogram"}))
    msg = await fresh.recv()
    expect(msg.get("type") == "stream_snapshot" and msg["data"] == bins, "stream_resync answers a stream_snapshot", msg)
    # start/stop again, quickly, at a high rate: state restarts from the initial count
    await ok(c, "start_acquisition", {"rate_hz": 1000}, {"rate_hz": 1000.0}, [rep("/acquisition/running", True), rep("/acquisition/rate_hz", 1000.0)])
    await asyncio.sleep(0.3)
    await c.command("stop_acquisition")
    await asyncio.sleep(0.2)
    st = http_state(base)
    expect(st["acquisition"]["running"] is False and 100 <= st["acquisition"]["count"] <= 400,
           "1000 Hz acquisition ticks (~300 in 0.3 s; loose bound)", st["acquisition"])
    await fresh.ws.close()

    # the observer saw every tick patch too, in order
    try:
        while obs.version < c.version:
            msg = await obs.recv()
            if isinstance(msg, dict) and msg.get("type") == "patch":
                obs.apply(msg)
    except asyncio.TimeoutError:
        raise Mismatch(f"observer stuck at version {obs.version}, first client at {c.version}")
    # c itself may lag behind (it has not read the 1000 Hz messages); compare observer with HTTP
    expect_eq(obs.doc, http_state(base), "observer replica equals GET state")


async def check_official_client(base: str) -> None:
    """The published 0.5.0 Python client works unchanged against the demo."""
    from lab_link import AsyncLabLinkClient, SyncCommandError

    async with AsyncLabLinkClient(base.replace("http://", "ws://") + "/sync/ws") as client:
        ack = await client.send_command("set_channel", {"channel": 1, "value": -3.14159})
        expect_eq(ack.result, {"channel": 1, "value": -3.142}, "official client: set_channel result")
        await asyncio.sleep(0.2)
        expect_eq(client.snapshot()["channels"][1]["bias_voltage"], -3.142, "official client: replica updated")
        try:
            await client.send_command("set_active", {"channel": 99, "active": True})
            raise Mismatch("official client: set_active(99) should raise")
        except SyncCommandError as exc:
            expect((exc.code, exc.path, exc.display) == ("invalid_channel", "/channels/99", "inline"),
                   "official client: structured error", (exc.code, exc.path, exc.display))
        expect_eq(client.snapshot(), http_state(base), "official client: replica equals GET state")


async def check_close_frame(demo: Demo) -> None:
    ws_url = demo.base.replace("http://", "ws://") + "/sync/ws"
    c, _ = await Client.open(ws_url)
    await ok(c, "start_acquisition", {"rate_hz": 100}, {"rate_hz": 100.0},
             [rep("/acquisition/running", True), rep("/acquisition/rate_hz", 100.0)])
    loop = asyncio.get_running_loop()
    stopper = loop.run_in_executor(None, demo.stop, signal.SIGTERM)
    closed = False
    try:
        while True:
            await c.recv(timeout=8)
    except ConnectionClosed as exc:
        closed = exc.rcvd is not None
    rc, elapsed, rest = await stopper
    expect(closed, "client receives a close frame on SIGTERM")
    expect_eq(rc, 0, "exit status after SIGTERM")
    expect(elapsed < 5.0, "SIGTERM stops promptly", elapsed)
    expect_eq(rest, "", "nothing else on stdout")


def check_sigint(demo_path: Path) -> None:
    d = Demo(demo_path)
    try:
        expect_eq(http_state(d.base), INITIAL, "fresh start without --persist is the initial state")
        rc, elapsed, rest = d.stop(signal.SIGINT)
        expect_eq(rc, 0, "exit status after SIGINT")
        expect(elapsed < 5.0, "SIGINT stops promptly", elapsed)
        expect_eq(rest, "", "nothing else on stdout")
    finally:
        d.kill()


async def check_persist(demo_path: Path, tmp: str) -> None:
    db = os.path.join(tmp, "demo.sqlite")
    d = Demo(demo_path, "--persist", db)
    try:
        c, _ = await Client.open(d.base.replace("http://", "ws://") + "/sync/ws")
        await ok(c, "set_label", {"key": "kept", "value": "yes"}, None, [{"op": "add", "path": "/labels/kept", "value": "yes"}])
        await ok(c, "set_channel", {"channel": 3, "value": 7.5}, {"channel": 3, "value": 7.5}, [rep("/channels/3/bias_voltage", 7.5)])
        want = c.doc
        await c.ws.close()
        rc, _, _ = d.stop(signal.SIGTERM)
        expect_eq(rc, 0, "exit status after SIGTERM (--persist)")
    finally:
        d.kill()
    expect(os.path.exists(db), "--persist creates the SQLite file", db)
    d = Demo(demo_path, "--persist", db)
    try:
        expect_eq(http_state(d.base), want, "--persist restores the state at start")
        rc, _, _ = d.stop(signal.SIGTERM)
        expect_eq(rc, 0, "exit status after SIGTERM (restored)")
    finally:
        d.kill()


def check_refused_flags(demo_path: Path) -> None:
    for extra in (["--auth", "/tmp/x"], ["--allowed-origin", "http://a"], ["--no-trust-loopback"]):
        r = subprocess.run([sys.executable, str(demo_path), "--port", "0", *extra], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        expect(r.returncode != 0 and "not supported by this reference demo" in r.stderr and r.stdout == "",
               f"{extra[0]} is refused with a clear error", (r.returncode, r.stdout, r.stderr))


def check_prefix(demo_path: Path) -> None:
    d = Demo(demo_path, "--prefix", "/custom")
    try:
        expect_eq(http_state(d.base, "/custom"), INITIAL, "--prefix moves the endpoints")
        rc, _, _ = d.stop(signal.SIGTERM)
        expect_eq(rc, 0, "exit status (--prefix)")
    finally:
        d.kill()


async def run(demo_path: Path) -> None:
    demo = Demo(demo_path)
    try:
        await check_commands(demo.base)
        print("ok: snapshot, every command and error, patches, acquisition streams", file=sys.stderr)
        await check_official_client(demo.base)
        print("ok: lab_link.AsyncLabLinkClient 0.5.0", file=sys.stderr)
        await check_close_frame(demo)
        print("ok: SIGTERM -> close frame, exit 0", file=sys.stderr)
    except BaseException:
        print(demo.log(), file=sys.stderr)
        raise
    finally:
        demo.kill()
    check_sigint(demo_path)
    print("ok: SIGINT -> exit 0", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        await check_persist(demo_path, tmp)
    print("ok: --persist", file=sys.stderr)
    check_prefix(demo_path)
    print("ok: --prefix", file=sys.stderr)
    check_refused_flags(demo_path)
    print("ok: refused flags", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=HERE / "demo.py")
    args = parser.parse_args()
    try:
        asyncio.run(run(args.demo))
    except Mismatch as exc:
        print(f"check_demo: MISMATCH: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"check_demo: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"check_demo: all {CHECKS} checks passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
