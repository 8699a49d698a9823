"""The WebSocket server, protocol v1 (``docs/PROTOCOL.md``): live sessions over ``/v1/stream``, plus HTTP.

One connection is one session. The client sends a ``start`` message, then
raw PCM in binary messages and ``flush`` / ``interrupt`` / ``end`` as text;
the server answers ``ready``, then one binary message per frame (a 4-byte
big-endian header length, a JSON header, the JPEG bytes), and ``end``.
Errors are ``{"type": "error", "code", "message"}``; where fatal to the
session the connection closes with a 4xxx code, and the server keeps
serving everyone else. HTTP: ``GET /healthz``, ``GET /metrics``
(Prometheus text), ``GET /v1/avatars``, ``GET /v1/avatars/<name>/mesh`` (the 3D
face, for viewers), and the browser page's files at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import itertools
import json
import mimetypes
import socket
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from talkinghead.contracts.clock import as_fraction, as_pair, check_sample_rate
from talkinghead.streaming.codecs import JpegEncoder
from talkinghead.streaming.live import Engine, LiveConfig, Session
from talkinghead.streaming.mesh import face_mesh
from talkinghead.streaming.messages import ProtocolError, error_message, parse_message
from talkinghead.streaming.signalling import WebRtcCalls

PROTOCOL = "v1"
FORMATS = {"pcm_s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
OUTPUTS = {"video", "coefficients", "audio"}
LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)
SEND_BUFFER_BYTES = 256 * 1024  # a few video frames


# The browser live avatar and its JS client, shipped inside the package (``streaming/web``).
WEB_PAGE = Path(__file__).resolve().parent / "web"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None  # shared secret: ``?token=`` or ``Authorization: Bearer``
    max_message_bytes: int = 1 << 20
    max_sessions: int = 16
    max_sessions_per_token: int = 8
    idle_timeout_s: float = 30.0  # a client that sends nothing this long is closed
    send_timeout_s: float = 10.0  # a client that takes nothing this long is closed
    origins: tuple[str, ...] | None = None  # allowed Origin headers (None: any)
    web_root: Path | None = WEB_PAGE  # the browser page's files, served at / (None: no page)
    admit_by_load: bool = False  # also refuse a session the measured spare capacity cannot carry (serve: on)


class Metrics:
    """Counters and a latency histogram, written as Prometheus text."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()  # errors by code
        self.latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.recent: deque[float] = deque(maxlen=100_000)  # raw latencies, for quantiles in benchmarks

    def error(self, code: str) -> None:
        self.codes[code] += 1

    def observe_latency(self, seconds: float) -> None:
        self.recent.append(seconds)
        self.latency[next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b), len(LATENCY_BUCKETS))] += 1
        self.latency_sum += seconds

    def text(self, engine: Engine) -> str:
        lines = ["# TYPE talkinghead_sessions gauge", f"talkinghead_sessions {engine.sessions}",
                 "# TYPE talkinghead_capacity_sessions gauge"]  # more sessions the measured spare capacity carries
        lines += [f'talkinghead_capacity_sessions{{video="{str(video).lower()}"}} {engine.capacity(video)}'
                  for video in (True, False)]
        lines += ["# TYPE talkinghead_worker_busy_ratio gauge"]  # each lane's measured busy share
        lines += [f'talkinghead_worker_busy_ratio{{worker="{k}"}} {lane.busy():.3f}' for k, lane in enumerate(engine.lanes)]
        totals = {**{name: self.counts[name] for name in ("frames", "dropped", "connections")},
                  "errors": sum(self.codes.values())}
        for name, total in totals.items():
            lines += [f"# TYPE talkinghead_{name}_total counter", f"talkinghead_{name}_total {total}"]
        lines.append("# TYPE talkinghead_client_errors_total counter")
        lines += [f'talkinghead_client_errors_total{{code="{code}"}} {n}' for code, n in sorted(self.codes.items())]
        lines.append("# TYPE talkinghead_frame_latency_seconds histogram")
        for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], itertools.accumulate(self.latency)):
            lines.append(f'talkinghead_frame_latency_seconds_bucket{{le="{bound}"}} {count}')
        lines += [f"talkinghead_frame_latency_seconds_sum {self.latency_sum:.6f}",
                  f"talkinghead_frame_latency_seconds_count {sum(self.latency)}"]
        return "\n".join(lines) + "\n"


