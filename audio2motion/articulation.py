"""Timed phones -> ARKit-52 weight curves: the project's own articulation model.

This is what turns a TTS engine's phone timings (or a recogniser's, or
per-frame labels) into mouth motion: the teacher targets audio2motion trains
on, the PocketSphinx baseline and the text-assisted mode all go through it.

Model (an approximation made for this project, not a measured one):

- A phone sets a *target* on each of a few articulatory channels
  (:data:`CHANNELS`: jaw opening, lip closure, lip parting, pucker, funnel,
  spread, labiodental contact, upper-lip shrug, lip press) and a *dominance*
  per channel, how firmly it holds that target (:data:`VISEME_TARGETS`).
  Diphthongs get a second target for their final part (:data:`GLIDES`).
- Coarticulation by dominance blending (after Cohen and Massaro, 1993): phone
  ``i`` has dominance ``a_i * exp(-3 (d / r)^shape)`` at time ``t``, where ``d``
  is the distance from ``t`` to the phone's span (0 inside it, a plateau) and
  ``r`` is the anticipation reach before the phone and the (shorter)
  carry-over reach after it; a channel's value is ``sum D_i T_i / sum D_i``.
  Weak dominances (HH, T, K, L ... on the lips) let a phone take its
  neighbours' shapes; the lip-closure channel uses short reaches because the
  lips move fast.
- Silence has the rest target (all output weights 0) with a dominance that
  grows with the pause's length: pauses under ``short_pause`` barely pull
  the mouth shut, pauses over ``long_pause`` reach rest.
- Bilabials P/B/M seal: their closure dominance is high, and closure
  saturates at ``contact`` (the lips touch and stop). A sealed mouth keeps
  its jaw partly open, as ARKit expresses it: ``mouthClose = closure * jawOpen``
  and every lip-parting shape (funnel, upper/lower lip raise) is multiplied
  by the remaining opening, so on the project's face model
  (:mod:`talkinghead.contracts.blendshapes`) the inner lips meet exactly.
- Left and right are equal; ``tongueOut`` stays 0 (no tongue is modelled).

Targets, dominances and reaches are hand-chosen values, checked (not fitted)
on the mesh and on the tuning clips' own labels (see tests/test_articulation.py).

The curves are a continuous function of time, sampled at each frame's
midpoint ``(k + 1/2) / fps``, so every frame rate sees the same motion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

import numpy as np

from talkinghead.audio2motion.phones import PHONES, SILENCE, Phone, normalise_phone
from talkinghead.contracts.arkit import ARKIT_INDEX
from talkinghead.contracts.clock import as_fraction

CHANNELS: tuple[str, ...] = (
    "jaw",  # jaw opening -> jawOpen
    "closure",  # lips brought together (1 = in contact) -> mouthClose, cancels lip parting
    "part",  # lips parted beyond the jaw (open vowels) -> mouthUpperUp / mouthLowerDown
    "pucker",  # protruded, narrowed lips -> mouthPucker
    "funnel",  # rounded, flared opening -> mouthFunnel
    "spread",  # corners drawn out -> mouthStretch, a little mouthSmile
    "labio",  # lower lip to upper teeth (F, V) -> mouthRollLower, mouthUpperUp, mouthShrugLower
    "shrug",  # upper lip raised and pushed out (SH family) -> mouthShrugUpper
    "press",  # lips pressed together (bilabial hold) -> mouthPress
)
_CH = {name: i for i, name in enumerate(CHANNELS)}
_FAST = np.array([name in ("closure", "press") for name in CHANNELS])  # lip-closure reaches


@dataclass(frozen=True)
class Viseme:
    """Per-channel targets (in [0, 1]) of one phone and how firmly it holds each (> 0)."""

    target: tuple[float, ...]
    dominance: tuple[float, ...]


# Dominance levels: how firmly a phone holds a channel.
_NONE = 0.03  # takes its neighbours' shape
_WEAK = 0.15
_MID = 0.5
_FIRM = 1.0
_SEAL = 15.0  # bilabial closure: wins over any neighbour at the phone's centre

# Channels a vowel does not mention are held at 0 with these dominances.
_VOWEL_HOLD = {"jaw": _FIRM, "closure": _FIRM, "part": _FIRM, "pucker": _MID, "funnel": _MID,
               "spread": _MID, "labio": _FIRM, "shrug": _MID, "press": _FIRM}
# ... and a consonant's: the lips mostly follow the neighbours.
_CONSONANT_HOLD = {"jaw": _WEAK, "closure": _WEAK, "part": _MID, "pucker": _NONE,
                   "funnel": _NONE, "spread": _NONE, "labio": _FIRM, "shrug": _NONE,
                   "press": _FIRM}


def _viseme(hold: Mapping[str, float], **channels: tuple[float, float]) -> Viseme:
    """Viseme from ``channel=(target, dominance)``; unnamed channels: target 0, ``hold``."""
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise AssertionError(f"unknown channels {sorted(unknown)}")
    target = tuple(channels.get(c, (0.0, 0.0))[0] for c in CHANNELS)
    dominance = tuple(channels[c][1] if c in channels else hold[c] for c in CHANNELS)
    return Viseme(target, dominance)


def _vowel(**channels: float | tuple[float, float]) -> Viseme:
    """A vowel: plain numbers are targets held with the vowel default dominance."""
    return _viseme(_VOWEL_HOLD, **{
        c: v if isinstance(v, tuple) else (v, _VOWEL_HOLD[c]) for c, v in channels.items()
    })


def _consonant(**channels: tuple[float, float]) -> Viseme:
    return _viseme(_CONSONANT_HOLD, **channels)


_ROUND = 1.2  # rounded and spread vowels hold the lip-shape channels firmly
_SPREAD = 1.0
_SH = {"jaw": (0.10, 0.6), "pucker": (0.35, 0.6), "funnel": (0.55, 0.6), "shrug": (0.5, 0.6),
       "spread": (0.0, 0.3)}
_BILABIAL = {"jaw": (0.08, 1.0), "closure": (1.0, _SEAL), "part": (0.0, _FIRM),
             "press": (1.0, 4.0)}
_LABIODENTAL = {"jaw": (0.05, 1.5), "closure": (0.8, 3.0), "part": (0.0, _FIRM),
                "labio": (1.0, 3.0)}
_ALVEOLAR = {"jaw": (0.12, 0.35)}
_VELAR = {"jaw": (0.16, 0.3)}

VISEME_TARGETS: Mapping[str, Viseme] = MappingProxyType({
    # Open vowels (the yardstick's AH included: it opens the jaw, though less than AA).
    "AA": _vowel(jaw=0.52, part=0.35),
    "AE": _vowel(jaw=0.44, part=0.35, spread=(0.35, _SPREAD), pucker=(0.0, _SPREAD)),
    "AH": _vowel(jaw=(0.36, 0.8), part=(0.25, 0.8)),
    "AO": _vowel(jaw=0.44, part=0.25, pucker=(0.25, _ROUND), funnel=(0.45, _ROUND),
                 spread=(0.0, _ROUND)),
    "AW": _vowel(jaw=0.50, part=0.30),
    "AY": _vowel(jaw=0.50, part=0.30),
    # Mid and close spread vowels.
    "EH": _vowel(jaw=0.32, part=0.20, spread=(0.30, _SPREAD), pucker=(0.0, _SPREAD),
                 funnel=(0.0, _SPREAD)),
    "EY": _vowel(jaw=0.30, part=0.15, spread=(0.40, _SPREAD), pucker=(0.0, _SPREAD),
                 funnel=(0.0, _SPREAD)),
    "IH": _vowel(jaw=0.22, part=0.10, spread=(0.40, _SPREAD), pucker=(0.0, _SPREAD),
                 funnel=(0.0, _SPREAD)),
    "IY": _vowel(jaw=0.14, part=0.05, spread=(0.60, _SPREAD), pucker=(0.0, _SPREAD),
                 funnel=(0.0, _SPREAD)),
    # Rounded vowels.
    "ER": _vowel(jaw=0.20, part=0.10, pucker=(0.25, _MID), funnel=(0.35, _MID)),
    "OW": _vowel(jaw=0.34, part=0.10, pucker=(0.45, _ROUND), funnel=(0.50, _ROUND),
                 spread=(0.0, _ROUND)),
    "OY": _vowel(jaw=0.36, part=0.10, pucker=(0.50, _ROUND), funnel=(0.50, _ROUND),
                 spread=(0.0, _ROUND)),
    "UH": _vowel(jaw=0.20, part=0.05, pucker=(0.55, _ROUND), funnel=(0.30, _ROUND),
                 spread=(0.0, _ROUND)),
    "UW": _vowel(jaw=0.12, pucker=(0.90, _ROUND), funnel=(0.25, _ROUND), spread=(0.0, _ROUND)),
    # Consonants: bilabials seal, labiodentals tuck the lower lip, the rest mostly follow.
    "P": _consonant(**_BILABIAL),
    "B": _consonant(**_BILABIAL),
    "M": _consonant(**_BILABIAL),
    "F": _consonant(**_LABIODENTAL),
    "V": _consonant(**_LABIODENTAL),
    "TH": _consonant(jaw=(0.12, 0.5)),
    "DH": _consonant(jaw=(0.12, 0.5)),
    "S": _consonant(jaw=(0.05, 0.8), spread=(0.20, 0.3)),
    "Z": _consonant(jaw=(0.05, 0.8), spread=(0.20, 0.3)),
    "SH": _consonant(**_SH),
    "ZH": _consonant(**_SH),
    "CH": _consonant(**_SH),
    "JH": _consonant(**_SH),
    "T": _consonant(**_ALVEOLAR),
    "D": _consonant(**_ALVEOLAR),
    "N": _consonant(**_ALVEOLAR),
    "L": _consonant(jaw=(0.15, 0.3)),
    "K": _consonant(**_VELAR),
    "G": _consonant(**_VELAR),
    "NG": _consonant(**_VELAR),
    "HH": _consonant(jaw=(0.30, _NONE), part=(0.0, _NONE)),
    "R": _consonant(jaw=(0.14, 0.4), pucker=(0.30, 0.4), funnel=(0.25, 0.4)),
    "W": _consonant(jaw=(0.10, 0.6), pucker=(1.0, 2.0), funnel=(0.30, 1.0), spread=(0.0, 1.0)),
    "Y": _consonant(jaw=(0.10, 0.5), spread=(0.40, 0.5)),
    # Rest: every output 0 (closure 1 keeps the lips together while the jaw settles,
    # held weakly so a short pause between open sounds does not snap the lips shut).
    # All dominances are scaled by the pause length (ArticulationConfig).
    SILENCE: _viseme(dict.fromkeys(CHANNELS, 1.0), closure=(1.0, 0.01)),
})

# Diphthongs: the target of their final part (the glide), from ``glide_fraction`` of the way.
GLIDES: Mapping[str, Viseme] = MappingProxyType({
    "AW": _vowel(jaw=0.22, part=0.05, pucker=(0.60, _ROUND), funnel=(0.30, _ROUND),
                 spread=(0.0, _ROUND)),
    "AY": _vowel(jaw=0.20, part=0.05, spread=(0.40, _SPREAD), pucker=(0.0, _SPREAD)),
    "EY": _vowel(jaw=0.16, spread=(0.50, _SPREAD), pucker=(0.0, _SPREAD), funnel=(0.0, _SPREAD)),
    "OW": _vowel(jaw=0.20, pucker=(0.75, _ROUND), funnel=(0.30, _ROUND), spread=(0.0, _ROUND)),
    "OY": _vowel(jaw=0.20, pucker=(0.30, _ROUND), funnel=(0.20, _ROUND), spread=(0.20, _ROUND)),
})

if set(VISEME_TARGETS) != set(PHONES):
    raise AssertionError("VISEME_TARGETS must cover the phone set exactly")


@dataclass(frozen=True)
class ArticulationConfig:
    """Timing and strength of the articulation model (seconds; weights are unitless).

    ``anticipation`` / ``carryover``: how far before / after its span a phone's
    dominance reaches (it has fallen to 5% there); the ``closure_*`` pair is
    the same for the lip-closure channels. ``shape`` is the exponent of the
    dominance fall-off. ``contact``: blended closure at which the lips touch.
    Pauses shorter than ``short_pause`` hold the rest target with
    ``pause_dominance``, longer than ``long_pause`` with ``rest_dominance``
    (smoothly in between). ``glide_fraction``: final part of a diphthong that
    moves to its glide. ``intensity`` scales every output weight.
    """

    anticipation: float = 0.10
    carryover: float = 0.06
    closure_anticipation: float = 0.035
    closure_carryover: float = 0.03
    shape: float = 2.0
    contact: float = 0.9
    short_pause: float = 0.15
    long_pause: float = 0.30
    pause_dominance: float = 0.02
    rest_dominance: float = 2.0
    glide_fraction: float = 0.4
    intensity: float = 1.0

    def __post_init__(self) -> None:
        for name in ("anticipation", "carryover", "closure_anticipation", "closure_carryover",
                     "short_pause", "pause_dominance", "rest_dominance", "intensity"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"ArticulationConfig.{name} must be positive, got {value!r}")
        if not 1.0 <= self.shape <= 4.0:
            raise ValueError(f"ArticulationConfig.shape must be in [1, 4], got {self.shape}")
        if not self.long_pause > self.short_pause:
            raise ValueError("ArticulationConfig.long_pause must exceed short_pause")
        if not 0.0 < self.contact <= 1.0:
            raise ValueError(f"ArticulationConfig.contact must be in (0, 1], got {self.contact}")
        if not 0.0 <= self.glide_fraction < 1.0:
            raise ValueError(
                f"ArticulationConfig.glide_fraction must be in [0, 1), got {self.glide_fraction}"
            )


_FALLOFF = 3.0  # dominance is exp(-3) ~ 5% at the reach
_CUTOFF = 4.0  # beyond 4 reaches dominance is exactly 0 (below 1e-5 of its peak just before)
_BLOCK = 128  # frames evaluated together (keeps the kernel matrices small)
_TABLE = {p: (np.array(v.target), np.array(v.dominance)) for p, v in VISEME_TARGETS.items()}
_GLIDE_TABLE = {p: (np.array(v.target), np.array(v.dominance)) for p, v in GLIDES.items()}


def _timeline(phones: Sequence[Phone]) -> list[tuple[str, float, float]]:
    """(symbol, start, end) covering all time: gaps and both ends filled with silence."""
    spans = [(SILENCE, -np.inf, 0.0)]
    for i, phone in enumerate(phones):
        if not isinstance(phone, Phone):
            raise ValueError(f"phones[{i}] is not a Phone: {phone!r}")  # noqa: TRY004
        cursor = spans[-1][2]
        if phone.start < cursor - 1e-9:
            raise ValueError(f"phones[{i}] ({phone.symbol} at {phone.start:.3f} s) overlaps the "
                             "one before; phones must be sorted and disjoint")
        if phone.start > cursor:
            spans.append((SILENCE, cursor, phone.start))
        if phone.end > cursor:
            spans.append((phone.symbol, max(phone.start, cursor), phone.end))
    spans.append((SILENCE, spans[-1][2], np.inf))
    merged: list[tuple[str, float, float]] = []
    for symbol, start, end in spans:
        if end <= start:
            continue
        if merged and symbol == SILENCE == merged[-1][0]:
            merged[-1] = (SILENCE, merged[-1][1], end)
        else:
            merged.append((symbol, start, end))
    return merged


def _pause_scale(duration: float, config: ArticulationConfig) -> float:
    """Dominance of a pause's rest target: small for short pauses, full for long ones."""
    x = (duration - config.short_pause) / (config.long_pause - config.short_pause)
    x = min(max(x, 0.0), 1.0)
    x = x * x * (3.0 - 2.0 * x)
    return config.pause_dominance + (config.rest_dominance - config.pause_dominance) * x


