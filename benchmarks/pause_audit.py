"""What sits in the talking clips' labelled pauses: sound level, Silero, Whisper's words, the real lips, each head.

    python benchmarks/pause_audit.py [--clips report|tuning] [--models whisper whisper-live mel] [--lookahead 100]

The silence bar reads the aperture on ``SIL`` runs longer than 200 ms of the
clips' labels. Those labels come from the clips' transcripts, which leave
out fillers and asides, so a "pause" may hold a vocalisation that a face
rightly answers. For every such run this prints its level (dBFS), Silero
VAD's mean and maximum speech probability, what Whisper tiny.en transcribes
in it alone (greedy, CTranslate2; with its no-speech probability), the
speaker's own tracked lip gap there (0 = the clip's 5th percentile, 1 = its
median over speech frames), and each model's median aperture (gated as in
``a2m_eval.py``) over the run's inside (100 ms from its start, 133 ms from its
end). A run is called *vocal* when Whisper transcribes a word in it with a
no-speech probability below 0.5; each clip's silence ratio is then given
over all runs and over the other (*quiet*) runs. A diagnostic of the labels,
not a replacement for the bar. Needs the ``whisper`` extra.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from a2m_eval import FPS, RATE, SHIPPED, RealMouth, label, long_silence, mouth_only, shipped

from talkinghead.audio2motion.animate import animate
from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.motion import apply_motion
from talkinghead.audio2motion.speech_gate import CHUNK, SileroStream
from talkinghead.audio2motion.whisper import model_dir, whisper_log_mel
from talkinghead.contracts.audio_io import load_audio_16k
from talkinghead.evaluation.baselines import mouth_signals
from talkinghead.evaluation.labels import REPORT_CLIPS, TUNING_CLIPS, available_clips

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 30 * RATE  # Whisper's decoder reads one 30 s window
VOCAL_NO_SPEECH = 0.5


def _byte_decoder() -> dict[str, int]:
    """GPT-2 byte-level BPE: printable bytes stand for themselves, the rest for code points 256 + n."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return {c: b for b, c in chars.items()}


class Transcriber:
    """Whisper tiny.en's greedy transcript of a short segment, with its no-speech probability."""

    def __init__(self) -> None:
        import ctranslate2

        self._ct2 = ctranslate2
        self._model = ctranslate2.models.Whisper(str(model_dir()), device="cpu", compute_type="int8")
        vocab = json.loads((model_dir() / "tokenizer.json").read_text())["model"]["vocab"]
        self._tokens = {i: token for token, i in vocab.items()}
        self._bytes = _byte_decoder()

    def __call__(self, segment: np.ndarray) -> tuple[str, float]:
        window = np.zeros(WINDOW, np.float32)
        window[:min(len(segment), WINDOW)] = segment[:WINDOW]
        mel = self._ct2.StorageView.from_array(np.ascontiguousarray(whisper_log_mel(window)[None]))
        result = self._model.generate(mel, [["<|startoftranscript|>", "<|notimestamps|>"]],
                                      return_no_speech_prob=True)[0]
        pieces = [self._tokens.get(i, "") for i in result.sequences_ids[0]]
        raw = bytes(self._bytes[c] for piece in pieces if not piece.startswith("<|") for c in piece if c in self._bytes)
        return raw.decode("utf-8", "replace").strip(), float(result.no_speech_prob)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for j, value in enumerate([*mask, False]):
        if value and start is None:
            start = j
        elif not value and start is not None:
            out.append((start, j))
            start = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--clips", choices=("report", "tuning"), default="report")
    parser.add_argument("--models", nargs="+", default=["whisper", "whisper-live"])
    parser.add_argument("--lookahead", type=int, default=100, help="ms")
    args = parser.parse_args()
    clips = available_clips(args.data, REPORT_CLIPS if args.clips == "report" else TUNING_CLIPS)
    if not clips:
        raise SystemExit(f"no labelled clips under {args.data}")
    models = {label(n): shipped(n) if n in SHIPPED else load_model(Path(n)) for n in args.models}
    transcribe = Transcriber()
    names = list(models)
    print(f"| clip | pause (s) | level dBFS | Silero mean / max | Whisper hears (no-speech p) | real lips | "
          f"{' | '.join(names)} |")
    print("|---|---|---|---|---|---|" + "---|" * len(names))
    summary = []
    for clip in clips:
        audio = load_audio_16k(clip.audio)
        labels = np.asarray(clip.labels)
        n = len(labels)
        speech = ~np.isin(labels, ["SIL", "NSN"])
        vad = np.array(SileroStream(RATE).push(audio))
        apertures = {}
        for name, model in models.items():
            coefficients = animate(model, audio, RATE, FPS, args.lookahead)
            gated = apply_motion(coefficients, audio, RATE, mouth_only(args.lookahead)).blendshapes[:n]
            apertures[name] = mouth_signals(gated)["aperture"]
        lips = None
        if clip.video is not None:
            real = RealMouth(clip)
            lips = real.on_labels(real.aperture, n)
            floor, speaking = np.percentile(lips, 5), np.median(lips[speech])
        vocal_frames = np.zeros(n, bool)
        for start, stop in runs(long_silence(labels)):
            inside = slice(start + 3 - 1, max(start + 3, stop - 3 - 1))  # 100 ms in, labels trail one frame
            begin, finish = int(start / FPS * RATE), int(stop / FPS * RATE)  # 16 kHz samples
            segment = audio[begin:finish]
            level = 20 * np.log10(np.sqrt(np.mean(np.square(segment))) + 1e-9)
            chunks = vad[begin // CHUNK:max(finish // CHUNK, begin // CHUNK + 1)]
            words, no_speech = transcribe(segment)
            vocal = bool(re.search(r"\w", words)) and no_speech < VOCAL_NO_SPEECH
            vocal_frames[start:stop] = vocal
            real_cell = "—" if lips is None else f"{(np.median(lips[inside]) - floor) / (speaking - floor):.2f}"
            cells = " | ".join(f"{np.median(apertures[m][inside]) / np.median(apertures[m][speech]):.2f}"
                               for m in names)
            print(f"| {clip.name} | {start / FPS:.2f}–{stop / FPS:.2f} | {level:.0f} | {chunks.mean():.2f} / "
                  f"{chunks.max():.2f} | {'**' + words + '**' if vocal else words or '(nothing)'} ({no_speech:.2f}) | "
                  f"{real_cell} | {cells} |", flush=True)
        silent = long_silence(labels)
        for m in names:
            ap = apertures[m]
            every = np.median(ap[silent]) / np.median(ap[speech])
            quiet = silent & ~vocal_frames
            only_quiet = np.median(ap[quiet]) / np.median(ap[speech]) if quiet.any() else float("nan")
            summary.append((clip.name, m, every, only_quiet))
    print("\n| clip | model | long SIL / speech, all runs | quiet runs only |")
    print("|---|---|---|---|")
    for clip_name, m, every, only_quiet in summary:
        print(f"| {clip_name} | {m} | {every:.2f} | {only_quiet:.2f} |")


if __name__ == "__main__":
    main()