class Server:
    """Serves an :class:`Engine`'s sessions over WebSocket (see the module docstring)."""

    def __init__(self, engine: Engine, config: ServerConfig = ServerConfig()) -> None:
        self.engine, self.config = engine, config
        self.metrics = Metrics()
        self._per_token: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._meshes: dict[str, bytes] = {}  # avatar name -> its mesh JSON
        self._sockets = {"/v1/stream": self._stream_session,  # WebSocket paths and their handlers
                         "/v1/webrtc": WebRtcCalls(self)}

    async def run(self, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (forever without one)."""
        origins = list(self.config.origins) if self.config.origins is not None else None
        async with serve(self._handle, self.config.host, self.config.port, process_request=self._http,
                         max_size=self.config.max_message_bytes, origins=origins, compression=None,
                         close_timeout=2) as server:
            self.port = server.sockets[0].getsockname()[1]
            if ready is not None:
                ready.set()
            await (stop.wait() if stop is not None else asyncio.Future())

    # ------------------------------------------------------------------ HTTP
    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path in self._sockets:
            if not self._authorised(request):
                return _response(http.HTTPStatus.UNAUTHORIZED, b"missing or wrong token\n")
            return None  # the WebSocket handshake goes on
        if url.path == "/healthz":
            return _response(http.HTTPStatus.OK, b"ok\n")
        if url.path == "/metrics":
            return _response(http.HTTPStatus.OK, self.metrics.text(self.engine).encode(),
                             "text/plain; version=0.0.4")
        if url.path == "/v1/avatars":
            body = json.dumps({"avatars": self.engine.avatar_names, "default": self.engine.default})
            return _response(http.HTTPStatus.OK, body.encode(), "application/json")
        parts = url.path.split("/")
        if len(parts) == 5 and parts[:3] == ["", "v1", "avatars"] and parts[4] == "mesh":
            return await self._mesh(parts[3])
        return self._static(url.path)

    async def _mesh(self, name: str) -> Response:
        """``GET /v1/avatars/<name>/mesh``: the avatar's 3D face (:mod:`talkinghead.streaming.mesh`)."""
        if name not in self.engine.avatar_names:
            return _response(http.HTTPStatus.NOT_FOUND, f"unknown avatar {name!r}\n".encode())
        if name not in self._meshes:
            renderer = await asyncio.to_thread(self.engine.renderer, name)  # loads it once, off the event loop
            self._meshes[name] = json.dumps(face_mesh(renderer.face)).encode()
        return _response(http.HTTPStatus.OK, self._meshes[name], "application/json")

    def _static(self, path: str) -> Response:
        root = self.config.web_root
        if root is None:
            return _response(http.HTTPStatus.NOT_FOUND, b"not found\n")
        file = (root / (path.lstrip("/") or "index.html")).resolve()
        if not file.is_file() or root.resolve() not in file.parents:
            return _response(http.HTTPStatus.NOT_FOUND, b"not found\n")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return _response(http.HTTPStatus.OK, file.read_bytes(), kind)

    @contextlib.contextmanager
    def admitted(self, connection: ServerConnection, video: bool = True) -> Iterator[None]:
        """A session's place, held while the block runs: within the server's and the client token's limits,
        and (``admit_by_load``) within the engine's measured spare capacity for a session of its kind."""
        token = _token_of(connection.request)
        if self._per_token[token] >= self.config.max_sessions_per_token:
            raise ProtocolError("too_many_sessions", "session limit for this token reached", 4429)
        if self.engine.sessions >= min(self.config.max_sessions, self.engine.max_sessions):
            raise ProtocolError("too_many_sessions", "the server is full", 4429)
        if self.config.admit_by_load and not self.engine.admits(video):
            raise ProtocolError("too_many_sessions", "the server is at its measured capacity", 4429)
        self._per_token[token] += 1
        try:
            yield
        finally:
            self._per_token[token] -= 1

    def _authorised(self, request: Request) -> bool:
        if self.config.token is None:
            return True
        return hmac.compare_digest(_token_of(request).encode(), self.config.token.encode())

    # -------------------------------------------------------------- sessions
    async def _handle(self, connection: ServerConnection) -> None:
        self.metrics.counts["connections"] += 1
        await self._sockets[urlsplit(connection.request.path).path](connection)

    async def _stream_session(self, connection: ServerConnection) -> None:
        """``/v1/stream``: one live session over this connection."""
        _limit_send_buffer(connection)
        session: Session | None = None
        try:
            start = await self._receive_start(connection)
            outputs = start.get("outputs", ["video"])  # (checked when the session opens; bad ones count as video)
            with self.admitted(connection, not isinstance(outputs, list) or "video" in outputs):
                session, fmt, channels, outputs = await self._open(start)
                await self._stream(connection, session, next(self._ids), fmt, channels, outputs)
        except ProtocolError as error:
            await self.reject(connection, error)
        except ConnectionClosed:
            pass
        finally:
            if session is not None:
                await session.close()

    async def _receive_start(self, connection: ServerConnection) -> dict:
        try:
            message = await asyncio.wait_for(connection.recv(), self.config.idle_timeout_s)
        except asyncio.TimeoutError:
            raise ProtocolError("idle_timeout", "no start message", 4408) from None
        if isinstance(message, bytes):
            raise ProtocolError("not_started", "send a start message before audio", 4400)
        start = parse_message(message)
        if start.get("type") != "start":
            raise ProtocolError("not_started", f"the first message must be start, got {start.get('type')!r}", 4400)
        return start

    async def _open(self, start: dict) -> tuple[Session, np.dtype, int, set[str]]:
        try:
            await asyncio.to_thread(self.engine.renderer, start.get("avatar"))  # a first load takes seconds
            rate = start.get("sample_rate", 16000)
            check_sample_rate(rate, "sample_rate", 8000, 192000)
            fmt = start.get("format", "pcm_s16le")
            if fmt not in FORMATS:
                raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
            channels = start.get("channels", 1)
            if channels not in (1, 2):
                raise ValueError(f"channels must be 1 or 2, got {channels!r}")
            outputs = set(start.get("outputs", ["video", "coefficients"]))
            if not outputs <= OUTPUTS:
                raise ValueError(f"outputs must be among {sorted(OUTPUTS)}, got {sorted(outputs)}")
            if start.get("video_codec", "jpeg") != "jpeg":
                raise ValueError("video_codec must be jpeg")
            config = LiveConfig(fps=as_fraction(start.get("fps", 25), "fps"), pacing=start.get("pacing", "realtime"),
                                lookahead_ms=start.get("lookahead_ms", 100), video="video" in outputs,
                                audio="audio" in outputs)
            codec = JpegEncoder if "video" in outputs else None  # protocol v1's only video codec
            session = self.engine.session(start.get("avatar"), rate, config, codec)
        except (ValueError, TypeError) as error:
            raise ProtocolError("bad_start", str(error), 4400) from None
        return session, FORMATS[fmt], channels, outputs

    async def _stream(self, connection: ServerConnection, session: Session, session_id: int, fmt: np.dtype,
                      channels: int, outputs: set[str]) -> None:
        width, height = session.width_height
        await self._send(connection, json.dumps({"type": "ready", "session": session_id,
                                                 "fps": as_pair(session.config.fps), "width": width, "height": height,
                                                 "ears": session.ears, "protocol": PROTOCOL}))
        arrivals: deque[tuple[int, float]] = deque()  # (caller samples received after a message, when)
        session.start()
        reader = asyncio.create_task(self._read(connection, session, fmt, channels, arrivals))
        try:
            async for frame in session:
                await self._send_frame(connection, frame, outputs, arrivals)
            await self._send(connection, json.dumps({"type": "end", "frames": session.frames_out + session.dropped,
                                                     "dropped": session.dropped}))
            self.metrics.counts["dropped"] += session.dropped
            await connection.close(1000, "end")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, ProtocolError):
                await reader

    async def _read(self, connection: ServerConnection, session: Session, fmt: np.dtype, channels: int,
                    arrivals: deque) -> None:
        """Client messages into the session; fatal errors close the connection."""
        received = 0
        try:
            while True:
                try:
                    message = await asyncio.wait_for(connection.recv(), self.config.idle_timeout_s)
                except asyncio.TimeoutError:
                    raise ProtocolError("idle_timeout", f"nothing received for {self.config.idle_timeout_s:g} s",
                                        4408) from None
                if isinstance(message, bytes):
                    samples = _decode_pcm(message, fmt, channels)
                    try:
                        await session.push_audio(samples)
                    except ValueError as error:
                        raise ProtocolError("audio_rejected", str(error), 4400) from None
                    received += len(samples)
                    arrivals.append((received, time.perf_counter()))
                    continue
                try:
                    kind = parse_message(message).get("type")
                except ProtocolError as error:  # a malformed control message is reported, not fatal
                    await self._send(connection, error_message(error.code, str(error)))
                    continue
                if kind == "flush":
                    await session.flush()
                elif kind == "interrupt":
                    index = await session.interrupt()
                    await self._send(connection, json.dumps({"type": "interrupted", "next_index": index}))
                elif kind == "end":
                    await session.end()
                    return
                else:
                    await self._send(connection, error_message("unknown_message", f"unknown message type {kind!r}"))
        except ProtocolError as error:
            await self.reject(connection, error)
            await session.close()
        except ConnectionClosed:  # the client went away (or broke a limit): nothing more to draw
            await session.close()

    async def reject(self, connection: ServerConnection, error: ProtocolError) -> None:
        """A client error on any endpoint: counted, told to the client, and the connection closed where it is
        fatal (a slow client was already cut off: it would read nothing)."""
        self.metrics.error(error.code)
        if error.code == "slow_client":
            return
        with contextlib.suppress(ConnectionClosed, ProtocolError):
            await self._send(connection, error_message(error.code, str(error)))
            if error.close:
                await connection.close(error.close, error.code)

    async def _send(self, connection: ServerConnection, message: str | bytes) -> None:
        """Every message goes out here: a client that takes nothing for ``send_timeout_s`` is cut off at once
        (it reads nothing, so no error message or close frame would get through)."""
        try:
            await asyncio.wait_for(connection.send(message), self.config.send_timeout_s)
        except asyncio.TimeoutError:
            connection.transport.abort()
            raise ProtocolError("slow_client", f"nothing taken for {self.config.send_timeout_s:g} s", 4408) from None

    async def _send_frame(self, connection: ServerConnection, frame, outputs: set[str], arrivals: deque) -> None:
        header = {"type": "frame", "index": frame.index, "pts": [frame.pts.numerator, frame.pts.denominator],
                  "source": list(frame.source) if frame.source is not None else None}
        if "coefficients" in outputs:
            header["blendshapes"] = [round(float(v), 5) for v in frame.blendshapes]
            header["pose"] = [round(float(v), 5) for v in frame.pose]
        payload = json.dumps(header).encode()
        parts = [len(payload).to_bytes(4, "big"), payload]
        if frame.encoded is not None:
            parts.append(frame.encoded)
        await self._send(connection, b"".join(parts))
        if frame.audio is not None:
            await self._send(connection, _audio_message(frame))
        self.metrics.counts["frames"] += 1
        if frame.source is not None:
            while arrivals and arrivals[0][0] < frame.source[1]:
                arrivals.popleft()
            if arrivals:
                self.metrics.observe_latency(time.perf_counter() - arrivals[0][1])


