"""Reads float stream samples the way a Python client does.

Usage: float_reader.py INPUT

INPUT holds one JSON object per line: {"snapshot": TEXT, "frame": HEX},
the text of a stream_snapshot and the bytes of a binary stream frame as
they came off the socket. For each line this prints one JSON object: the
id and seq of both, and the samples of both as the hex of their IEEE-754
float64 big-endian bytes (so -0.0 stays apart from 0.0): the snapshot's
as Python's json module parses them, the frame's as struct decodes them
(float32 samples widened to float, which is a C double).
"""

import json
import struct
import sys


def bits(value):
    return struct.pack(">d", value).hex()


def read_frame(frame):
    tag = frame[0]
    width = {1: 4, 2: 8}[tag]
    (id_len,) = struct.unpack_from("<H", frame, 1)
    stream_id = frame[3 : 3 + id_len].decode("utf-8")
    (seq,) = struct.unpack_from("<I", frame, 3 + id_len)
    body = frame[7 + id_len :]
    count = len(body) // width
    samples = struct.unpack("<%d%s" % (count, "f" if width == 4 else "d"), body)
    return stream_id, seq, samples


def main():
    with open(sys.argv[1], encoding="utf-8") as lines:
        for line in lines:
            pair = json.loads(line)
            snapshot = json.loads(pair["snapshot"])
            stream_id, seq, samples = read_frame(bytes.fromhex(pair["frame"]))
            print(
                json.dumps(
                    {
                        "snapshot": {
                            "id": snapshot["id"],
                            "seq": snapshot["seq"],
                            "samples": [bits(sample) for sample in snapshot["data"]],
                        },
                        "frame": {
                            "id": stream_id,
                            "seq": seq,
                            "samples": [bits(sample) for sample in samples],
                        },
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
