"""Speech synthesis with the engine's own phone timings, for the teacher corpus.

Three engines, each giving audio plus the times at which it placed each phone:

- **espeak-ng** through ``libespeak-ng.so.1`` (ctypes): phoneme events carry
  the phoneme mnemonic and ``audio_position``, the millisecond at which the
  engine starts generating that phoneme's audio. An event's time is taken as
  the phone's *start*; a phone ends where the next one starts and the last one
  at the end of the audio.
- **festival** (subprocess): the ``Segment`` relation's ``end`` feature gives
  each phone's *end*; a phone starts where the previous one ends.
- **flite** (subprocess): ``-psdur`` prints each segment with its *end* time,
  the same convention as festival.

Every engine's symbols become :mod:`phones` symbols here through a table in
this module; an engine symbol missing from its table is a ``ValueError``, never
a silent guess.

The engines' label conventions differ slightly relative to the sound. Measured
on 40 generated sentences (median label time minus energy onset after a pause,
RMS envelope crossing 10 % of its 95th percentile): espeak-ng +2..+6 ms,
flite -8..0 ms, festival -17..-10 ms; at a vowel before a pause the diphone
voices (festival kal/ked, flite kal) end the vowel 20-50 ms after the sound
stops, the others within 10 ms. The corpus builder may unify these.
espeak-ng's audio varies by a few samples between identical calls (its pitch
jitter is random); its phoneme events do not.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkinghead.audio2motion.phones import CONSONANTS, SILENCE, VOWELS, Phone, merge_silences
from talkinghead.contracts.audio_io import load_audio


class TTSUnavailable(RuntimeError):
    """The requested engine (or its voice) is not installed on this machine."""


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech and its phones, which tile ``[0, len(audio) / sample_rate]`` exactly."""

    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    phones: tuple[Phone, ...]
    text: str
    engine: str
    voice: str

    def __post_init__(self) -> None:
        if self.audio.dtype != np.float32 or self.audio.ndim != 1:
            raise ValueError("Utterance.audio must be 1-D float32")
        if not self.phones or self.phones[0].start != 0.0:
            raise ValueError("Utterance.phones must start at 0")
        for a, b in zip(self.phones, self.phones[1:]):
            if a.end != b.start:
                raise ValueError(f"phones {a} and {b} leave a gap or overlap")
        if abs(self.phones[-1].end - self.duration) > 1e-9:
            raise ValueError(f"phones end at {self.phones[-1].end}, audio at {self.duration}")

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / self.sample_rate


def _tile(
    symbols: Sequence[tuple[str, ...]], starts: Sequence[float], duration: float
) -> tuple[Phone, ...]:
    """Phones from each label's start time; a label of several phones splits its span evenly.

    Starts are clipped to ``[0, duration]`` and made non-decreasing; the time
    before the first label is ``SIL``; a label ends where the next one starts
    and the last at ``duration``; zero-length phones are dropped, silences merged.
    """
    bounds = np.clip(np.asarray(starts, dtype=float), 0.0, duration)
    bounds = np.minimum.accumulate(bounds[::-1])[::-1]  # an early label never outlasts a later one
    ends = np.append(bounds[1:], duration)
    phones = [Phone(SILENCE, 0.0, float(bounds[0]) if len(bounds) else duration)]
    for parts, start, end in zip(symbols, bounds, ends):
        edges = [float(start + (end - start) * i / len(parts)) for i in range(len(parts))] + [
            float(end)
        ]
        phones += [Phone(symbol, a, b) for symbol, a, b in zip(parts, edges, edges[1:])]
    return tuple(merge_silences(phones) or [Phone(SILENCE, 0.0, duration)])


def _tile_from_ends(
    symbols: Sequence[tuple[str, ...]], ends: Sequence[float], duration: float
) -> tuple[Phone, ...]:
    """Phones from each label's end time (festival, flite): label i starts at label i-1's end."""
    starts = [0.0, *ends[:-1]]
    return _tile(symbols, starts, duration)


def _check_text(text: str) -> None:
    """Refuse text with nothing to say (festival crashes and flite writes no audio on "...")."""
    if not isinstance(text, str) or not any(c.isalnum() for c in text):
        raise ValueError("text to synthesise must contain a letter or a digit")


