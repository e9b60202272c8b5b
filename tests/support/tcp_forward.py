#!/usr/bin/env python3
"""A do-nothing TCP forwarder on 127.0.0.1, so that a test can freeze one vault for real:
`kill -STOP` this process and the vault behind it stops answering (connections queue in the
kernel, no byte moves), as a stopped vault process would; `kill -CONT` and it answers again.

Usage: tcp_forward.py TARGET_PORT. Listens on a port the OS picks, prints it on one line,
forwards every connection to 127.0.0.1:TARGET_PORT. Loopback only."""

import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(target):
    async def accept(client_r, client_w):
        try:
            vault_r, vault_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, vault_w), pipe(vault_r, client_w))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1])))
