"""audio2motion on real speech, through the frozen lip-sync yardstick.

    python benchmarks/a2m_eval.py [--clips report|tuning|asterisk] [--models mel whisper A2M.pt ...]
                                  [--data ../shared/data] [--no-robustness]

Systems, all at 30 fps on each clip's own audio:
- each model (``--models``: ``mel``, ``whisper`` and ``whisper-live`` are the
  shipped weights of those ears, ``whisper-live`` the live head, whose
  look-ahead bounds all audio a frame hears (:func:`~talkinghead.audio2motion.animate.reading_for`);
  anything else a weights file; default mel and whisper) at
  look-ahead 0, 40, 100 and 200 ms (``--lookaheads``), followed by the motion layer's silence gate
  (``--gate``), anticipating by the same look-ahead (blinks and head motion off: they do not touch the mouth);
- the RMS-energy mouth and PocketSphinx phone recognition -> the articulation
  model (frozen baselines, :mod:`talkinghead.evaluation.baselines`).

Clips: ``report`` and ``tuning`` are the talking clips (``../shared/data``);
``asterisk`` the force-aligned Asterisk prompts
(:mod:`talkinghead.evaluation.asterisk`; Debian packages
``asterisk-core-sounds-en-g722`` and ``asterisk-core-sounds-en``), aligned once into ``--cache``.

Signals: aperture = signed inner-lip gap of the reference face / IOD,
rounding = ``mouthFunnel + mouthPucker`` (``baselines.mouth_signals``).
For each system the lag is chosen once on the pooled aperture AUC within
-1..+1 (positive = signal late); every figure is taken at that lag:
- AUC of aperture and rounding, pooled and per clip, 95% event-bootstrap CI;
- each clip's own best aperture lag in -4..+4 (one fixed output delay means
  the same lag on every clip);
- Pearson r of the predicted aperture against the real mouth (raw MediaPipe
  lip gap / IOD) tracked from the clip's own video, at the video's offset
  (the raw lip gap's best lag against the labels, searched in -8..+8);
- amplitude: median aperture on P/B/M frames / on open-vowel frames, and
  open-vowel aperture / the tracked real mouth's;
- silence: median aperture on SIL runs longer than 200 ms / on speech frames;
- jitter: mean |second difference| of the 52 weights, and the tracked mouth's
  (the tracker's solved weights) beside it;
- robustness: pooled aperture AUC at 10 dB SNR (white and babble noise, seeded;
  babble = the other clips' speech) and through an 8 kHz telephone band;
- reference: the tracked real mouth's aperture (raw lip gap) and rounding
  (solved ``mouthFunnel + mouthPucker``) AUC at the video's own offset, pooled
  over the clips with a video, beside every system's AUC on the same clips:
  how far the labels let any mouth signal go.
Clips without a video have no Pearson r, tracked amplitude or tracked jitter.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.motion import (
    BlinkConfig,
    HeadConfig,
    MotionConfig,
    SilenceConfig,
    apply_motion,
)
from talkinghead.contracts.audio_io import load_audio_16k
from talkinghead.evaluation import lipsync, noises
from talkinghead.evaluation.baselines import energy_mouth, mouth_signals, pocketsphinx_mouth
from talkinghead.evaluation.labels import REPORT_CLIPS, TUNING_CLIPS, LabelledClip, available_clips

ROOT = Path(__file__).resolve().parents[1]
FPS = 30
RATE = 16000
LAGS = (-1, 0, 1)
OWN_LAGS = tuple(range(-4, 5))  # each clip's own best lag, to show the output delay is one number
LOOKAHEADS_MS = (0, 40, 100, 200)
OPEN = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
BILABIAL = frozenset({"P", "B", "M"})


def mouth_only(lookahead_ms: int, gate: str = "auto") -> MotionConfig:
    """The motion layer with only the silence gate (it anticipates as far as the model looks ahead);
    ``gate``: its detector (auto, energy, silero) or none."""
    silence = SilenceConfig(enabled=gate != "none", detector="auto" if gate == "none" else gate,
                            anticipation_ms=lookahead_ms)
    return MotionConfig(blink=BlinkConfig(enabled=False), head=HeadConfig(scale=0.0), silence=silence)


System = Callable[[np.ndarray, int], np.ndarray]  # 16 kHz audio, frames -> (frames, 52) weights


def systems(models: dict[str, object], lookaheads: tuple[int, ...] = LOOKAHEADS_MS,
            gate: str = "auto") -> dict[str, System]:
    def model_at(model, lookahead_ms: int) -> System:
        def run(audio: np.ndarray, n: int) -> np.ndarray:
            coefficients = animate(model, audio, RATE, FPS, lookahead_ms)
            return apply_motion(coefficients, audio, RATE, mouth_only(lookahead_ms, gate)).blendshapes[:n]
        return run

    table = {f"{name} {ms} ms": model_at(model, ms) for name, model in models.items() for ms in lookaheads}
    table["energy"] = lambda audio, n: energy_mouth(audio, n, FPS)
    table["pocketsphinx"] = lambda audio, n: pocketsphinx_mouth(audio, n, FPS)
    return table


class RealMouth:
    """The mouth tracked from a clip's own video: raw lip gap and solved weights."""

    def __init__(self, clip: LabelledClip) -> None:
        from talkinghead.contracts.face_model import interocular, lip_gap
        from talkinghead.renderer.tracking import track_video

        track = track_video(clip.video, progress=False)
        self.fps = track.fps
        self.aperture = lip_gap(track.landmarks) / interocular(track.landmarks)
        self.weights = track.blendshapes
        self.offset = lipsync.best_lag(self.aperture, clip.labels, track.fps, "aperture", n_boot=0).best_lag

    def on_labels(self, signal: np.ndarray, n_labels: int) -> np.ndarray:
        """A signal of the video read at the 30 fps label frames, its A/V offset removed.

        The few frames the offset pushes past either end hold the edge value.
        """
        values, frames = lipsync.sample_at_label_frames(signal, self.fps, n_labels, self.offset)
        return np.interp(np.arange(n_labels), frames, values)