def _segments(phones: Sequence[Phone], config: ArticulationConfig):
    """Spans with their targets and dominances: starts (S,), ends (S,), (S,C), (S,C)."""
    starts, ends, targets, dominances = [], [], [], []
    for symbol, start, end in _timeline(phones):
        target, dominance = _TABLE[symbol]
        if symbol == SILENCE:
            pieces = [(start, end, target, dominance * _pause_scale(end - start, config))]
        elif symbol in _GLIDE_TABLE and config.glide_fraction > 0:
            split = end - config.glide_fraction * (end - start)
            pieces = [(start, split, target, dominance), (split, end, *_GLIDE_TABLE[symbol])]
        else:
            pieces = [(start, end, target, dominance)]
        for piece in pieces:
            starts.append(piece[0])
            ends.append(piece[1])
            targets.append(piece[2])
            dominances.append(piece[3])
    return np.array(starts), np.array(ends), np.stack(targets), np.stack(dominances)


def _kernel(times: np.ndarray, starts: np.ndarray, ends: np.ndarray, before: float,
            after: float, shape: float) -> np.ndarray:
    """Temporal dominance profile (T,S): 1 inside a span, falling off before and after it."""
    x = (np.maximum(starts[None, :] - times[:, None], 0.0) * (1.0 / before)
         + np.maximum(times[:, None] - ends[None, :], 0.0) * (1.0 / after))  # one is 0
    x = np.minimum(x, _CUTOFF + 1.0)
    power = x * x if shape == 2.0 else x**shape
    return np.where(x > _CUTOFF, 0.0, np.exp(-_FALLOFF * power))


