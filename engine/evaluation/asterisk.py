"""A second real-voice test set: Asterisk's English prompts, force-aligned (an approximation).

Debian's ``asterisk-core-sounds-en-g722`` holds 568 studio prompts of one
professional voice (G.722, 16 kHz; CC-BY-SA-3.0, used here for evaluation
only, never for shipped weights), and ``asterisk-core-sounds-en`` their
transcripts. Labels are not hand-made: each prompt's transcript is
force-aligned with PocketSphinx (:func:`talkinghead.audio2motion.align.align_transcript`),
so they carry that aligner's errors (see :func:`aligned_set`). Prompts are
joined, in transcript order, into groups of about a minute (each prompt
followed by 0.3 s of digital silence) written as WAV files with 30 fps
labels, and evaluated like the talking clips.
"""

from __future__ import annotations

import gzip
import json
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.align import align_transcript
from talkinghead.audio2motion.phones import phones_at
from talkinghead.contracts.audio_io import FEATURE_RATE, load_audio_16k
from talkinghead.evaluation.labels import LabelledClip
from talkinghead.evaluation.lipsync import LABEL_FPS

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
GAP_S = 0.3
GROUP_S = 60.0


@dataclass(frozen=True)
class AlignedSet:
    clips: list[LabelledClip]
    prompts: int  # prompts aligned
    skipped: dict[str, str]  # prompt -> why it is not in the set (no audio, words not in the dictionary, no alignment)


ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def spoken_numbers(text: str) -> str:
    """Whole numbers 0-99 in ``text`` spelled as words (the dictionary has no digits; the prompts say them)."""
    def spell(match: re.Match) -> str:
        n = int(match.group())
        if n < 20:
            return ONES[n]
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    return re.sub(r"\b\d{1,2}\b", spell, text)


def prompts(transcripts: Path = TRANSCRIPTS, sounds: Path = SOUNDS) -> dict[str, str]:
    """Prompt name -> transcript, for the prompts whose G.722 file is installed, in the transcripts' order."""
    found = {}
    with gzip.open(transcripts, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            if line.startswith(";") or not sep or not text.strip():
                continue
            found[name.strip()] = spoken_numbers(text.strip())
    return {name: text for name, text in found.items() if (sounds / f"{name}.g722").is_file()}


def available() -> bool:
    return TRANSCRIPTS.is_file() and SOUNDS.is_dir()


def aligned_set(cache: Path, progress: bool = True) -> AlignedSet:
    """The force-aligned prompts as minute-long clips under ``cache`` (made once, then read back).

    Known aligner errors, seen on these prompts: words outside the CMU
    dictionary (names, ordinals like "1st", numbers past 99; numbers to 99
    are spelled out first) cannot be aligned and their prompts are skipped;
    tones and beeps have no words to align; silences PocketSphinx does not hear as a pause
    are absorbed into the neighbouring phones, so a stop's closure often
    starts a frame or two early or late; the en-US acoustic model's 10 ms
    frames put every boundary on a 10 ms grid, about 8 ms early on average.
    """
    cache = Path(cache)
    index = cache / "asterisk.json"
    if index.is_file():
        saved = json.loads(index.read_text())
        clips = [LabelledClip(name, np.asarray(labels, dtype=str), cache / f"{name}.wav", None)
                 for name, labels in saved["clips"].items()]
        return AlignedSet(clips, saved["prompts"], saved["skipped"])
    cache.mkdir(parents=True, exist_ok=True)
    groups: list[tuple[list[np.ndarray], list[str]]] = [([], [])]
    skipped: dict[str, str] = {}
    aligned = 0
    gap = np.zeros(int(GAP_S * FEATURE_RATE), np.float32)
    for name, text in tqdm(prompts().items(), desc="align asterisk prompts", unit="prompt", disable=not progress):
        audio = load_audio_16k(SOUNDS / f"{name}.g722")
        try:
            phones = align_transcript(audio, text)
        except ValueError as error:
            skipped[name] = str(error)
            continue
        aligned += 1
        audio = np.concatenate([audio, gap])
        frames = int(np.ceil(len(audio) / FEATURE_RATE * float(LABEL_FPS)))
        # labels of the prompt's own frames; its trailing gap is silence
        labels = phones_at(phones, [(j + 0.5) / float(LABEL_FPS) for j in range(frames)])
        pieces, label_list = groups[-1]
        # whole label frames per prompt: pad the audio to them so the group's labels stay on its clock
        audio = np.pad(audio, (0, int(round(frames / float(LABEL_FPS) * FEATURE_RATE)) - len(audio)))
        pieces.append(audio)
        label_list.extend(labels)
        if sum(len(p) for p in pieces) >= GROUP_S * FEATURE_RATE:
            groups.append(([], []))
    clips, table = [], {}
    for number, (pieces, labels) in enumerate(g for g in groups if g[0]):
        name = f"asterisk_{number:02d}"
        _write_wav(cache / f"{name}.wav", np.concatenate(pieces))
        clips.append(LabelledClip(name, np.asarray(labels, dtype=str), cache / f"{name}.wav", None))
        table[name] = list(labels)
    index.write_text(json.dumps({"clips": table, "prompts": aligned, "skipped": skipped}))
    return AlignedSet(clips, aligned, skipped)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(FEATURE_RATE)
        out.writeframes(pcm.tobytes())
