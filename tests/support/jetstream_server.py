#!/usr/bin/env python3
"""A local server speaking Bluesky Jetstream's wire format, for the tests.

    jetstream_server.py SCRIPT.json

SCRIPT is a JSON object:

    {"events": "path/to/events.ndjson",
     "tls": {"cert": "cert.pem", "key": "key.pem"},      (optional: wss://)
     "connections": [ {"steps": [...]}, ... ]}

The n-th WebSocket connection plays connections[n] (the last one is repeated
for any further connection). Its steps, in order:

    {"send": [i, j]}             events i..j-1 of the events file, one text message each,
                                 those older than the cursor asked for left out (as Jetstream)
    {"send": [i, j], "fragments": k}   the same, each message in k frames
    {"text": "..."}              one text message as it is
    {"binary": n}                a binary message of n bytes
    {"oversize": n, "fragments": k}    a text message of n bytes in k frames
    {"ping": true}               a ping; the pong is reported
    {"sleep": ms}
    {"close": code}              close the connection with that code
    {"drop": true}               drop the TCP connection without a close frame
    {"stall": true}              send nothing more and keep the connection open
    {"http": status}             (first step only) answer the upgrade with this status

The server listens on 127.0.0.1 on a free port and reports on stdout, one
JSON object per line: {"event": "listening", "port": P}, then for each
connection {"event": "connect", "conn": n, "path": "/subscribe?..."},
{"event": "pong", "conn": n}, {"event": "closed", "conn": n, "code": c}.
It runs until it is terminated. Works with the websockets package of
Debian 12 (10.4) and later (the legacy and the new asyncio servers).
"""
import asyncio
import json
import ssl
import sys
import urllib.parse

import websockets

SCRIPT = json.load(open(sys.argv[1], encoding="utf-8"))
with open(SCRIPT["events"], encoding="utf-8") as f:
    EVENTS = [line.rstrip("\n") for line in f if line.strip()]
CONNS = SCRIPT["connections"]
COUNT = 0


def report(**kw):
    print(json.dumps(kw), flush=True)


def pieces(s, k):
    """s cut into k text fragments (at character boundaries)."""
    if k <= 1 or len(s) < k:
        return s
    step = len(s) // k
    return [s[i * step:(i + 1) * step if i < k - 1 else len(s)] for i in range(k)]


async def send_text(ws, s, k):
    # a list of str is sent as one text message in len(list) frames
    await ws.send(pieces(s, k))


async def handler(ws, path=None):
    global COUNT
    n = COUNT
    COUNT += 1
    if path is None:
        path = ws.path if hasattr(ws, "path") else ws.request.path
    conn = CONNS[min(n, len(CONNS) - 1)]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    cursor = int(query.get("cursor", ["0"])[0])
    report(event="connect", conn=n, path=path)
    try:
        for step in conn["steps"]:
            if "send" in step:
                i, j = step["send"]
                for line in EVENTS[i:j]:
                    if json.loads(line)["time_us"] < cursor:
                        continue
                    await send_text(ws, line, step.get("fragments", 1))
            elif "text" in step:
                await ws.send(step["text"])
            elif "binary" in step:
                await ws.send(b"\x28\xb5\x2f\xfd" + b"\0" * (step["binary"] - 4))
            elif "oversize" in step:
                body = '{"kind":"commit","pad":"' + "y" * (step["oversize"] - 27) + '"}'
                await send_text(ws, body, step.get("fragments", 1))
            elif "ping" in step:
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, 10)
                report(event="pong", conn=n)
            elif "sleep" in step:
                await asyncio.sleep(step["sleep"] / 1000)
            elif "close" in step:
                await ws.close(step["close"], "test")
                break
            elif "drop" in step:
                ws.transport.close()
                break
            elif "stall" in step:
                await asyncio.sleep(3600)
        else:
            await ws.wait_closed()
    except websockets.exceptions.ConnectionClosed:
        pass
    report(event="closed", conn=n, code=ws.close_code)


def http_status_for(n):
    conn = CONNS[min(n, len(CONNS) - 1)]
    steps = conn["steps"]
    return steps[0]["http"] if steps and "http" in steps[0] else None


async def main():
    # An upgrade answered with an HTTP error is decided before the
    # WebSocket library sees the request, on the raw connection.
    async def raw(reader, writer):
        global COUNT
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await reader.read(4096)
            if not chunk:
                writer.close()
                return
            head += chunk
        status = http_status_for(COUNT)
        if status is not None:
            path = head.split(b" ", 2)[1].decode()
            report(event="connect", conn=COUNT, path=path, status=status)
            COUNT += 1
            body = b'{"error":"test"}'
            writer.write(b"HTTP/1.1 %d Test\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (status, len(body), body))
            await writer.drain()
            writer.close()
            return
        # hand the connection to the WebSocket server through a socket pair
        up_r, up_w = await asyncio.open_connection("127.0.0.1", WS_PORT)
        up_w.write(head)

        async def pump(r, w):
            try:
                while True:
                    data = await r.read(65536)
                    if not data:
                        break
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    w.close()
                except (ConnectionError, OSError):
                    pass

        await asyncio.gather(pump(reader, up_w), pump(up_r, writer))

    global WS_PORT
    ws_server = await websockets.serve(handler, "127.0.0.1", 0, max_size=2**20, compression=None)
    WS_PORT = ws_server.sockets[0].getsockname()[1]
    tls = None
    if "tls" in SCRIPT:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(SCRIPT["tls"]["cert"], SCRIPT["tls"]["key"])
    front = await asyncio.start_server(raw, "127.0.0.1", 0, ssl=tls)
    report(event="listening", port=front.sockets[0].getsockname()[1])
    await asyncio.Future()


WS_PORT = 0
asyncio.run(main())
