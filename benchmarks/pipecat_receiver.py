"""What a WebRTC peer receives from the Pipecat example: its A/V offset and a contact sheet.

    python benchmarks/pipecat_receiver.py record OUT.mkv [--seconds 30]   # the pipecat environment
    python benchmarks/pipecat_receiver.py analyse OUT.mkv [--sheet SHEET.png]   # the track environment

``record`` serves ``demos/pipecat_webrtc.py`` on loopback (the built-in
sentence every 1.5 s of quiet, L = 100 ms) and connects an aiortc peer that
records both received tracks into ``OUT.mkv`` (H.264 and PCM), each frame
at the time it arrived (on loopback, about when it was sent; a player's own
lip sync would use RTCP sender reports instead: an approximation). ``analyse`` (needs the ``track`` extra,
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
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


async def record(out: Path, seconds: float, video_delay_ms: int | None) -> None:
    from talkinghead import Engine, LiveConfig

    spec = importlib.util.spec_from_file_location("pipecat_webrtc", ROOT / "demos" / "pipecat_webrtc.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    engine = Engine()
    delay = demo.VIDEO_DELAY_MS if video_delay_ms is None else video_delay_ms
    app = demo.make_app(engine, demo.speech(None, None), every=1.5, config=LiveConfig(fps=demo.FPS, lookahead_ms=100),
                        video_delay_ms=delay)
    try:
        async with demo.loopback_peer(app) as tracks:
            await write_tracks(tracks, out, seconds, demo.FPS)
    finally:
        engine.close()
    print(f"recorded {seconds:g} s to {out} (video delay {delay} ms)")


async def write_tracks(tracks: dict, out: Path, seconds: float, fps: int) -> None:
    """``seconds`` of the received tracks into ``out`` (H.264 and PCM), each frame at its arrival time.

    On loopback a frame arrives about when it was sent. RTP times would not do: the tracks' RTP clocks start
    at random offsets, and the sender's audio track first bursts out the silence it owes since it was made.
    The first 2 s are skipped."""
    import av

    container = av.open(str(out), "w")
    video = container.add_stream("libx264", rate=fps, options={"crf": "18"})
    video.pix_fmt = "yuv420p"
    audio = container.add_stream("pcm_s16le", rate=48000, layout="stereo")
    loop = asyncio.get_running_loop()
    try:
        first_video = await tracks["video"].recv()
        video.width, video.height = first_video.width, first_video.height  # before any packet opens the codecs
        start = loop.time() + 2.0
        last = {"video": -1, "audio": -1}

        async def take(kind: str, stream, rate: int) -> None:
            while True:
                frame = await tracks[kind].recv()
                at = loop.time() - start  # seconds on the receiver's timeline
                if kind == "audio":  # an audio frame ends when it arrives
                    at -= frame.samples / frame.sample_rate
                if at < 0:
                    continue
                if at > seconds:
                    return
                pts = round(at * rate)
                if pts <= last[kind]:
                    continue
                last[kind] = pts
                if kind == "video":
                    frame = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
                frame.pts, frame.time_base = pts, Fraction(1, rate)
                container.mux(stream.encode(frame))

        await asyncio.gather(take("video", video, fps), take("audio", audio, 48000))
        container.mux(video.encode(None))
    finally:
        container.close()


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
    from talkinghead.renderer.video import iter_frames, iter_timed_frames

    track = track_video(video, progress=False)
    samples, rate = load_audio(video)
    model = load_model(ears=choose_ears("auto"))
    predicted = mouth_signals(animate(model, samples, rate, track.fps, 100).blendshapes)["aperture"]
    landmarks = track.landmarks.astype(np.float64)
    # the receiver's frames came when they came: read the tracked mouth at each frame's own time, on the grid
    times = np.array([float(timed.time) for timed in iter_timed_frames(video)])[:len(landmarks)]
    grid = np.arange(int(times[-1] * track.fps)) / float(track.fps)
    tracked = np.interp(grid, times, lip_gap(landmarks) / interocular(landmarks))
    n = min(len(predicted), len(tracked))
    estimate = estimate_av_offset(predicted[:n], tracked[:n])
    print(f"received: {track.num_frames} frames over {times[-1]:.1f} s ({float(track.fps):g} fps nominal), "
          f"{len(samples) / rate:.1f} s of audio; "
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
    rec.add_argument("--video-delay-ms", type=int, default=None, help="default: the example's")
    ana = sub.add_parser("analyse")
    ana.add_argument("video", type=Path)
    ana.add_argument("--sheet", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "record":
        asyncio.run(record(args.out, args.seconds, args.video_delay_ms))
    else:
        analyse(args.video, args.sheet)


if __name__ == "__main__":
    main()