def _limit_send_buffer(connection: ServerConnection, size: int = SEND_BUFFER_BYTES) -> None:
    """A small kernel send buffer: a client that stops reading blocks its session after a few frames,
    instead of after the megabytes loopback would otherwise buffer (its frames cost the shared worker)."""
    sock = connection.transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _token_of(request: Request) -> str:
    """The client's token: ``Authorization: Bearer T`` if given, else ``?token=T``."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):]
    return parse_qs(urlsplit(request.path).query).get("token", [""])[0]


def _audio_message(frame) -> bytes:
    """A frame's audio as its own binary message: the same framing, header ``{"type": "audio"}``, then f32le."""
    header = json.dumps({"type": "audio", "index": frame.index}).encode()
    return len(header).to_bytes(4, "big") + header + frame.audio.astype("<f4").tobytes()


def _decode_pcm(message: bytes, fmt: np.dtype, channels: int) -> np.ndarray:
    frame_bytes = fmt.itemsize * channels
    if len(message) % frame_bytes:
        raise ProtocolError("partial_sample", f"audio messages must hold whole samples ({frame_bytes} bytes each)",
                            4400)
    samples = np.frombuffer(message, fmt).reshape(-1, channels)
    if fmt.kind == "f" and not np.isfinite(samples).all():
        raise ProtocolError("bad_audio", "audio holds NaN or infinite samples", 4400)
    return samples.mean(1).astype(np.float32) if fmt.kind == "f" else samples.mean(1).astype(np.float32) / 32768.0


def _response(status: http.HTTPStatus, body: bytes, kind: str = "text/plain; charset=utf-8") -> Response:
    headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body)
