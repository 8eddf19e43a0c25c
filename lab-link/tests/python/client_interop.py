"""Drives a lab-link server with the Python reference client (lab-link 0.5.0).

Run by lab-link/tests/python_client.rs with the interpreter of the virtualenv
that `cargo xtask setup` creates at target/py-venv. It connects
`lab_link.AsyncLabLinkClient` to the WebSocket URL given as the first
argument and reports, one JSON object per line on standard output:

- {"event": "snapshot", "version": N, "replica": {...}}  every snapshot the
  client applies (the first one, and any resync later);
- {"event": "patch", "version": N, "replica": {...}}  after every patch the
  client applies, with the replica as it then stands;
- {"event": "command_error", ...}  with --command NAME: the SyncCommandError
  the client raises for that command (or {"event": "command_ack", ...});
- {"event": "ready"}  once the above is done;
- {"event": "final", "version": N, "replica": {...}}  after reading a target
  version as one line on standard input and waiting until the replica
  reaches it; then the client closes and the script exits 0.

Every wait is bounded by --timeout seconds; on a timeout or a lost
connection the script says why on standard error and exits non-zero.
"""

import argparse
import asyncio
import json
import sys

try:
    from lab_link import AsyncLabLinkClient, SyncCommandError
except ImportError as error:  # pragma: no cover - reported to the Rust test
    print(
        f"cannot import the Python reference client ({error}): run `cargo xtask setup`, "
        "which installs lab-link==0.5.0 into target/py-venv",
        file=sys.stderr,
    )
    sys.exit(3)


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def read_line(timeout: float) -> str:
    """One line of standard input, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    line = await asyncio.wait_for(reader.readline(), timeout)
    return line.decode().strip()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--command", help="send this command and report its error")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()

    client = AsyncLabLinkClient(
        args.url, connect_timeout=args.timeout, command_timeout=args.timeout
    )
    # Registered before connecting, so the first snapshot is reported too.
    client.on_snapshot(
        lambda event: emit("snapshot", version=event.version, replica=event.data)
    )
    client.on_patch(
        lambda event: emit(
            "patch",
            version=event.version,
            replica=client.snapshot(),
            command=event.command,
        )
    )
    await client.connect()
    try:
        if args.command:
            try:
                ack = await client.send_command(args.command, {"value": 1})
                emit("command_ack", command=ack.command, version=ack.version, result=ack.result)
            except SyncCommandError as error:
                emit(
                    "command_error",
                    command=error.command,
                    requestId=error.request_id,
                    code=error.code,
                    message=error.message,
                    severity=error.severity,
                    display=error.display,
                    recoverable=error.recoverable,
                    version=error.version,
                    originClientId=error.origin_client_id,
                )
        emit("ready")
        return await report_final(client, args.timeout)
    finally:
        await client.close()


async def report_final(client: AsyncLabLinkClient, timeout: float) -> int:
    """Reads the target version from standard input, waits until the
    replica reaches it and reports the `final` event; returns the exit code.
    """
    target = int(await read_line(timeout))
    deadline = asyncio.get_running_loop().time() + timeout
    while client.version < target:
        if not client.connected:
            print(f"the connection closed at version {client.version}", file=sys.stderr)
            return 1
        if asyncio.get_running_loop().time() > deadline:
            print(
                f"the replica stayed at version {client.version}, expected {target}",
                file=sys.stderr,
            )
            return 1
        await asyncio.sleep(0.01)
    emit("final", version=client.version, replica=client.snapshot())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
