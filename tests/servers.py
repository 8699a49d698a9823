"""The server under test, two ways: on the test's own event loop, or on a thread's (for a browser to reach)."""

import asyncio
import contextlib
import threading

from talkinghead.streaming.server import Server, ServerConfig

TOKEN = "s3cret"


async def with_server(engine, body, path: str = "/v1/stream", **options):
    """``await body(url, server)`` while a server (token ``TOKEN``) runs on this event loop; its result."""
    server = Server(engine, ServerConfig(port=0, token=TOKEN, **options))
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(server.run(ready, stop))
    await ready.wait()
    try:
        return await body(f"ws://127.0.0.1:{server.port}{path}?token={TOKEN}", server)
    finally:
        stop.set()
        await task


@contextlib.contextmanager
def serving_in_thread(engine, **options):
    """A server (no token) on an event loop of its own thread, so another process can call it."""
    server = Server(engine, ServerConfig(port=0, **options))
    loop = asyncio.new_event_loop()
    ready, stop = asyncio.Event(), asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.run(ready, stop),), daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(ready.wait(), loop).result(timeout=60)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