# --------------------------------------------------------------------------------------------
# espeak-ng
# --------------------------------------------------------------------------------------------

# espeak-ng English phoneme mnemonics (phoneme tables en, en-us, en-rp, en-sc, en-n, en-wm,
# en-wi of espeak-ng 1.51) -> ARPAbet. Stress marks are not part of the event names.
# Several mnemonics are one sound in espeak but two in ARPAbet (syllabic L, r-coloured vowels);
# their span is split evenly (an approximation). r-coloured vowels get an R only in the
# rhotic voices (the en-us tables); en-sc spells its r out as a separate phoneme.
# fmt: off
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # pauses
    "_": (SILENCE,), "_:": (SILENCE,), "_!": (SILENCE,), "_|": (SILENCE,),
    # vowels
    "@": ("AH",), "@2": ("AH",), "@5": ("AH",), "@-": ("AH",), "a#": ("AH",), "V": ("AH",),
    "3": ("ER",), "3:": ("ER",), "VR": ("ER",),
    "a": ("AE",), "aa": ("AE",), "a/": ("AE",),
    "A:": ("AA",), "0": ("AA",), "A~": ("AA",),
    "O:": ("AO",), "O": ("AO",), "O2": ("AO",), "O~": ("AO",),
    "E": ("EH",),
    "I": ("IH",), "I2": ("IH",), "I#": ("IH",), "i": ("IY",), "i:": ("IY",), "i::": ("IY",),
    "eI": ("EY",), "aI": ("AY",), "aI2": ("AY",), "aU": ("AW",), "OI": ("OY",),
    "oU": ("OW",), "o": ("OW",), "U": ("UH",), "u:": ("UW",),
    "i@": ("IY", "AH"), "IR": ("IH", "R"), "@L": ("AH", "L"),
    # r-coloured vowels, rhotic reading (see ESPEAK_NON_RHOTIC)
    "A@": ("AA", "R"), "O@": ("AO", "R"), "o@": ("AO", "R"), "e@": ("EH", "R"),
    "i@3": ("IH", "R"), "U@": ("UH", "R"), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"),
    # consonants ("?" glottal stop and "t#" flap stand for a T, as in the CMU dictionary)
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "t[": ("T",), "t2": ("T",), "?": ("T",),
    "d": ("D",), "k": ("K",), "g": ("G",), "x": ("K",),
    "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",),
    "S": ("SH",), "Z": ("ZH",), "h": ("HH",), "tS": ("CH",), "dZ": ("JH",),
    "m": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",),
    "l": ("L",), "l#": ("L",), "r": ("R",), "r-": ("R",), "w": ("W",), "w#": ("W",), "j": ("Y",),
}
# Readings of r-coloured vowels in the non-rhotic voices (no R; centring diphthongs end in AH).
ESPEAK_NON_RHOTIC: dict[str, tuple[str, ...]] = {
    "A@": ("AA",), "O@": ("AO",), "o@": ("AO",), "e@": ("EH",),
    "i@3": ("IH", "AH"), "U@": ("UH", "AH"), "aI@": ("AY", "AH"), "aI3": ("AY", "AH"),
}
# fmt: on
# Modifier symbols the English tables emit as separate events without a sound of their own
# (";" palatalises the preceding vowel): their time goes to the previous phone.
ESPEAK_MODIFIERS = frozenset({";"})

# English voices of espeak-ng (language names as espeak_SetVoiceByName takes them).
ESPEAK_ENGLISH: tuple[str, ...] = (
    "en-us", "en-us-nyc", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-029",
)  # fmt: skip
ESPEAK_RHOTIC = frozenset({"en-us", "en-us-nyc"})
# Variants left out of the corpus, judged from their voice file:
# - "voicing" below MIN_VARIANT_VOICING: breathy whispers (whisper, whisperf, caleb) without the
#   voiced excitation of normal speech;
# - an "echo" of at least ECHO_MIN_DELAY_MS delay and more than ECHO_MAX_AMPLITUDE percent
#   (Alicia, Marco, RicishayMax*, robosoft, robosoft6, robosoft8): each phone's sound rings on
#   into the following phones and pauses, so the audio no longer matches the labels.
#   Shorter echoes (8-10 ms, the robotic variants) only colour the sound and are kept.
MIN_VARIANT_VOICING = 25
ECHO_MIN_DELAY_MS = 20
ECHO_MAX_AMPLITUDE = 40

