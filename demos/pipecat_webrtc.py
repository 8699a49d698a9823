"""The avatar in a Pipecat pipeline, seen in a browser over Pipecat's own WebRTC transport (extra ``pipecat``).

    python demos/pipecat_webrtc.py [--port 7860] [--wav SPEECH.wav | --say "text"] [--every 4]

then open http://localhost:7860 and press Start. No cloud key: the pipeline's
TTS stands in for an agent's (STT → LLM → TTS): it speaks the WAV file (or,
with ``--say``, Debian's espeak-ng reading the text; default: the built-in
sentence) every ``--every`` seconds of quiet, in 20 ms pieces at real-time
pace, as a streaming TTS would. The pipeline is the one a voice agent uses
after its TTS::

    [speech (TTS stand-in), TalkingHeadVideoService, SmallWebRTCTransport.output()]

One ``Engine`` serves every browser that connects (each gets its own
pipeline and live session).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from aiohttp import ClientSession, web
from pipecat.frames.frames import StartFrame, TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport
from pipecat.workers.runner import WorkerRunner

from talkinghead import Engine, LiveConfig, TalkingHeadVideoService, demo_audio, load_audio

# SmallWebRTCTransport's video track stamps its frames with aiortc's VideoStreamTrack clock, 1/30 s apart
# whatever the frame rate: at any other rate the RTP times drift from real time (at 25 fps the video's
# timeline runs at 25/30 of the audio's, which a receiver's lip sync reads as drift). So the session runs at 30.
FPS = 30
VIDEO_DELAY_MS = 33  # one frame: the audio path holds sound that much longer (benchmarks/pipecat_receiver.py)

PAGE = """<!doctype html><meta charset="utf-8"><title>talkinghead in Pipecat</title>
<body style="font-family:sans-serif;background:#111;color:#eee">
<button id="start">Start</button> <span id="state"></span><br>
<video id="video" autoplay playsinline style="max-width:100%"></video>
<script>
document.getElementById("start").onclick = async () => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("audio", {direction: "recvonly"});
  pc.addTransceiver("video", {direction: "recvonly"});
  const stream = new MediaStream();
  pc.ontrack = (event) => { stream.addTrack(event.track); document.getElementById("video").srcObject = stream; };
  pc.onconnectionstatechange = () => { document.getElementById("state").textContent = pc.connectionState; };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => pc.iceGatheringState === "complete" ? done()
    : pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && done()));
  const answer = await fetch("/api/offer", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({sdp: pc.localDescription.sdp, type: pc.localDescription.type})});
  await pc.setRemoteDescription(await answer.json());
};
</script>"""


class Speaker(FrameProcessor):
    """The TTS stand-in: ``pcm`` (int16 at ``rate``) as one utterance every ``every`` seconds of quiet."""

    def __init__(self, pcm: np.ndarray, rate: int, every: float) -> None:
        super().__init__()
        self.pcm, self.rate, self.every = pcm, rate, every
        self._task: asyncio.Task | None = None

    async def process_frame(self, frame, direction) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame) and self._task is None:
            self._task = self.create_task(self._speak(), name="tts-stand-in")

    async def _speak(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.every)
            await self.push_frame(TTSStartedFrame())
            start, chunk = loop.time(), self.rate // 50
            for offset in range(0, len(self.pcm), chunk):
                await asyncio.sleep(max(0.0, start + offset / self.rate - loop.time()))
                await self.push_frame(TTSAudioRawFrame(audio=self.pcm[offset:offset + chunk].tobytes(),
                                                       sample_rate=self.rate, num_channels=1))
            await self.push_frame(TTSStoppedFrame())
            await asyncio.sleep(max(0.0, start + len(self.pcm) / self.rate - loop.time()))

    async def cleanup(self) -> None:
        await super().cleanup()
        if self._task is not None:
            await self.cancel_task(self._task)


def speech(wav: Path | None, say: str | None) -> tuple[np.ndarray, int]:
    """The stand-in's utterance (int16, its rate): a WAV file, espeak-ng reading ``say``, or the built-in sentence.
    The pipeline's output runs at that rate."""
    if say is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "say.wav"
            try:
                subprocess.run(["espeak-ng", "-w", str(path), say], check=True, capture_output=True)
            except (OSError, subprocess.CalledProcessError) as error:
                raise SystemExit(f"--say needs Debian's espeak-ng: {error}") from None
            samples, rate = load_audio(path)
    else:
        samples, rate = load_audio(wav or demo_audio())
    return np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2"), rate


