"""Dubbing real videos: probes, lip sync against exact phones, untouched pixels, contact sheets, speed.

    python benchmarks/dub_eval.py [--data ../shared/data] [--out /tmp/dubs] [--clips NAME ...] [--speed-runs 3]
        [--preset retrieval|quick|standard]

Every ``video_with_audio/retalk_*.mp4`` and ``sun`` (its own speech is a
separate file, given as ``video_speech``) is dubbed (``--preset``, default the product's, retrieval) with
(a) a real speech file from ``speech/`` and (b) a festival sentence (voice
kal) whose phone timings come from festival itself. Per dub:
- the output's probe against the input's (size, frame rate, duration,
  streams, rotation); the expected duration is the longer of the video and
  the speech;
- before encoding, every output pixel outside the redraw mask equals the
  input frame's (checked on every frame) and the mask's mean share of the frame;
- for (b), and for (a) where the speech has labels (``intro_en``): the
  output is tracked again (raw MediaPipe lip gap / IOD, independent of the
  project's solver), resampled to the labels' 30 fps midpoints from each
  frame's own time (the input may be variable-rate), and scored with the
  lip-sync yardstick's aperture AUC at lags -1, 0, +1 (bar: 0.85 at one of
  them) and at its best lag in -8..+8; the baseline beside it is the
  input video itself (its own mouth) scored against the same phones;
- a contact sheet (``benchmarks/figures/dub_<clip>.png``, ``dub_<clip>_<preset>.png`` for another preset): input above,
  dub (b) below, six frames across the sentence, cropped to the face.
Speed: ``retalk_3`` (5 s) dubbed with ``retalk_a1`` (the preset, enrollment
included), ``--speed-runs`` times, as a real-time factor; the baseline in
the same run is a plain decode and re-encode of the video.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.phones import phones_at
from talkinghead.audio2motion.training.tts import synthesize_festival
from talkinghead.contracts.audio_io import write_wav
from talkinghead.evaluation import lipsync
from talkinghead.evaluation.labels import load_clip_labels, load_phoneme_index
from talkinghead.jobs.dub import Dubbing, DubConfig, dub
from talkinghead.renderer.video import (
    VideoWriter,
    iter_frames,
    iter_timed_frames,
    probe_video,
    write_image,
)
from talkinghead.renderer.video_avatar import DEFAULT_PRESET, PRESETS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_eval import retracked_aperture  # noqa: E402  (the same re-tracking as the renderer's benchmark)

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = {
    "retalk_1": "Bob made a big pot of warm soup, and Pam baked a pie.",
    "retalk_2": "My mom bought maps of Bombay and Palma by the harbour.",
    "retalk_3": "Please pass me the apple, then bring a bottle of balm.",
    "retalk_5": "A bumpy path by the pond made both boys stop and laugh.",
    "sun": "Maybe Paul will play the piano by the bay tomorrow morning.",
}
SHEET_WIDTH = 1000
REAL_SPEECH = {"retalk_1": "retalk_a1.wav", "retalk_2": "retalk_a2.wav", "retalk_3": "retalk_a1.wav",
               "retalk_5": "retalk_a2.wav", "sun": "intro_en.wav"}


def clips(data: Path, names: list[str] | None) -> list[tuple[str, Path, Path | None]]:
    """(name, video, the video's own speech file if separate)."""
    found = [(p.stem, p, None) for p in sorted((data / "video_with_audio").glob("retalk_*.mp4"))]
    sun = data / "video_with_audio" / "sun"
    if sun.is_dir():
        found.append(("sun", sun / "video.mp4", sun / "audio.wav"))
    return [c for c in found if names is None or c[0] in names]


def stream_seconds(path: Path) -> dict[str, float]:
    import av

    with av.open(str(path)) as container:
        return {s.type: round(float(s.duration * s.time_base), 3) for s in container.streams if s.duration}


def resampled_aperture(path: Path, seconds: float) -> np.ndarray:
    """Re-tracked lip gap of the output's frames within ``seconds``, read at the 30 fps label midpoints."""
    frames, mids = [], []
    for frame in iter_timed_frames(path):
        if frame.time >= seconds + 0.2:
            break
        frames.append(frame.image)
        mids.append(float(frame.time + frame.duration / 2))
    signal = retracked_aperture(np.stack(frames))
    labels_at = (np.arange(int(np.ceil(seconds * 30))) + 0.5) / 30
    return np.interp(labels_at, mids, signal)


def yardstick(signal: np.ndarray, labels: list[str]) -> str:
    near = {lag: lipsync.auc_at_lag(signal, labels, 30, "aperture", lag, n_boot=0).auc for lag in (-1, 0, 1)}
    best = lipsync.best_lag(signal, labels, 30, "aperture", n_boot=0)
    lag = max(near, key=near.get)
    return f"{near[lag]:.3f} ({lag:+d}) | {best.best.auc:.3f} ({best.best_lag:+d})"


def run_dub(video: Path, speech: Path, output: Path, video_speech: Path | None, sheet: Path | None = None,
            preset: str = DEFAULT_PRESET):
    """Dub and check untouched pixels on every frame; returns (result, seconds, mask share, violations)."""
    shares, violations, picks = [], [0], {}
    started = time.perf_counter()
    dubbing = Dubbing(video, speech, DubConfig(preset=preset), video_speech=video_speech, progress=False)
    wanted = set(np.linspace(0, max(0, min(len(dubbing.plan), int(len(dubbing.samples) / dubbing.rate
                                                                    * float(dubbing.info.fps))) - 1), 6).astype(int))

    def check(frame, original, patched) -> None:
        if patched is None:
            violations[0] += int(not np.array_equal(frame.image, original))
        else:
            changed = patched.changed()
            violations[0] += int(not np.array_equal(frame.image[~changed], original[~changed]))
            shares.append(changed.mean())
        if frame.index in wanted:
            picks[frame.index] = (original, frame.image)

    result = dubbing.write(output, on_frame=check)
    seconds = time.perf_counter() - started
    if sheet is not None:
        face = dubbing.track.landmarks[:, :, :2]
        low, high = face.min((0, 1)), face.max((0, 1))
        pad = 0.3 * (high - low)
        x0, y0 = np.maximum(0, low - pad).astype(int)
        x1, y1 = (high + pad).astype(int)
        rows = [np.concatenate([picks[i][r][y0:y1, x0:x1] for i in sorted(picks)], 1) for r in (0, 1)]
        write_image(sheet, fit_width(np.concatenate(rows, 0), SHEET_WIDTH))
    return dubbing, result, seconds, float(np.mean(shares)) if shares else 0.0, violations[0]


def fit_width(image: np.ndarray, width: int) -> np.ndarray:
    """Shrink (area average) to at most ``width`` pixels across: sheets stay small in the repository."""
    import torch
    import torch.nn.functional as F

    if image.shape[1] <= width:
        return image
    height = round(image.shape[0] * width / image.shape[1])
    small = F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float(), size=(height, width), mode="area")
    return small[0].permute(1, 2, 0).round().byte().numpy()