def median_on(signal: np.ndarray, labels: np.ndarray, classes: frozenset[str], lag: int) -> float:
    n = min(len(labels), len(signal) - max(0, lag))
    frames = np.arange(max(0, -lag), n)
    chosen = [j for j in frames if labels[j] in classes]
    return float(np.median(signal[np.array(chosen) + lag])) if chosen else float("nan")


def long_silence(labels: np.ndarray, min_frames: int = 7) -> np.ndarray:
    """Frames inside SIL runs longer than 200 ms (7 frames at 30 fps)."""
    mask = np.zeros(len(labels), bool)
    start = 0
    for j in range(1, len(labels) + 1):
        if j == len(labels) or labels[j] != labels[start]:
            if labels[start] == "SIL" and j - start >= min_frames:
                mask[start:j] = True
            start = j
    return mask


def jitter(weights: np.ndarray) -> float:
    return float(np.abs(np.diff(weights, 2, axis=0)).mean())


def cell(result: lipsync.AUCResult) -> str:
    return f"{result.auc:.3f} [{result.ci_low:.2f}, {result.ci_high:.2f}]"


def pooled_aperture(run: System, audios: dict[str, np.ndarray], clips, lag: int) -> float:
    signals = [(mouth_signals(run(audios[c.name], len(c.labels)))["aperture"], c.labels, FPS) for c in clips]
    return lipsync.pooled_auc(signals, "aperture", lag, n_boot=0).pooled.auc