def _blend(times: np.ndarray, phones: Sequence[Phone], config: ArticulationConfig) -> np.ndarray:
    """Channel values (T,C) at ``times``: dominance-weighted mean of the phones' targets."""
    starts, ends, targets, dominances = _segments(phones, config)
    weighted = dominances * targets
    groups = ((~_FAST, config.anticipation, config.carryover),
              (_FAST, config.closure_anticipation, config.closure_carryover))
    reach_before = _CUTOFF * max(config.anticipation, config.closure_anticipation)
    reach_after = _CUTOFF * max(config.carryover, config.closure_carryover)
    out = np.empty((times.size, len(CHANNELS)))
    for b in range(0, times.size, _BLOCK):
        t = times[b:b + _BLOCK]
        # Spans that can reach this block; ends and starts are both sorted.
        lo = np.searchsorted(ends, t[0] - reach_after, side="left")
        hi = np.searchsorted(starts, t[-1] + reach_before, side="right")
        for mask, before, after in groups:
            k = _kernel(t, starts[lo:hi], ends[lo:hi], before, after, config.shape)
            num, den = k @ weighted[lo:hi][:, mask], k @ dominances[lo:hi][:, mask]
            out[b:b + _BLOCK, mask] = num / den  # den > 0: every time lies inside some span
    return out


