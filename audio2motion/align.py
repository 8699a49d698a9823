"""Timed phones from speech with PocketSphinx: free phone recognition and transcript alignment.

Two uses in the project: the PocketSphinx baseline of the lip-sync evaluation
(:func:`recognise_phones`, no text) and the text-assisted mode
(:func:`align_transcript`, the words are known, so only their timing is
estimated). Both run the en-US acoustic model and CMU dictionary that ship
inside the ``pocketsphinx`` wheel, so nothing is downloaded.

Input: 16 kHz mono float samples in [-1, 1] (louder samples are clipped).
Resampling is the caller's job (``audio_io.load_audio_16k`` or
``resample.resample``); the rate cannot be checked here, so other rates give
wrong times without an error.

Times: PocketSphinx analyses 10 ms frames and reports phone ``i`` as frames
``[s, e]``; this module reports ``[s/100, (e+1)/100)`` seconds, PocketSphinx's
own convention. That is an approximation: a frame's 25.6 ms analysis window
starts at ``s/100``, so true boundaries sit about 8 ms later on average.
The returned phones are in the project's phone set, sorted, contiguous, and
cover ``[0, len(audio)/16000]`` (gaps and the tail are ``SIL``).

Each call builds a fresh decoder (about 0.1 s), so calls share no state and
give the same result for the same input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from pocketsphinx import Decoder, get_model_path

from talkinghead.audio2motion.articulation import articulate
from talkinghead.audio2motion.phones import SILENCE, Phone, merge_silences, normalise_phone
from talkinghead.contracts.arkit import NUM_POSE
from talkinghead.contracts.audio_io import FEATURE_RATE
from talkinghead.contracts.clock import FrameClock, as_fraction, check_count
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.resample import check_samples, resample

FRAME_RATE = 100  # PocketSphinx frames per second (its default -frate)
MODEL_DIR = Path(get_model_path()) / "en-us"
PHONE_LM = MODEL_DIR / "en-us-phone.lm.bin"
DICTIONARY = MODEL_DIR / "cmudict-en-us.dict"
DITHER_SEED = 0


@dataclass(frozen=True)
class RecogniseConfig:
    """Phone-loop search settings: the CMU Sphinx phoneme-recognition recipe.

    A language weight of 2 (the word-decoding default is 6.5) with beams of
    1e-20; on the tuning clips the default settings give a mouth that is far
    worse at separating open vowels from P/B/M (mean aperture AUC about 0.58 vs 0.80 at lag 0).
    """

    language_weight: float = 2.0
    beam: float = 1e-20


@dataclass(frozen=True)
class AlignConfig:
    """Search beams of the transcript aligner.

    Wider than the decoder's default (1e-48) as a margin for speech unlike the
    acoustic model's training data: on undithered espeak-ng speech 1e-48 lost
    the only path ("final result does not match the grammar") where 1e-80 kept
    it. Speed is the same (about 0.1 x real time).
    """

    beam: float = 1e-80


def _pcm16(audio_16k: np.ndarray) -> bytes:
    """Validated float samples -> dithered 16-bit little-endian PCM, as PocketSphinx reads it.

    Stretches of exact digital silence (TTS output, gated recordings) break
    PocketSphinx's features: an alignment that fits then fails outright. The
    usual 1-LSB triangular dither, from a fixed seed, prevents that and keeps
    results reproducible.
    """
    x = check_samples(audio_16k, "audio samples")
    if x.size == 0:
        raise ValueError("audio is empty")
    dither = np.random.default_rng(DITHER_SEED).triangular(-1.0, 0.0, 1.0, x.size)
    return np.clip(np.round(x * 32767.0 + dither), -32768, 32767).astype("<i2").tobytes()


def _decoder(**options: object) -> Decoder:
    # No word n-gram model: neither search uses it, and loading it costs 0.2 s.
    return Decoder(samprate=FEATURE_RATE, dict=str(DICTIONARY), lm=None, loglevel="FATAL", **options)


def _decode(decoder: Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _cover(spans: Iterable[tuple[str, int, int]], n_samples: int) -> list[Phone]:
    """``(symbol, first frame, end frame exclusive)`` -> contiguous phones over the audio."""
    duration = n_samples / FEATURE_RATE
    phones: list[Phone] = []
    t = 0.0
    for symbol, first, end in sorted(spans, key=lambda span: span[1]):
        start, stop = max(first / FRAME_RATE, t), min(end / FRAME_RATE, duration)
        if stop <= start:
            continue
        if start > t:
            phones.append(Phone(SILENCE, t, start))
        phones.append(Phone(normalise_phone(symbol), start, stop))
        t = stop
    if t < duration:
        phones.append(Phone(SILENCE, t, duration))
    return merge_silences(phones)


def recognise_phones(audio_16k: np.ndarray, config: RecogniseConfig = RecogniseConfig()) -> list[Phone]:
    """Phones heard in the audio, without a transcript (PocketSphinx allphone search).

    Uses the phone n-gram LM of the wheel to constrain the phone loop.
    Speech too short or too quiet to decode comes back as one ``SIL``.
    On the three tuning clips about 38-44% of 30 fps frames get the labelled phone.
    """
    pcm = _pcm16(audio_16k)
    decoder = _decoder(allphone=str(PHONE_LM), lw=config.language_weight, beam=config.beam,
                       pbeam=config.beam)
    _decode(decoder, pcm)
    segments = decoder.seg() or ()
    return _cover(((s.word, s.start_frame, s.end_frame + 1) for s in segments), len(pcm) // 2)


def transcript_words(text: str) -> list[str]:
    """Lower-case words of ``text`` as the dictionary spells them (punctuation dropped).

    Apostrophes inside words stay (``don't``); hyphenated words stay whole here
    and are split by :func:`align_transcript` only when the whole is not in the
    dictionary. Numbers are not spelled out.
    """
    return re.findall(r"[a-z0-9]+(?:['\-][a-z0-9]+)*", text.lower())


def _dictionary_words(decoder: Decoder, words: list[str]) -> list[str]:
    known: list[str] = []
    missing: list[str] = []
    for word in words:
        parts = [word] if decoder.lookup_word(word) or "-" not in word else word.split("-")
        for part in parts:
            (known if decoder.lookup_word(part) else missing).append(part)
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise ValueError(f"words not in the pronouncing dictionary (spell them out): {names}")
    return known


def align_transcript(audio_16k: np.ndarray, text: str,
                     config: AlignConfig = AlignConfig()) -> list[Phone]:
    """Time the phones of a known transcript in the audio (PocketSphinx forced alignment).

    The dictionary's pronunciation variants are chosen by the first (word)
    pass; a second pass times each phone. Optional pauses between words and at
    both ends become ``SIL``. Raises ``ValueError`` for an empty transcript,
    words missing from the dictionary (all named), or audio the text cannot be
    aligned to (wrong text, or too little audio for the words).
    """
    pcm = _pcm16(audio_16k)
    words = transcript_words(text)
    if not words:
        raise ValueError(f"transcript {text!r} has no words to align")
    decoder = _decoder(beam=config.beam, wbeam=config.beam, pbeam=config.beam, bestpath=False)
    words = _dictionary_words(decoder, words)
    failure = f"could not align the transcript to {len(pcm) // 2 / FEATURE_RATE:.2f} s of audio"
    try:
        decoder.set_align_text(" ".join(words))
        _decode(decoder, pcm)
        if decoder.hyp() is None:
            raise ValueError(f"{failure} (does the text match the speech?)")
        decoder.set_alignment()
        _decode(decoder, pcm)
    except RuntimeError:
        raise ValueError(f"{failure} (does the text match the speech?)") from None
    alignment = decoder.get_alignment()
    spans = ((p.name, p.start, p.start + p.duration) for p in alignment.phones())
    return _cover(spans, len(pcm) // 2)


def text_mouth(audio_16k: np.ndarray, text: str, num_frames: int, fps: Fraction | int) -> np.ndarray:
    """Mouth from the transcript force-aligned to the audio (text-assisted mode)."""
    num_frames, fps = check_count(num_frames, "num_frames"), as_fraction(fps, "fps")
    return articulate(align_transcript(audio_16k, text), num_frames, fps)


def text_coefficients(samples: np.ndarray, rate: int, text: str, fps: Fraction) -> Coefficients:
    """The text-assisted mouth as :class:`Coefficients` (pose at rest) for samples at any ``rate``.

    Before the motion layer, like :func:`talkinghead.audio2motion.animate.animate`.
    """
    frames = FrameClock(rate, fps).frames_for(len(samples))
    weights = text_mouth(resample(samples, rate, FEATURE_RATE), text, frames, fps)
    return Coefficients(weights, np.zeros((frames, NUM_POSE), np.float32), fps, source="text alignment (pocketsphinx)")
