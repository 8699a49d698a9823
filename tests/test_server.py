"""The WebSocket server (protocol v1) on loopback: a whole session, HTTP endpoints, and each kind of bad client."""

import asyncio
import base64
import importlib.util
import json
import socket
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from servers import TOKEN, with_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from talkinghead.contracts.audio_io import load_audio
from talkinghead.jobs.render import demo_audio


@pytest.fixture(scope="module")
def pcm():
    samples, rate = load_audio(demo_audio())
    return (samples[: rate] * 32767).astype("<i2"), rate


def _split(message: bytes) -> tuple[dict, bytes]:
    length = int.from_bytes(message[:4], "big")
    return json.loads(message[4:4 + length]), message[4 + length:]


def test_a_whole_session_and_the_http_endpoints(engine, pcm):
    samples, rate = pcm

    async def body(url, server):
        async with connect(url, max_size=None) as socket:
            await socket.send(json.dumps({"type": "start", "sample_rate": rate, "format": "pcm_s16le",
                                          "fps": 25, "pacing": "fast", "outputs": ["video", "coefficients"]}))
            ready = json.loads(await socket.recv())
            for start in range(0, len(samples), 1234):
                await socket.send(samples[start:start + 1234].tobytes())
            await socket.send(json.dumps({"type": "end"}))
            frames, end = [], None
            async for message in socket:
                if isinstance(message, bytes):
                    frames.append(_split(message))
                else:
                    end = json.loads(message)
        base = f"http://127.0.0.1:{server.port}"
        fetched = await asyncio.to_thread(
            lambda: [urllib.request.urlopen(base + p).read().decode() for p in ("/healthz", "/metrics", "/v1/avatars")])
        return ready, frames, end, fetched

    ready, frames, end, (health, metrics, avatars) = asyncio.run(with_server(engine, body))
    assert ready["type"] == "ready" and ready["fps"] == [25, 1] and ready["width"] > 0
    headers = [h for h, _ in frames]
    assert [h["index"] for h in headers] == list(range(len(frames))) == list(range(end["frames"]))
    assert end == {"type": "end", "frames": 25, "dropped": 0}
    assert headers[0]["pts"] == [0, 1] and headers[1]["pts"] == [1, 25] and len(headers[0]["blendshapes"]) == 52
    assert headers[0]["source"] == [0, rate // 25] and headers[-1]["source"][1] == len(samples)
    assert all(jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9" for _, jpeg in frames)
    assert health == "ok\n" and "talkinghead_frames_total" in metrics and json.loads(avatars)["default"] == "default"


@pytest.mark.parametrize("case, code, close", [
    ("malformed JSON", "bad_json", 4400),
    ("audio before start", "not_started", 4400),
    ("wrong sample rate", "bad_start", 4400),
    ("half a sample", "partial_sample", 4400),
])
def test_bad_clients_get_an_error_and_a_close_code(engine, case, code, close):
    async def body(url, server):
        async with connect(url) as socket:
            if case == "malformed JSON":
                await socket.send("{not json")
            elif case == "audio before start":
                await socket.send(b"\x00\x00")
            elif case == "wrong sample rate":
                await socket.send(json.dumps({"type": "start", "sample_rate": 44100.5}))
            else:
                await socket.send(json.dumps({"type": "start", "sample_rate": 16000, "pacing": "fast"}))
                await socket.recv()  # ready
                await socket.send(b"\x00\x00\x00")
            messages = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    message = await socket.recv()
                    if isinstance(message, str):
                        messages.append(json.loads(message))
            return messages, closed.value.rcvd.code

    messages, got = asyncio.run(with_server(engine, body))
    assert messages[-1]["type"] == "error" and messages[-1]["code"] == code and got == close
    assert engine.sessions == 0


def test_token_and_message_size_limits(engine):
    async def body(url, server):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url.replace(TOKEN, "wrong")):
                pass
        async with connect(url.split("?")[0], additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
            await socket.send(json.dumps({"type": "start", "pacing": "fast", "outputs": ["coefficients"]}))
            await socket.recv()
            await socket.send(b"\x00" * (64 * 1024 + 2))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await socket.recv()
        with pytest.raises(urllib.error.HTTPError):
            await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{server.port}/nothing-here")
        return refused.value.response.status_code, closed.value.rcvd.code

    status, code = asyncio.run(with_server(engine, body, max_message_bytes=64 * 1024))
    assert status == 401 and code == 1009  # 1009: message too big


def test_the_mesh_endpoint_serves_the_renderers_own_face(engine):
    async def body(url, server):
        base = f"http://127.0.0.1:{server.port}/v1/avatars"

        def fetch(path):
            try:
                return urllib.request.urlopen(base + path).read()
            except urllib.error.HTTPError as error:
                return error.code

        return await asyncio.to_thread(lambda: (fetch("/default/mesh"), fetch("/nobody/mesh")))

    body_bytes, missing = asyncio.run(with_server(engine, body))
    mesh = json.loads(body_bytes)
    face = engine.renderer("default").face
    neutral = np.frombuffer(base64.b64decode(mesh["neutral"]), "<f4").reshape(-1, 3)
    basis = np.frombuffer(base64.b64decode(mesh["blendshapes"]), "<f4").reshape(52, -1, 3)
    triangles = np.frombuffer(base64.b64decode(mesh["triangles"]), "<u4").reshape(-1, 3)
    assert missing == 404 and mesh["vertices"] == len(neutral) == 478 and mesh["names"][17] == "jawOpen"
    np.testing.assert_array_equal(neutral, face.neutral.numpy())
    np.testing.assert_array_equal(basis, face.basis.numpy())
    np.testing.assert_array_equal(triangles, face.triangles.numpy())
    assert np.abs(basis[17]).max() > 0.05  # jawOpen moves the face


def test_a_client_that_never_reads_is_cut_off_by_the_send_timeout(engine):
    async def body(url, server):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # loopback would buffer megabytes
        async with connect(url, sock=sock, max_queue=1) as client:
            await client.send(json.dumps({"type": "start", "pacing": "fast", "outputs": ["video"]}))
            await client.recv()  # ready
            await client.send(np.zeros(16000 * 4, "<i2").tobytes())  # 100 frames
            client.transport.pause_reading()  # takes nothing more (so it cannot see the server's close either)
            started = time.perf_counter()
            while engine.sessions and time.perf_counter() - started < 60:
                await asyncio.sleep(0.05)
            return dict(server.metrics.codes), server.metrics.counts["frames"]

    codes, frames = asyncio.run(with_server(engine, body, send_timeout_s=1.0))
    assert codes == {"slow_client": 1} and frames < 100 and engine.sessions == 0


def test_one_tokens_limit_holds_across_the_stream_and_webrtc_endpoints(engine):
    async def body(url, server):
        async with connect(url) as first:
            await first.send(json.dumps({"type": "start", "pacing": "fast", "outputs": ["coefficients"]}))
            assert json.loads(await first.recv())["type"] == "ready"
            refused = []
            for path, message in (("/v1/stream", {"type": "start", "outputs": ["coefficients"]}),
                                  ("/v1/webrtc", {"type": "offer", "sdp": "v=0"})):
                async with connect(url.replace("/v1/stream", path)) as second:
                    await second.send(json.dumps(message))
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            reply = json.loads(await second.recv())
                    refused.append((reply["code"], closed.value.rcvd.code))
            await first.send(json.dumps({"type": "end"}))
        return refused

    refused = asyncio.run(with_server(engine, body, max_sessions_per_token=1))
    assert refused[0] == ("too_many_sessions", 4429)
    has_webrtc = importlib.util.find_spec("aiortc") is not None
    assert refused[1] == (("too_many_sessions", 4429) if has_webrtc else ("webrtc_unavailable", 4501))