def _to_arkit(channels: np.ndarray, config: ArticulationConfig) -> np.ndarray:
    """Channel values (T,C) -> ARKit weights (T,52), symmetric, in [0, 1]."""
    c = {name: channels[:, i] for name, i in _CH.items()}
    closed = np.clip(c["closure"] / config.contact, 0.0, 1.0)  # lips in contact at ``contact``
    opening = 1.0 - closed
    jaw = config.intensity * c["jaw"]
    out = np.zeros((channels.shape[0], 52))

    def put(name: str, value: np.ndarray, sides: bool = False) -> None:
        for full in ((f"{name}Left", f"{name}Right") if sides else (name,)):
            out[:, ARKIT_INDEX[full]] = value

    put("jawOpen", jaw)
    put("mouthClose", closed * jaw)  # cancels the jaw on the lips: they meet
    put("mouthFunnel", config.intensity * c["funnel"] * opening)
    # A sealed funnel keeps its protrusion as pucker (rounded closure, "boom").
    put("mouthPucker", config.intensity * (c["pucker"] + 0.5 * c["funnel"] * closed))
    put("mouthLowerDown", config.intensity * c["part"] * opening, sides=True)
    put("mouthUpperUp", config.intensity * (c["part"] * opening + 0.15 * c["labio"]), sides=True)
    put("mouthStretch", config.intensity * c["spread"], sides=True)
    put("mouthSmile", config.intensity * 0.3 * c["spread"], sides=True)
    put("mouthRollLower", config.intensity * 0.6 * c["labio"])
    put("mouthShrugLower", config.intensity * 0.25 * c["labio"])
    put("mouthShrugUpper", config.intensity * 0.3 * c["shrug"])
    put("mouthPress", config.intensity * 0.3 * c["press"], sides=True)
    return np.clip(out, 0.0, 1.0)