def degraded(audios: dict[str, np.ndarray], extra_voices: list[np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Every clip under each condition of :data:`noises.CONDITIONS` at 10 dB SNR (seeded per clip and condition);
    babble's 4 voices come from the other clips and ``extra_voices``."""
    names = list(audios)
    out: dict[str, dict[str, np.ndarray]] = {}
    for c, condition in enumerate(noises.CONDITIONS):
        label = condition if condition == "telephone" else f"{condition} 10 dB"
        others = {name: [audios[o] for o in names if o != name] + extra_voices for name in names}
        if condition == "babble" and min(len(v) for v in others.values()) < 4:
            continue
        out[label] = {name: noises.degrade(audios[name], condition, 10.0, np.random.default_rng([c, i]), RATE,
                                           others[name]) for i, name in enumerate(names)}
    return out


def room(audios: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each clip with room noise (pink noise and mains hum) at 20 dB SNR, for the silence columns."""
    return {name: noises.degrade(audio, "pink+hum", 20.0, np.random.default_rng([99, i]), RATE)
            for i, (name, audio) in enumerate(audios.items())}


def silence_figures(ap: np.ndarray, labels: np.ndarray, lag: int = -1) -> tuple[float, float]:
    """(median aperture on SIL runs > 200 ms / on speech frames, share of those runs whose mouth is shut
    (below a tenth of the speech median) on every frame from 100 ms after the speech ends until 100 ms
    before it resumes: the mouth may anticipate a word by the look-ahead). ``lag``: the signal's frame
    ``j + lag`` is read for label frame ``j`` (the labels trail the audio by a frame)."""
    n = min(len(labels), len(ap))
    ap, labels = ap[:n], labels[:n]
    silent, speech = long_silence(labels), ~np.isin(labels, ["SIL", "NSN"])
    if not silent.any():
        return float("nan"), float("nan")
    speaking = np.median(ap[speech])
    starts = [j for j in range(1, n) if silent[j] and not silent[j - 1]]
    shut = []
    for start in starts:
        stop = start
        while stop < n and silent[stop]:
            stop += 1
        window = ap[max(0, start + 3 + lag):max(0, stop - 3 + lag)]  # 3 frames = 100 ms at 30 fps
        if len(window):
            shut.append(bool(np.all(window <= 0.1 * speaking)))
    return float(np.median(ap[silent]) / speaking), float(np.mean(shut)) if shut else float("nan")


def reference(clips: list[LabelledClip], real: dict[str, RealMouth], details: dict) -> None:
    """The real mouth tracked from each clip's video, through the same yardstick: a ceiling.

    Labels and lips disagree at times (label boundaries, coarticulation, a
    tracker's errors), so even the real lips score below 1; a signal
    predicted from audio is judged against that.
    """
    filmed = [c for c in clips if c.name in real]
    tracked = {}
    for c in filmed:
        mouth = real[c.name]
        tracked[c.name] = {
            "aperture": mouth.on_labels(mouth.aperture, len(c.labels)),
            "rounding": mouth.on_labels(mouth_signals(mouth.weights)["rounding"], len(c.labels)),
        }
    print(f"\n| clips with video | lag | pooled aperture | {' | '.join(c.name for c in filmed)} | pooled rounding |")
    print("|---|---|---|" + "---|" * len(filmed) + "---|")
    rows = {"tracked real mouth (own A/V offset)": (0, tracked)}
    rows |= {name: (lag, signals) for name, (lag, _, signals) in details.items()}
    for name, (lag, signals) in rows.items():
        aperture = lipsync.pooled_auc([(signals[c.name]["aperture"], c.labels, FPS) for c in filmed], "aperture", lag)
        rounding = lipsync.pooled_auc([(signals[c.name]["rounding"], c.labels, FPS) for c in filmed], "rounding", lag)
        per_clip = " | ".join(cell(r) for r in aperture.per_clip)
        print(f"| {name} | {lag:+d} | {cell(aperture.pooled)} | {per_clip} | {cell(rounding.pooled)} |", flush=True)


SHIPPED = ("mel", "whisper", "whisper-live")


def shipped(name: str):
    """The shipped weights called ``name``: ``mel``, ``whisper`` (offline head), ``whisper-live`` (live head)."""
    return load_model(ears=name.removesuffix("-live"), live=name.endswith("-live"))


def label(name: str) -> str:
    return name if name in SHIPPED else Path(name).parent.name or name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", choices=("report", "tuning", "asterisk"), default="report")
    parser.add_argument("--models", nargs="+", default=["mel", "whisper"],
                        help="mel / whisper / whisper-live (shipped weights) or weights files")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "talkinghead" / "asterisk",
                        help="where the Asterisk set is aligned (outside the repository: derived CC-BY-SA audio)")
    parser.add_argument("--lookaheads", type=int, nargs="+", default=list(LOOKAHEADS_MS), help="ms")
    parser.add_argument("--gate", choices=("auto", "energy", "silero", "none"), default="auto",
                        help="the motion layer's speech gate after each model (auto: silero where installed)")
    parser.add_argument("--no-robustness", action="store_true")
    args = parser.parse_args()
    if args.clips == "asterisk":
        from talkinghead.evaluation.asterisk import aligned_set, available

        if not available():
            raise SystemExit("the Asterisk set needs Debian's asterisk-core-sounds-en-g722 and asterisk-core-sounds-en")
        aligned = aligned_set(args.cache)
        clips = aligned.clips
        print(f"Asterisk prompts: {aligned.prompts} aligned into {len(clips)} clips, {len(aligned.skipped)} skipped")
    else:
        clips = available_clips(args.data, REPORT_CLIPS if args.clips == "report" else TUNING_CLIPS)
    if not clips:
        raise SystemExit(f"no labelled clips under {args.data}")
    audios = {clip.name: load_audio_16k(clip.audio) for clip in clips}
    real = {clip.name: RealMouth(clip) for clip in clips if clip.video is not None}
    models = {label(name): shipped(name) if name in SHIPPED else load_model(Path(name)) for name in args.models}
    table = systems(models, tuple(args.lookaheads), args.gate)
    names = [clip.name for clip in clips]

    print(f"| system | lag | pooled aperture | {' | '.join(names)} | pooled rounding |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    details = {}
    for name, run in table.items():
        weights = {c.name: run(audios[c.name], len(c.labels)) for c in clips}
        signals = {k: mouth_signals(w) for k, w in weights.items()}
        aperture = [(signals[c.name]["aperture"], c.labels, FPS) for c in clips]
        rounding = [(signals[c.name]["rounding"], c.labels, FPS) for c in clips]
        lag = lipsync.pooled_best_lag(aperture, "aperture", lags=LAGS, n_boot=0).best_lag
        pooled = lipsync.pooled_auc(aperture, "aperture", lag)
        rounded = lipsync.pooled_auc(rounding, "rounding", lag)
        per_clip = " | ".join(cell(r) for r in pooled.per_clip)
        print(f"| {name} | {lag:+d} | {cell(pooled.pooled)} | {per_clip} | {cell(rounded.pooled)} |", flush=True)
        details[name] = (lag, weights, signals)

    noisy_room = room(audios)
    details_room = {name: {c.name: run(noisy_room[c.name], len(c.labels)) for c in clips} for name, run in table.items()}
    print("\n| system | clip | own lag | r vs tracked | bilabial/open | open vs tracked | long SIL/speech (shut "
          "100 ms after) | same, room noise 20 dB | jitter (tracked) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (lag, weights, signals) in details.items():
        for clip in clips:
            ap = signals[clip.name]["aperture"]
            labels = np.asarray(clip.labels)
            own_lag = lipsync.best_lag(ap, clip.labels, FPS, "aperture", lags=OWN_LAGS, n_boot=0).best_lag
            open_ap = median_on(ap, labels, OPEN, lag)
            ratio = median_on(ap, labels, BILABIAL, lag) / open_ap
            sil_ratio, shut = silence_figures(ap, labels)
            noisy = mouth_signals(details_room[name][clip.name])["aperture"]
            room_ratio, room_shut = silence_figures(noisy, labels)
            r = amp = tracked_jitter = float("nan")
            if clip.name in real:
                mouth = real[clip.name]
                r = lipsync.pearson(ap, FPS, mouth.aperture, FPS, lag=lag - mouth.offset)
                amp = open_ap / median_on(mouth.aperture, labels, OPEN, mouth.offset)
                tracked_jitter = jitter(mouth.weights)
            print(f"| {name} | {clip.name} | {own_lag:+d} | {r:.2f} | {ratio:.2f} | {amp:.2f} | {sil_ratio:.2f} "
                  f"({shut:.0%}) | {room_ratio:.2f} ({room_shut:.0%}) | "
                  f"{jitter(weights[clip.name]):.4f} ({tracked_jitter:.4f}) |", flush=True)

    if real:
        reference(clips, real, details)
    if args.no_robustness:
        return
    extra = []
    from talkinghead.evaluation.asterisk import aligned_set, available

    if args.clips != "asterisk" and available():  # more voices for babble
        extra = [load_audio_16k(c.audio) for c in aligned_set(args.cache).clips[:4]]
    conditions = degraded(audios, extra)
    print(f"\n| system | clean | {' | '.join(conditions)} | worst drop |")
    print("|---|---|" + "---|" * len(conditions) + "---|")
    for name, run in table.items():
        lag, _, signals = details[name]
        clean_signals = [(signals[c.name]["aperture"], c.labels, FPS) for c in clips]
        clean = lipsync.pooled_auc(clean_signals, "aperture", lag, n_boot=0).pooled.auc
        scores = [pooled_aperture(run, conditions[c], clips, lag) for c in conditions]
        print(f"| {name} | {clean:.3f} | " + " | ".join(f"{s:.3f}" for s in scores)
              + f" | {clean - min(scores):.3f} |", flush=True)


if __name__ == "__main__":
    main()
