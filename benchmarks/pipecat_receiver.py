"""What a WebRTC peer receives from the Pipecat example: its A/V offset and a contact sheet.

    python benchmarks/pipecat_receiver.py record OUT.mp4 [--seconds 30]   # the pipecat environment
    python benchmarks/pipecat_receiver.py analyse OUT.mp4 [--sheet SHEET.png]   # the track environment

``record`` serves ``demos/pipecat_webrtc.py`` on loopback (the built-in
sentence every 1.5 s of quiet, L = 100 ms) and connects an aiortc peer that
records both received tracks into ``OUT.mp4`` with aiortc's ``MediaRecorder``
(the receiver's own timestamps). ``analyse`` (needs the ``track`` extra,
which Pipecat's environment cannot have) tracks the received video, predicts
the mouth from the received audio with audio2motion (the offline Whisper
head where installed), and estimates their offset with the enrollment's
label-free estimator (positive: the picture is late; the bar is within one
frame), then writes a contact sheet of 8 consecutive received frames during
speech with the mouth at 2x beneath.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


async def record(out: Path, seconds: float) -> None:
    from aiohttp import ClientSession, web
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaRecorder

    from talkinghead import Engine, LiveConfig

    spec = importlib.util.spec_from_file_location("pipecat_webrtc", ROOT / "demos" / "pipecat_webrtc.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    engine = Engine()
    app = demo.make_app(engine, demo.speech(None, None), every=1.5, config=LiveConfig(lookahead_ms=100))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    peer = RTCPeerConnection()
    peer.addTransceiver("audio", direction="recvonly")
    peer.addTransceiver("video", direction="recvonly")
    recorder = MediaRecorder(str(out))
    peer.on("track", recorder.addTrack)
    try:
        await peer.setLocalDescription(await peer.createOffer())
        offer = {"sdp": peer.localDescription.sdp, "type": peer.localDescription.type}
        async with ClientSession() as http, http.post(f"http://127.0.0.1:{port}/api/offer", json=offer) as reply:
            answer = await reply.json()
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        await recorder.start()
        await asyncio.sleep(seconds)
        await recorder.stop()
    finally:
        await peer.close()
        await runner.cleanup()
        engine.close()
    print(f"recorded {seconds:g} s to {out}")


def analyse(video: Path, sheet: Path | None) -> None:
    from PIL import Image

    from talkinghead.audio2motion.animate import animate
    from talkinghead.audio2motion.ears import choose_ears
    from talkinghead.audio2motion.model import load_model
    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.contracts.face_model import interocular, lip_gap
    from talkinghead.evaluation.baselines import mouth_signals
    from talkinghead.jobs.av_offset import estimate_av_offset
    from talkinghead.renderer.tracking import track_video
    from talkinghead.renderer.video import iter_frames

    track = track_video(video, progress=False)
    samples, rate = load_audio(video)
    model = load_model(ears=choose_ears("auto"))
    predicted = mouth_signals(animate(model, samples, rate, track.fps, 100).blendshapes)["aperture"]
    landmarks = track.landmarks.astype(np.float64)
    tracked = lip_gap(landmarks) / interocular(landmarks)
    n = min(len(predicted), len(tracked))
    estimate = estimate_av_offset(predicted[:n], tracked[:n])
    print(f"received: {track.num_frames} frames at {float(track.fps):.2f} fps, {len(samples) / rate:.1f} s of audio; "
          f"{track.valid.mean():.0%} of frames tracked")
    print(f"A/V offset: {estimate.lag:+d} frames (r {estimate.correlation:.2f}, chance {estimate.chance:.2f}, "
          f"{'confident' if estimate.confident else 'NOT confident'}); curve around it: "
          + ", ".join(f"{lag:+d}: {estimate.curve[lag]:.2f}" for lag in range(-3, 4) if lag in estimate.curve))
    if sheet is not None:
        first = int(np.argmax(predicted[:n] > 0.5 * predicted[:n].max()))  # a stretch of speech
        frames = [f for k, f in enumerate(iter_frames(video)) if first <= k < first + 8]
        points = landmarks[first:first + len(frames)]
        height, width = frames[0].shape[:2]
        tiles = []
        for frame, face in zip(frames, points):
            mouth = face[[61, 291, 0, 17], :2]
            cx, cy = mouth.mean(0)
            half = max(24, int(0.9 * np.ptp(mouth[:, 0])))
            box = (int(cx) - half, int(cy) - half, int(cx) + half, int(cy) + half)
            zoom = Image.fromarray(frame).crop(box).resize((4 * half, 4 * half))
            tile = Image.new("RGB", (width, height + 4 * half), "white")
            tile.paste(Image.fromarray(frame), (0, 0))
            tile.paste(zoom, ((width - 4 * half) // 2, height))
            tiles.append(tile)
        out = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), "white")
        for k, tile in enumerate(tiles):
            out.paste(tile, (k * tile.width, 0))
        out.save(sheet)
        print(f"contact sheet: {sheet} (frames {first}..{first + len(frames) - 1}, mouth at 2x below)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--seconds", type=float, default=30.0)
    ana = sub.add_parser("analyse")
    ana.add_argument("video", type=Path)
    ana.add_argument("--sheet", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "record":
        asyncio.run(record(args.out, args.seconds))
    else:
        analyse(args.video, args.sheet)


if __name__ == "__main__":
    main()
