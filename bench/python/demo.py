#!/usr/bin/env python3
"""Reference implementation of the lab-link demo instrument (the demo contract of lab-link-demo)
on top of the published Python package ``lab-link`` 0.5.0, served by uvicorn.

    python demo.py [--host 127.0.0.1] [--port 8000] [--prefix /sync] [--persist PATH]

Prints exactly one line to stdout, ``lab-link demo listening on http://HOST:PORT``,
once the server accepts connections; everything else goes to stderr. Stops cleanly
(exit status 0) on SIGINT and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import struct
import sys
from contextlib import asynccontextmanager
from typing import Any

from lab_link import CommandError, LabSync, ReactiveModel
from pydantic import Field
from starlette.applications import Starlette

import uvicorn

log = logging.getLogger("lab_link_demo")

# ── state ──────────────────────────────────────────────────────────────────────


class Channel(ReactiveModel):
    name: str
    bias_voltage: float = 0.0
    active: bool = False


class Acquisition(ReactiveModel):
    running: bool = False
    rate_hz: float = 10.0
    count: int = 0


def _default_channels() -> list[Channel]:
    return [Channel(name=f"ch{i}") for i in range(4)]


class DemoState(ReactiveModel):
    enabled: bool = False
    channels: list[Channel] = Field(default_factory=_default_channels)
    labels: dict[str, str] = Field(default_factory=dict)
    acquisition: Acquisition = Field(default_factory=Acquisition)


def initial_state() -> dict[str, Any]:
    return {
        "enabled": False,
        "channels": [
            {"name": f"ch{i}", "bias_voltage": 0.0, "active": False} for i in range(4)
        ],
        "labels": {},
        "acquisition": {"running": False, "rate_hz": 10.0, "count": 0},
    }


# ── parameter checks ───────────────────────────────────────────────────────────

_MISSING: Any = object()

BIAS_RANGE_MESSAGE = "Bias voltage must be between -10 V and 10 V."
RATE_RANGE_MESSAGE = "Rate must be above 0 Hz and at most 1000 Hz."
HISTOGRAM_BINS = 64
TRACE_SAMPLES = 256
COUNTS_CAPACITY = 1000


def _invalid_params(message: str) -> CommandError:
    return CommandError(code="invalid_params", message=message, display="inline")


def _require(name: str, value: Any) -> Any:
    if value is _MISSING:
        raise _invalid_params(f"Missing parameter '{name}'.")
    return value


def _int_param(name: str, value: Any) -> int:
    _require(name, value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_params(f"Parameter '{name}' must be an integer.")
    return value


def _bool_param(name: str, value: Any) -> bool:
    _require(name, value)
    if not isinstance(value, bool):
        raise _invalid_params(f"Parameter '{name}' must be a boolean.")
    return value


def _str_param(name: str, value: Any) -> str:
    _require(name, value)
    if not isinstance(value, str):
        raise _invalid_params(f"Parameter '{name}' must be a string.")
    return value


def _num_param(name: str, value: Any) -> float | None:
    """A JSON number as float; None when it is not finite (NaN, inf, overflow)."""
    _require(name, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid_params(f"Parameter '{name}' must be a number.")
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _bias_ok(value: float | None) -> bool:
    return value is not None and -10.0 <= value <= 10.0


# ── the app ────────────────────────────────────────────────────────────────────


def build_app(prefix: str, persist: str | None) -> Starlette:
    sync = LabSync(
        prefix=prefix,
        persist=persist is not None,
        db_url=f"sqlite:///{os.path.abspath(persist)}" if persist else "sqlite:///lab_link.db",
    )
    state: DemoState = sync.bind_state(DemoState())

    counts = sync.stream("counts", mode="append", capacity=COUNTS_CAPACITY, dtype="json")
    trace = sync.stream("trace", mode="replace", capacity=TRACE_SAMPLES, dtype="float32")
    histogram = sync.stream("histogram", mode="int_delta", capacity=HISTOGRAM_BINS)

    # Set whenever acquisition may have started, stopped or changed rate.
    wake = asyncio.Event()

    def channel_at(raw: Any) -> tuple[int, Channel]:
        index = _int_param("channel", raw)
        if not 0 <= index < len(state.channels):
            raise CommandError(
                code="invalid_channel",
                message=f"Channel {index} does not exist.",
                display="inline",
                path=f"/channels/{index}",
            )
        return index, state.channels[index]

    @sync.command
    def set_enabled(enabled: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        value = _bool_param("enabled", enabled)
        state.enabled = value
        return {"enabled": value}

    @sync.command
    def set_channel(channel: Any = _MISSING, value: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        index, ch = channel_at(channel)
        number = _num_param("value", value)
        if not _bias_ok(number):
            raise CommandError(
                code="out_of_range",
                message=BIAS_RANGE_MESSAGE,
                display="inline",
                path=f"/channels/{index}/bias_voltage",
            )
        rounded = float(round(number, 3))
        ch.bias_voltage = rounded
        return {"channel": index, "value": rounded}

    @sync.command
    def set_active(channel: Any = _MISSING, active: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        index, ch = channel_at(channel)
        flag = _bool_param("active", active)
        ch.active = flag
        return {"channel": index, "active": flag}

    @sync.command
    def add_channel(name: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        label = _str_param("name", name)
        state.channels.append(Channel(name=label, bias_voltage=0.0, active=False))
        return {"index": len(state.channels) - 1}

    @sync.command
    def remove_channel(channel: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        index, _ = channel_at(channel)
        removed = state.channels.pop(index)
        return {"removed": removed.name}

    @sync.command
    def set_label(key: Any = _MISSING, value: Any = _MISSING, **_extra: Any) -> None:
        name = _str_param("key", key)
        _require("value", value)
        if value is None:
            if name in state.labels:
                del state.labels[name]
            return None
        state.labels[name] = _str_param("value", value)
        return None

    @sync.command
    def set_all(value: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        number = _num_param("value", value)
        if not _bias_ok(number):
            raise CommandError(
                code="out_of_range",
                message=BIAS_RANGE_MESSAGE,
                display="inline",
                path="/channels",
            )
        rounded = float(round(number, 3))
        with sync.batch():  # one patch message for every channel
            for ch in state.channels:
                ch.bias_voltage = rounded
        return {"count": len(state.channels)}

    @sync.command
    def start_acquisition(rate_hz: Any = _MISSING, **_extra: Any) -> dict[str, Any]:
        rate = _num_param("rate_hz", rate_hz)
        if rate is None or not 0.0 < rate <= 1000.0:
            raise CommandError(
                code="out_of_range",
                message=RATE_RANGE_MESSAGE,
                display="inline",
                path="/acquisition/rate_hz",
            )
        with sync.batch():
            state.acquisition.running = True
            state.acquisition.rate_hz = rate
        wake.set()
        return {"rate_hz": rate}

    @sync.command
    def stop_acquisition(**_extra: Any) -> None:
        state.acquisition.running = False
        wake.set()
        return None

    @sync.command
    def simulate_timeout(**_extra: Any) -> None:
        raise CommandError(
            code="hardware_timeout",
            message="The voltage source did not respond before the timeout.",
            detail="UDP timeout after 5.0 s",
            severity="error",
            display="banner",
            recoverable=True,
        )

    @sync.command
    def reset(**_extra: Any) -> None:
        sync.load_state(initial_state())  # one replace at "" (streams untouched)
        wake.set()
        return None

    # ── acquisition ────────────────────────────────────────────────────────

    async def tick() -> None:
        # `state` attributes are read afresh: reset swaps sub-objects in place.
        acq = state.acquisition
        acq.count += 1  # own patch, no command metadata (no command context here)
        # lab-link flushes recorded ops on the next loop iteration and merges
        # consecutive replaces of one path; yield so that back-to-back ticks
        # (catching up after a stall) still make one patch each.
        await asyncio.sleep(0)
        signal = 0.2
        if state.enabled:
            signal += sum(abs(ch.bias_voltage) / 10.0 for ch in state.channels if ch.active)
        mean = 1000.0 * signal
        rate = round(max(0.0, random.gauss(mean, math.sqrt(mean))), 1)
        await counts.append(rate)

        amplitude = abs(state.channels[0].bias_voltage) if state.channels else 0.0
        phase = random.uniform(0.0, 2.0 * math.pi)
        samples = [
            amplitude * math.exp(-3.0 * i / TRACE_SAMPLES)
            * math.sin(2.0 * math.pi * 8.0 * i / TRACE_SAMPLES + phase)
            + random.gauss(0.0, 0.05)
            for i in range(TRACE_SAMPLES)
        ]
        # Store float32 values so snapshots equal the binary frames exactly.
        packed = struct.pack(f"<{TRACE_SAMPLES}f", *samples)
        await trace.replace(list(struct.unpack(f"<{TRACE_SAMPLES}f", packed)))

        bins = random.sample(range(HISTOGRAM_BINS), 3)
        await histogram.apply_delta({b: 1 for b in bins})

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while True:
            wake.clear()
            acq = state.acquisition
            if not acq.running:
                await wake.wait()
                continue
            period = 1.0 / acq.rate_hz
            deadline = loop.time() + period
            # Fixed schedule: tick k happens at start + k * period (no drift).
            while True:
                delay = deadline - loop.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(wake.wait(), delay)
                        break  # started/stopped/reset: re-read the schedule
                    except TimeoutError:
                        pass
                if wake.is_set() or not state.acquisition.running:
                    break
                try:
                    await tick()
                except Exception:
                    log.exception("acquisition tick failed")
                deadline += period
                now = loop.time()
                if now - deadline > 1.0:  # hopelessly behind: skip, don't burst
                    missed = math.floor((now - deadline) / period) + 1
                    deadline += missed * period

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with sync.lifespan(app):
            task = asyncio.create_task(ticker())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return Starlette(lifespan=lifespan, routes=list(sync.routes))


# ── serving ────────────────────────────────────────────────────────────────────


class DemoServer(uvicorn.Server):
    """uvicorn re-raises a captured SIGINT/SIGTERM after shutting down (the process
    would then die by that signal); a clean stop must exit with status 0 instead."""

    @contextlib.contextmanager
    def capture_signals(self):
        with super().capture_signals():
            try:
                yield
            finally:
                if self._captured_signals:
                    log.info("stopped by signal %s", self._captured_signals[-1])
                self._captured_signals.clear()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def serve(args: argparse.Namespace) -> int:
    app = build_app(args.prefix, args.persist)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = DemoServer(config)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        sys.stdout.write(f"lab-link demo listening on http://{_url_host(args.host)}:{port}\n")
        sys.stdout.flush()

    announcer = asyncio.create_task(announce())
    log.info("serving lab-link 0.5.0 demo (prefix %r, persist %r)", args.prefix, args.persist)
    try:
        await server.serve()
    finally:
        announcer.cancel()
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="lab-link demo instrument (reference implementation on lab-link 0.5.0)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default="/sync")
    parser.add_argument("--persist", metavar="PATH", default=None)
    parser.add_argument("--auth", metavar="PATH", default=None)
    parser.add_argument("--allowed-origin", metavar="URL", action="append", default=[])
    parser.add_argument("--no-trust-loopback", action="store_true")
    args = parser.parse_args(argv)

    refused = [
        flag
        for flag, used in (
            ("--auth", args.auth is not None),
            ("--allowed-origin", bool(args.allowed_origin)),
            ("--no-trust-loopback", args.no_trust_loopback),
        )
        if used
    ]
    if refused:
        parser.exit(
            2,
            f"{parser.prog}: error: {', '.join(refused)}: not supported by this "
            "reference demo (access control is not implemented here)\n",
        )

    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # uvicorn logs every WebSocket connection at INFO; that would cost the
    # reference CPU time in connection-heavy benchmarks.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