def make_app(engine: Engine, utterance: tuple[np.ndarray, int], every: float,
             config: LiveConfig = LiveConfig(fps=FPS), video_delay_ms: int = VIDEO_DELAY_MS) -> web.Application:
    """The page at ``/``, SDP offers at ``POST /api/offer``; each connection runs its own pipeline."""
    if config.fps != FPS:
        raise ValueError(f"SmallWebRTCTransport stamps video at {FPS} fps: run the session at {FPS}, not {config.fps}")
    connections: set[SmallWebRTCConnection] = set()
    runner = WorkerRunner(handle_sigint=False)
    height, width = engine.renderer().size
    pcm, rate = utterance

    async def run_pipeline(connection: SmallWebRTCConnection) -> None:
        transport = SmallWebRTCTransport(webrtc_connection=connection, params=TransportParams(
            audio_out_enabled=True, video_out_enabled=True, video_out_is_live=False,  # images ride the audio queue
            video_out_width=width, video_out_height=height, video_out_framerate=FPS))
        avatar = TalkingHeadVideoService(engine, config=config, video_delay_ms=video_delay_ms)
        pipeline = Pipeline([Speaker(pcm, rate, every), avatar, transport.output()])
        worker = PipelineWorker(pipeline, params=PipelineParams(audio_out_sample_rate=rate))

        @transport.event_handler("on_client_disconnected")
        async def _gone(transport, client) -> None:
            await worker.cancel()

        await runner.add_workers(worker)

    async def offer(request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or body.get("type") != "offer" or not isinstance(body.get("sdp"), str):
            return web.json_response({"error": "POST {\"sdp\": ..., \"type\": \"offer\"}"}, status=400)
        connection = SmallWebRTCConnection()
        await connection.initialize(sdp=body["sdp"], type="offer")
        connections.add(connection)

        @connection.event_handler("closed")
        async def _closed(connection) -> None:
            connections.discard(connection)

        await run_pipeline(connection)
        return web.json_response(connection.get_answer())

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def started(_: web.Application) -> None:
        app["runner_task"] = asyncio.create_task(runner.run(auto_end=False))

    async def stopped(_: web.Application) -> None:
        for connection in list(connections):
            await connection.disconnect()
        await runner.cancel()
        await app["runner_task"]  # every pipeline has closed its session

    app = web.Application()
    app.add_routes([web.get("/", page), web.post("/api/offer", offer)])
    app.on_startup.append(started)
    app.on_cleanup.append(stopped)
    return app


@contextlib.asynccontextmanager
async def loopback_peer(app: web.Application):
    """``app`` served on loopback and an aiortc peer that offers to receive from it; yields ``{kind: track}``
    once both tracks are up (for tests and measurements; a browser does the same from the page)."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    peer = RTCPeerConnection()
    peer.addTransceiver("audio", direction="recvonly")
    peer.addTransceiver("video", direction="recvonly")
    tracks = {}
    peer.on("track", lambda track: tracks.setdefault(track.kind, track))
    try:
        await peer.setLocalDescription(await peer.createOffer())
        offer = {"sdp": peer.localDescription.sdp, "type": peer.localDescription.type}
        async with ClientSession() as http, http.post(f"http://127.0.0.1:{port}/api/offer", json=offer) as reply:
            answer = await reply.json()
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        for _ in range(100):
            if len(tracks) == 2:
                break
            await asyncio.sleep(0.1)
        yield tracks
    finally:
        await peer.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--wav", type=Path, default=None, help="what the TTS stand-in says (default: the built-in sentence)")
    parser.add_argument("--say", default=None, help="text for espeak-ng to say instead")
    parser.add_argument("--every", type=float, default=4.0, help="seconds of quiet between utterances")
    parser.add_argument("--lookahead-ms", type=int, default=100)
    parser.add_argument("--video-delay-ms", type=int, default=VIDEO_DELAY_MS,
                        help="images this much later against their audio (whole frames)")
    args = parser.parse_args()
    engine = Engine()
    app = make_app(engine, speech(args.wav, args.say), args.every, LiveConfig(fps=FPS, lookahead_ms=args.lookahead_ms),
                   args.video_delay_ms)
    print(f"open http://{args.host}:{args.port} and press Start")
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