_ESPEAK_LIBRARY = "libespeak-ng.so.1"
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of speak_lib.h (40 bytes on 64-bit: the pointer aligns to 8)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class EspeakEngine:
    """The process's espeak-ng library, initialised once (see :func:`espeak_engine`).

    The C library keeps global state (voice, parameters, callback) and is not
    thread-safe; this class serialises calls with a lock, so threads may share
    it but gain no parallelism (use processes for that).
    """

    def __init__(self) -> None:
        try:
            lib = ctypes.CDLL(_ESPEAK_LIBRARY)
        except OSError as exc:
            raise TTSUnavailable(f"espeak-ng is not installed ({_ESPEAK_LIBRARY}: {exc})") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 200, None, _INITIALIZE_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise TTSUnavailable("espeak_Initialize failed (espeak-ng-data missing?)")
        data_path = ctypes.c_char_p()
        lib.espeak_Info(ctypes.byref(data_path))
        self.data_path = Path(data_path.value.decode())
        self._lib = lib
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._callback = _SynthCallback(self._on_synth)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                self._events.append(
                    (event.audio_position, event.id.string.decode("ascii", errors="replace"))
                )
            i += 1
        return 0

    def synthesize(
        self, text: str, voice: str, rate: int, pitch: int, pitch_range: int
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """int16 audio and ``(audio_position_ms, mnemonic)`` phoneme events for ``text``."""
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode("ascii")) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            for param, value in (
                (_PARAM_RATE, rate),
                (_PARAM_PITCH, pitch),
                (_PARAM_RANGE, pitch_range),
            ):
                self._lib.espeak_SetParameter(param, value, 0)
            self._chunks, self._events = [], []
            status = self._lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, events = self._chunks, self._events
            self._chunks, self._events = [], []
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return audio, events


@functools.lru_cache(maxsize=1)
def espeak_engine() -> EspeakEngine:
    """The one :class:`EspeakEngine` of this process (the C library is a process-wide singleton)."""
    return EspeakEngine()


def _usable_variant(path: Path) -> bool:
    """Whether the variant file at ``path`` keeps the speech voiced and free of long echoes."""
    if not path.is_file() or " " in path.name:
        return False
    settings = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("voicing", "echo"):
            settings[fields[0]] = [int(f) for f in fields[1:3]]
    voicing = settings.get("voicing", [100])[0]
    delay, amplitude = (settings.get("echo", []) + [0, 0])[:2]
    long_echo = delay >= ECHO_MIN_DELAY_MS and amplitude > ECHO_MAX_AMPLITUDE
    return voicing >= MIN_VARIANT_VOICING and not long_echo


def espeak_variants() -> list[str]:
    """Voice variants installed under ``espeak-ng-data/voices/!v`` that suit lip-sync labels."""
    directory = espeak_engine().data_path / "voices" / "!v"
    return sorted(path.name for path in directory.iterdir() if _usable_variant(path))


def espeak_voices() -> list[str]:
    """Every usable English voice, plain (``en-us``) and with each variant (``en-us+m3``)."""
    variants = espeak_variants()
    return [
        f"{voice}+{variant}" if variant else voice
        for voice in ESPEAK_ENGLISH
        for variant in ("", *variants)
    ]


def espeak_phones(mnemonic: str, voice: str) -> tuple[str, ...]:
    """ARPAbet phones for one espeak-ng phoneme mnemonic in ``voice`` (``()`` for a modifier)."""
    if mnemonic in ESPEAK_MODIFIERS:
        return ()
    base = voice.split("+")[0]
    if base not in ESPEAK_RHOTIC and mnemonic in ESPEAK_NON_RHOTIC:
        return ESPEAK_NON_RHOTIC[mnemonic]
    try:
        return ESPEAK_TO_ARPABET[mnemonic]
    except KeyError:
        raise ValueError(
            f"espeak-ng phoneme {mnemonic!r} ({voice}) has no ARPAbet mapping"
        ) from None


