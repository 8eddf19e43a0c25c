"""Sends commands to a lab-link server with the Python reference client
(lab-link 0.5.0) and reports, in the order they happen, what it receives.

Run by lab-link/tests/python_client.rs, and beside the browser runtime's
client by lab-link-js/test/reference.test.js, with the interpreter of the
virtualenv that `cargo xtask setup` creates at target/py-venv. It connects
`lab_link.AsyncLabLinkClient` to the WebSocket URL given as the first
argument and runs the plan given with --plan: a JSON list whose items are
either one command, `{"command": NAME, "params": {...}, "requestId": ID}`,
sent with `send_command` and awaited before the next item, or
`{"together": [command, ...]}`, commands sent at once (`asyncio.gather`) and
all awaited. It reports, one JSON object per line on standard output:

- {"event": "snapshot", "version": N, "replica": {...}}  every snapshot;
- {"event": "patch", "version": N, "requestId": ..., "command": ...,
  "originClientId": ..., "replica": {...}}  every patch, as the client
  applies it (the replica as it then stands);
- {"event": "ack", "requestId": ..., "version": N, "result": ...,
  "hasResult": bool}  a `command_ack`, the moment the client's receive loop
  takes it (see `RecordingClient`);
- {"event": "error", ...}  a `command_error`, the moment the client takes
  it (its `on_command_error` callback), with every field of the
  `SyncCommandError`;
- {"event": "send", "requestId": ...}  just before `send_command`;
- {"event": "returned", "requestId": ..., "version": N, "result": ...}
  when `send_command` returned its `CommandAck`;
- {"event": "raised", ...}  when `send_command` raised a
  `SyncCommandError` (same fields as "error");
- {"event": "commands_done"}  once the whole plan is done;
- {"event": "final", ...}  as in client_interop.py: after reading a target
  version on standard input and waiting for the replica to reach it.

Patches, acks and errors are reported from the client's receive loop, which
handles one message after the other, so their order on standard output is
the order in which they arrived. Every wait is bounded by --timeout seconds.
"""

import argparse
import asyncio
import json
import sys
from typing import Any

from client_interop import emit, report_final

try:
    from lab_link import AsyncLabLinkClient, SyncCommandError
except ImportError as error:  # pragma: no cover - reported to the Rust test
    print(
        f"cannot import the Python reference client ({error}): run `cargo xtask setup`, "
        "which installs lab-link==0.5.0 into target/py-venv",
        file=sys.stderr,
    )
    sys.exit(3)


class RecordingClient(AsyncLabLinkClient):
    """Reports every `command_ack` when the receive loop takes it.

    0.5.0 has no public hook for acks: `send_command` returns once its
    future is resolved, which can be after the receive loop has handled
    later messages, too late to tell whether a patch came before or after
    the ack. `_handle_command_ack` is where the receive loop hands the ack
    over; reporting there, before the client's own handling, gives the
    order on the wire.
    """

    def _handle_command_ack(self, msg: dict[str, Any]) -> None:
        emit(
            "ack",
            requestId=msg.get("requestId"),
            command=msg.get("command"),
            version=msg.get("version"),
            result=msg.get("result"),
            hasResult="result" in msg,
        )
        super()._handle_command_ack(msg)


def error_fields(error: SyncCommandError) -> dict[str, Any]:
    return {
        "command": error.command,
        "requestId": error.request_id,
        "code": error.code,
        "message": error.message,
        "detail": error.detail,
        "severity": error.severity,
        "display": error.display,
        "recoverable": error.recoverable,
        "path": error.path,
        "version": error.version,
        "originClientId": error.origin_client_id,
    }


async def run_command(client: AsyncLabLinkClient, command: dict[str, Any]) -> None:
    request_id = command["requestId"]
    emit("send", requestId=request_id, command=command["command"])
    try:
        ack = await client.send_command(
            command["command"], command.get("params"), request_id=request_id
        )
    except SyncCommandError as error:
        emit("raised", **error_fields(error))
        return
    emit(
        "returned",
        requestId=ack.request_id,
        command=ack.command,
        version=ack.version,
        result=ack.result,
    )


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--plan", required=True, help="the commands to send, as JSON")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    plan = json.loads(args.plan)

    client = RecordingClient(args.url, connect_timeout=args.timeout, command_timeout=args.timeout)
    client.on_snapshot(lambda event: emit("snapshot", version=event.version, replica=event.data))
    client.on_patch(
        lambda event: emit(
            "patch",
            version=event.version,
            requestId=event.request_id,
            command=event.command,
            originClientId=event.origin_client_id,
            replica=client.snapshot(),
        )
    )
    client.on_command_error(lambda error: emit("error", **error_fields(error)))
    await client.connect()
    try:
        for item in plan:
            if "together" in item:
                await asyncio.gather(*(run_command(client, command) for command in item["together"]))
            else:
                await run_command(client, item)
        emit("commands_done")
        return await report_final(client, args.timeout)
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
