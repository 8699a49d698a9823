"""The teacher corpus: generated sentences -> TTS speech with the engine's own
phone timings -> augmentation -> log-mel, plus articulation targets on the
network's step grid (:mod:`.corpus` for the format).

Each shard is made from its own seed (``seed``, shard index), so a shard is
the same whichever process makes it and in whatever order, and a stopped
build resumes by making only the shards that are missing.

Engines are mixed (espeak-ng with many voices and variants, festival's kal,
ked and slt, flite's awb, rms, slt and kal16: its statistical voices are
three more speakers that sound less synthetic than espeak); the augmentation chain (:mod:`.augment`) then changes speaker,
tempo, room, noise, channel and level. Silence of random length is added
around each utterance so the model sees onsets and long pauses.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkinghead.audio2motion.articulation import articulate
from talkinghead.audio2motion.features import log_mel
from talkinghead.audio2motion.model import MELS_PER_STEP, SILENT_MEL, STEP_OFFSET, STEPS_PER_SECOND
from talkinghead.audio2motion.phones import PHONE_INDEX, SILENCE, Phone, merge_silences, phones_at
from talkinghead.audio2motion.training.augment import AugmentConfig, augment
from talkinghead.audio2motion.training.corpus import Example, shard_indices, shard_path, write_shard
from talkinghead.audio2motion.training.sentences import SentenceGenerator
from talkinghead.audio2motion.training.tts import espeak_voices, synthesize
from talkinghead.contracts.audio_io import FEATURE_RATE
from talkinghead.contracts.resample import resample


@dataclass(frozen=True)
class TeacherConfig:
    seed: int = 0
    utterances_per_shard: int = 40
    espeak_share: float = 0.6
    flite_share: float = 0.0  # the rest is festival
    festival_voices: tuple[str, ...] = ("kal", "ked", "slt")
    flite_voices: tuple[str, ...] = ("awb", "rms", "slt", "kal16")
    espeak_rate: tuple[int, int] = (130, 230)  # words per minute
    espeak_pitch: tuple[int, int] = (25, 75)
    lead_silence: tuple[float, float] = (0.05, 0.8)  # seconds before and after the speech
    p_clean: float = 0.1  # utterances left unaugmented
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        shares = (self.espeak_share, self.flite_share)
        if not all(0.0 <= share <= 1.0 for share in shares) or sum(shares) > 1.0:
            raise ValueError(f"TeacherConfig: engine shares must be in [0, 1] and sum to at most 1, got {shares}")


def make_shard(index: int, config: TeacherConfig) -> list[Example]:
    """The examples of shard ``index``: deterministic in (config.seed, index)."""
    rng = np.random.default_rng([config.seed, index])
    sentences = SentenceGenerator(seed=int(rng.integers(2**31)))
    voices = espeak_voices()
    speech = [_speak(sentences.sentence(), rng, voices, config) for _ in range(config.utterances_per_shard)]
    babble_sources = [audio for audio, _, _ in speech]
    return [_example(i, speech, rng, config, babble_sources) for i in range(len(speech))]


def _speak(text: str, rng: np.random.Generator, voices: list[str], config: TeacherConfig):
    """Text -> (16 kHz audio padded with silence, its phones, metadata)."""
    draw = rng.random()
    if draw < config.espeak_share:
        voice = voices[int(rng.integers(len(voices)))]
        options = {"rate": int(rng.integers(*config.espeak_rate)), "pitch": int(rng.integers(*config.espeak_pitch))}
        utterance = synthesize(text, "espeak-ng", voice, **options)
    elif draw < config.espeak_share + config.flite_share:
        voice = config.flite_voices[int(rng.integers(len(config.flite_voices)))]
        options = {}
        utterance = synthesize(text, "flite", voice)
    else:
        voice = config.festival_voices[int(rng.integers(len(config.festival_voices)))]
        options = {}
        utterance = synthesize(text, "festival", voice)
    audio = resample(utterance.audio, utterance.sample_rate, FEATURE_RATE)
    before, after = (float(rng.uniform(*config.lead_silence)) for _ in range(2))
    lead = int(round(before * FEATURE_RATE))
    audio = np.concatenate([np.zeros(lead, np.float32), audio, np.zeros(int(round(after * FEATURE_RATE)), np.float32)])
    shift = lead / FEATURE_RATE
    phones = [Phone(SILENCE, 0.0, shift)]
    phones += [Phone(p.symbol, p.start + shift, p.end + shift) for p in utterance.phones]
    phones.append(Phone(SILENCE, phones[-1].end, max(phones[-1].end, len(audio) / FEATURE_RATE)))
    meta = {"text": text, "engine": utterance.engine, "voice": utterance.voice, **options}
    return audio, merge_silences(phones), meta


def _example(i: int, speech, rng: np.random.Generator, config: TeacherConfig, babble) -> Example:
    audio, phones, meta = speech[i]
    scale = 1.0
    if rng.random() >= config.p_clean:
        others = babble[:i] + babble[i + 1:]
        audio, scale = augment(audio, FEATURE_RATE, rng, config.augment, babble=others)
        meta = {**meta, "augmented": True, "time_scale": scale}
    phones = [Phone(p.symbol, p.start * scale, p.end * scale) for p in phones]
    mel = log_mel(audio)
    if len(mel) % MELS_PER_STEP:
        mel = np.concatenate([mel, np.full((1, mel.shape[1]), SILENT_MEL, np.float32)])
    steps = len(mel) // MELS_PER_STEP
    weights = articulate(phones, steps, STEPS_PER_SECOND)
    times = [float(STEP_OFFSET + s / STEPS_PER_SECOND) for s in range(steps)]
    ids = np.array([PHONE_INDEX[symbol] for symbol in phones_at(phones, times)])
    return Example(mel, weights, ids, meta, audio)


def _build_one(args: tuple[int, Path, TeacherConfig]) -> int:
    index, directory, config = args
    write_shard(shard_path(directory, index), make_shard(index, config))
    return index


def build_corpus(directory: Path, shards: int, config: TeacherConfig = TeacherConfig(), workers: int = 1,
                 progress: bool = True) -> None:
    """Make shards ``0..shards-1`` that are missing under ``directory`` (resumable)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "teacher.json").write_text(json.dumps(asdict(config), indent=1, default=str))
    log = logging.getLogger("talkinghead.teacher")
    todo = sorted(set(range(shards)) - set(shard_indices(directory)))
    bar = tqdm(total=shards, initial=shards - len(todo), desc="teacher corpus", unit="shard", disable=not progress)
    jobs = [(i, directory, config) for i in todo]
    with bar, multiprocessing.get_context("spawn").Pool(max(1, workers)) as pool:
        for index in pool.imap_unordered(_build_one, jobs):
            log.info("shard %d written", index)
            bar.update()