def synthesize_espeak(
    text: str,
    voice: str = "en-us",
    variant: str | None = None,
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
) -> Utterance:
    """Speak ``text`` with espeak-ng; phones from its phoneme events (event time = phone start).

    ``voice`` is one of :data:`ESPEAK_ENGLISH`, optionally with ``+variant``
    (as :func:`espeak_voices` lists them); ``variant`` is another way to give
    the variant. ``rate`` in words per minute (80..450), ``pitch`` and
    ``pitch_range`` 0..100.
    """
    _check_text(text)
    base, _, inline_variant = voice.partition("+")
    if variant is not None and inline_variant:
        raise ValueError(f"variant given twice: {voice!r} and {variant!r}")
    variant = variant or inline_variant or None
    if base not in ESPEAK_ENGLISH:
        raise ValueError(f"unknown espeak-ng English voice {base!r}; choose from {ESPEAK_ENGLISH}")
    if variant is not None and variant not in espeak_variants():
        raise ValueError(f"unknown or unusable espeak-ng variant {variant!r}")
    if not 80 <= rate <= 450:
        raise ValueError(f"rate must be in 80..450 words per minute, got {rate}")
    if not (0 <= pitch <= 100 and 0 <= pitch_range <= 100):
        raise ValueError(f"pitch and pitch_range must be in 0..100, got {pitch}, {pitch_range}")
    name = f"{base}+{variant}" if variant else base
    engine = espeak_engine()
    raw, events = engine.synthesize(text, name, rate, pitch, pitch_range)
    audio = raw.astype(np.float32) / 32768.0
    duration = len(audio) / engine.sample_rate
    symbols, starts = [], []
    for position_ms, mnemonic in events:
        parts = espeak_phones(mnemonic, base)
        if parts:
            symbols.append(parts)
            starts.append(position_ms / 1000.0)
    return Utterance(
        audio, engine.sample_rate, _tile(symbols, starts, duration), text, "espeak-ng", name
    )


# --------------------------------------------------------------------------------------------
# festival and flite (CMU/radio phone set, lower case; both print segment end times)
# --------------------------------------------------------------------------------------------

# Symbols of festival's "radio" phone set (US voices kal, ked, slt; flite's cmu_us lexicon
# uses the same) that are not plain ARPAbet; every other symbol is ARPAbet in lower case.
# Over 160 texts x 8 voices only pau and ax occurred; the rest are the set's documented extras.
# fmt: off
RADIO_EXTRA: dict[str, tuple[str, ...]] = {
    "pau": (SILENCE,), "#": (SILENCE,),
    "ax": ("AH",), "axr": ("ER",), "dx": ("T",), "nx": ("N",), "hv": ("HH",),
    "el": ("AH", "L"), "em": ("AH", "M"), "en": ("AH", "N"),
}
# fmt: on
_RADIO_ARPABET = frozenset(phone.lower() for phone in VOWELS + CONSONANTS)


def radio_phones(symbol: str) -> tuple[str, ...]:
    """ARPAbet phones for one festival/flite segment name."""
    if symbol in RADIO_EXTRA:
        return RADIO_EXTRA[symbol]
    if symbol in _RADIO_ARPABET:
        return (symbol.upper(),)
    raise ValueError(f"festival/flite phone {symbol!r} has no ARPAbet mapping")


FESTIVAL_VOICES: dict[str, str] = {
    "kal": "voice_kal_diphone",
    "ked": "voice_ked_diphone",
    "slt": "voice_cmu_us_slt_arctic_hts",
}
_FESTIVAL_SCRIPT = """\
({voice})
(set! utt (utt.synth (Utterance Text "{text}")))
(utt.save.wave utt "{wav}" 'riff)
(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items utt 'Segment))
"""


def _scheme_string(text: str) -> str:
    """``text`` as the body of a Scheme string literal (backslash and quote escaped, no controls)."""
    cleaned = "".join(" " if ord(c) < 32 else c for c in text)
    return cleaned.replace("\\", "\\\\").replace('"', '\\"')


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            command, capture_output=True, timeout=timeout, check=False, text=True, errors="replace"
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{Path(command[0]).name} did not finish within {timeout:.0f} s"
        ) from None


