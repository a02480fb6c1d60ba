"""Many idle keep-alive connections: what they cost a gateway in memory,
and whether it gives the memory back once they close.

Opens COUNT connections to the gateway at ADDR (host:port), each making one
call (POST PATH with TOKEN) and then staying open, and reads the gateway's
resident memory (VmRSS of PID) before, with all of them open, and SETTLE
seconds after they closed. Prints "idle_kb open_kb after_kb".

Usage: connections.py ADDR TOKEN PID [COUNT] [SETTLE] [PATH]
"""

import asyncio
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def open_one(host, port, request, opening):
    async with opening:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if " 200 " not in lines[0]:
            raise RuntimeError(f"unexpected answer: {lines[0]}")
        length = next(
            int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
        )
        await reader.readexactly(length)
        return reader, writer


async def main():
    addr, token, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    settle = float(sys.argv[5]) if len(sys.argv) > 5 else 60
    path = sys.argv[6] if len(sys.argv) > 6 else "/console/v1/org/list"
    host, port = addr.rsplit(":", 1)
    body = b"{}"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    idle = rss_kb(pid)
    opening = asyncio.Semaphore(256)
    connections = await asyncio.gather(
        *(open_one(host, int(port), request, opening) for _ in range(count))
    )
    # Let the gateway settle with all of them open: it parks a connection
    # idle for a second or two (it keeps the socket and drops hyper's
    # buffers), so wait out the last ones opened.
    time.sleep(5)
    held = rss_kb(pid)
    for _, writer in connections:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for _, writer in connections), return_exceptions=True)
    await asyncio.sleep(settle)
    after = rss_kb(pid)
    print(idle, held, after)


if __name__ == "__main__":
    asyncio.run(main())