def viseme_weights(config: ArticulationConfig = ArticulationConfig()) -> np.ndarray:
    """ARKit weights (len(PHONES), 52) of each phone's held target, in ``PHONES`` order.

    What a phone looks like with no neighbours pulling at it (SIL: the rest
    pose); the network's articulation layer starts from these.
    """
    targets = np.stack([_TABLE[p][0] for p in PHONES])
    return _to_arkit(targets, config).astype(np.float32)


def frame_times(num_frames: int, fps: Fraction | int) -> np.ndarray:
    """Midpoints ``(k + 1/2) / fps`` of frames ``0..num_frames-1`` in seconds (float64)."""
    rate = as_fraction(fps, "fps")
    k = np.arange(num_frames, dtype=np.float64)
    return (2.0 * k + 1.0) * (rate.denominator / (2 * rate.numerator))


def articulate(phones: Sequence[Phone], num_frames: int, fps: Fraction | int,
               config: ArticulationConfig = ArticulationConfig()) -> np.ndarray:
    """ARKit weights (num_frames, 52) float32 in [0, 1] for timed phones, frame k at (k+1/2)/fps.

    Time before the first phone, between disjoint phones and after the last is
    silence. ``phones`` must be sorted and must not overlap.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) \
            or num_frames < 0:
        raise ValueError(f"num_frames must be a non-negative int, got {num_frames!r}")
    times = frame_times(int(num_frames), fps)
    if times.size == 0:
        return np.zeros((0, 52), dtype=np.float32)
    return _to_arkit(_blend(times, phones, config), config).astype(np.float32)


def phones_from_frame_labels(labels: Sequence[str], fps: Fraction | int) -> list[Phone]:
    """Per-frame ARPAbet labels (e.g. 30 fps, with NSN) -> timed phones, runs merged.

    Frame k covers ``[k/fps, (k+1)/fps)``; non-speech labels become ``SIL``.
    """
    rate = as_fraction(fps, "fps")
    if isinstance(labels, str) or len(labels) == 0:
        raise ValueError("labels must be a non-empty sequence of phone symbols")
    symbols = [normalise_phone(str(label)) for label in labels]
    phones: list[Phone] = []
    run_start = 0
    for k in range(1, len(symbols) + 1):
        if k == len(symbols) or symbols[k] != symbols[run_start]:
            phones.append(Phone(symbols[run_start], float(run_start / rate), float(k / rate)))
            run_start = k
    return phones