def _failed(done: subprocess.CompletedProcess) -> RuntimeError:
    return RuntimeError(
        f"{Path(done.args[0]).name} failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    )


def _segments_to_utterance(
    segments: list[tuple[str, float]], wav: Path, text: str, engine: str, voice: str
) -> Utterance:
    audio, rate = load_audio(wav)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    symbols = [radio_phones(name) for name, _ in segments]
    phones = _tile_from_ends(symbols, [end for _, end in segments], len(audio) / rate)
    return Utterance(audio, rate, phones, text, engine, voice)


def synthesize_festival(text: str, voice: str = "kal", timeout: float = 60.0) -> Utterance:
    """Speak ``text`` with festival; phones from the ``Segment`` relation (feature ``end`` = phone end)."""
    _check_text(text)
    if voice not in FESTIVAL_VOICES:
        raise ValueError(f"unknown festival voice {voice!r}; choose from {sorted(FESTIVAL_VOICES)}")
    festival = shutil.which("festival")
    if festival is None:
        raise TTSUnavailable("festival is not installed")
    function = FESTIVAL_VOICES[voice]
    with tempfile.TemporaryDirectory(prefix="festival-") as tmp:
        wav, script = Path(tmp) / "out.wav", Path(tmp) / "say.scm"
        script.write_text(
            _FESTIVAL_SCRIPT.format(
                voice=function, text=_scheme_string(text), wav=_scheme_string(str(wav))
            ),
            encoding="utf-8",
        )
        done = _run([festival, "-b", str(script)], timeout)
        if done.returncode != 0 and f"unbound variable : {function}" in done.stderr:
            raise TTSUnavailable(f"festival voice {voice!r} ({function}) is not installed")
        if done.returncode != 0 or not wav.exists():
            raise _failed(done)
        lines = (line.split() for line in done.stdout.splitlines())
        segments = [(f[1], float(f[2])) for f in lines if len(f) == 3 and f[0] == "SEG"]
        return _segments_to_utterance(segments, wav, text, "festival", voice)


FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")  # awb_time is a talking clock only


@functools.lru_cache(maxsize=1)
def flite_voices() -> tuple[str, ...]:
    """The voices of :data:`FLITE_VOICES` this machine's flite has (flite silently swaps unknown ones)."""
    flite = shutil.which("flite")
    if flite is None:
        return ()
    done = _run([flite, "-lv"], 10.0)
    listed = done.stdout.replace("Voices available:", "").split()
    return tuple(voice for voice in FLITE_VOICES if voice in listed)


def synthesize_flite(text: str, voice: str = "kal16", timeout: float = 60.0) -> Utterance:
    """Speak ``text`` with flite; phones from ``-psdur`` (each segment's end time)."""
    _check_text(text)
    if voice not in FLITE_VOICES:
        raise ValueError(f"unknown flite voice {voice!r}; choose from {FLITE_VOICES}")
    flite = shutil.which("flite")
    if flite is None or voice not in flite_voices():
        raise TTSUnavailable(f"flite (with voice {voice!r}) is not installed")
    with tempfile.TemporaryDirectory(prefix="flite-") as tmp:
        wav = Path(tmp) / "out.wav"
        command = [flite, "-voice", voice, "-psdur", "-t", " ".join(text.split()), "-o", str(wav)]
        done = _run(command, timeout)
        if done.returncode != 0 or not wav.exists():
            raise _failed(done)
        segments = []
        for token in done.stdout.split():
            name, _, end = token.rpartition(":")
            segments.append((name, float(end)))
        return _segments_to_utterance(segments, wav, text, "flite", voice)


ENGINES = ("espeak-ng", "festival", "flite")


def synthesize(text: str, engine: str, voice: str, **options) -> Utterance:
    """Speak ``text`` with ``engine`` (one of :data:`ENGINES`) and ``voice``; options go to the engine."""
    if engine == "espeak-ng":
        return synthesize_espeak(text, voice, **options)
    if engine == "festival":
        return synthesize_festival(text, voice, **options)
    if engine == "flite":
        return synthesize_flite(text, voice, **options)
    raise ValueError(f"unknown TTS engine {engine!r}; choose from {ENGINES}")