def transcode_seconds(video: Path, output: Path) -> float:
    started = time.perf_counter()
    info = probe_video(video)
    with VideoWriter(output, info.fps, (info.height, info.width), crf=18) as writer:
        for frame in iter_frames(video):
            writer.write(frame[None])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path("/tmp/dubs"))
    parser.add_argument("--clips", nargs="*", default=None)
    parser.add_argument("--speed-runs", type=int, default=3)
    parser.add_argument("--figures", type=Path, default=ROOT / "benchmarks" / "figures")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS, help="enrollment preset of every dub")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.figures.mkdir(parents=True, exist_ok=True)
    index = load_phoneme_index(args.data / "talking" / "phoneme_index.json")
    print("| clip | speech | input WxH, fps, rotation | output WxH, fps, rotation | streams (s) | expected (s) "
          "| redrawn / frames | mask share | pixels outside mask differ | AUC at -1/0/+1 | AUC best lag "
          "| input video: AUC at -1/0/+1 | input: best lag |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, video, own_speech in clips(args.data, args.clips):
        info = probe_video(video)
        festival = synthesize_festival(SENTENCES[name], voice="kal")
        sentence = args.out / f"{name}_sentence.wav"
        write_wav(sentence, festival.audio, festival.sample_rate)
        real = args.data / "speech" / REAL_SPEECH[name]
        for kind, speech in (("real " + real.stem, real), ("festival", sentence)):
            output = args.out / f"{name}_{kind.split()[0]}_{args.preset}.mp4"
            suffix = "" if args.preset == DEFAULT_PRESET else f"_{args.preset}"
            sheet = args.figures / f"dub_{name}{suffix}.png" if kind == "festival" else None
            dubbing, result, seconds, share, bad = run_dub(video, speech, output, own_speech, sheet, args.preset)
            out = probe_video(output)
            speech_seconds = len(dubbing.samples) / dubbing.rate
            video_seconds = float(dubbing.times[-1] + dubbing.durations[-1])
            if kind == "festival":
                labels = phones_at(festival.phones, (np.arange(int(np.ceil(speech_seconds * 30))) + 0.5) / 30)
                score = yardstick(resampled_aperture(output, speech_seconds), labels)
                score += f" | {yardstick(resampled_aperture(video, speech_seconds), labels)}"
            elif real.stem == "intro_en":
                labels = list(load_clip_labels(args.data / "speech" / "intro_en.phonemes_30fps.json", index))
                score = yardstick(resampled_aperture(output, len(labels) / 30), labels) + " | | "
            else:
                score = "no labels | | | "
            print(f"| {name} | {kind} | {info.width}x{info.height}, {info.fps}, {info.style.rotation} | "
                  f"{out.width}x{out.height}, {out.fps}, {out.style.rotation} | {stream_seconds(output)} | "
                  f"{max(speech_seconds, video_seconds):.3f} | {result.drawn} / {result.frames} | {share:.3f} | "
                  f"{bad} | {score} |", flush=True)
    if args.speed_runs:
        video = args.data / "video_with_audio" / "retalk_3.mp4"
        speech = args.data / "speech" / "retalk_a1.wav"
        walls, bases = [], []
        for _ in range(args.speed_runs):
            bases.append(transcode_seconds(video, args.out / "transcode.mp4"))
            started = time.perf_counter()
            result = dub(video, speech, args.out / "speed.mp4", config=DubConfig(preset=args.preset), progress=False)
            walls.append(time.perf_counter() - started)
        wall, base = statistics.median(walls), statistics.median(bases)
        print(f"\nspeed: retalk_3 + retalk_a1, {args.preset}, {result.seconds:.2f} s out: dub {wall:.1f} s (runs "
              f"{', '.join(f'{w:.1f}' for w in walls)}), real-time factor {wall / result.seconds:.2f}; "
              f"decode + re-encode alone {base:.2f} s, dub / transcode {wall / base:.1f}x")


if __name__ == "__main__":
    main()
