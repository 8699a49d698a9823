"""Tests of the articulation model: timed phones -> ARKit weight curves.

Geometric checks run the curves through the project's face model (authored
blendshapes on the default neutral) and measure the signed inner-lip gap and
the mouth width in inter-ocular distances.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from talkinghead.audio2motion.articulation import (
    GLIDES,
    VISEME_TARGETS,
    ArticulationConfig,
    articulate,
    phones_from_frame_labels,
)
from talkinghead.audio2motion.phones import PHONES, Phone
from talkinghead.contracts import topology
from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES
from talkinghead.contracts.blendshapes import author_blendshapes, express
from talkinghead.contracts.face_model import interocular
from talkinghead.evaluation.labels import TUNING_CLIPS, available_clips
from talkinghead.evaluation.lipsync import auc_at_lag

FINE_FPS = 1000  # sampling rate for checks at precise times
ROUNDING = ("mouthFunnel", "mouthPucker")
OPEN = ("AA", "AE", "AY", "AW", "AO", "AH")
ROUNDED = ("UW", "OW", "UH")
SPREAD = ("IY", "IH", "EY", "EH", "AE")


@pytest.fixture(scope="module")
def face():
    """(measure): weights (T,52) -> (signed lip gap, mouth width) in IOD, via the mesh."""
    neutral = topology.load_topology().neutral.astype(np.float64)
    basis = author_blendshapes(neutral).astype(np.float64)
    iod = float(interocular(neutral))
    points = [topology.UPPER_LIP_INNER_MID, topology.LOWER_LIP_INNER_MID, *topology.MOUTH_CORNERS]

    def measure(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        v = express(neutral[points], basis[:, points], np.asarray(weights, dtype=np.float64))
        gap = (v[:, 0, 1] - v[:, 1, 1]) / iod
        width = np.linalg.norm(v[:, 2] - v[:, 3], axis=-1) / iod
        return gap, width

    return measure


def utterance(spec, start: float = 0.3) -> list[Phone]:
    """Contiguous phones from (symbol, duration) pairs starting at ``start``."""
    out, t = [], start
    for symbol, duration in spec:
        out.append(Phone(symbol, t, t + duration))
        t += duration
    return out


def at(phones, times, config: ArticulationConfig | None = None) -> np.ndarray:
    """Weights at the frame midpoints of FINE_FPS nearest to ``times`` (within 0.5 ms)."""
    config = config or ArticulationConfig()
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    curves = articulate(phones, int(np.ceil((times.max() + 0.01) * FINE_FPS)), FINE_FPS, config)
    return curves[np.round(times * FINE_FPS - 0.5).astype(int)]


def centre(phone: Phone) -> float:
    return 0.5 * (phone.start + phone.end)


def random_utterance(seed: int, n: int = 60) -> list[Phone]:
    rng = np.random.default_rng(seed)
    symbols = rng.choice(PHONES, size=n)
    durations = rng.uniform(0.02, 0.25, size=n)
    return utterance(zip(symbols, durations), start=float(rng.uniform(0, 0.5)))


# ---------------------------------------------------------------- shapes and API


@pytest.mark.parametrize("fps", [24, 25, 30, Fraction(30000, 1001), 60])
def test_shape_dtype_range_symmetry(fps):
    phones = random_utterance(1)
    n = 200
    w = articulate(phones, n, fps)
    assert w.shape == (n, 52) and w.dtype == np.float32
    assert np.isfinite(w).all() and w.min() >= 0.0 and w.max() <= 1.0
    assert w.max() > 0.3  # it does move
    assert np.all(w[:, ARKIT_INDEX["tongueOut"]] == 0)
    for name in ARKIT_NAMES:
        if name.endswith("Left"):
            np.testing.assert_array_equal(w[:, ARKIT_INDEX[name]],
                                          w[:, ARKIT_INDEX[name[:-4] + "Right"]])


def test_tables_cover_the_phone_set():
    assert set(VISEME_TARGETS) == set(PHONES)
    for viseme in [*VISEME_TARGETS.values(), *GLIDES.values()]:
        assert all(0.0 <= t <= 1.0 for t in viseme.target)
        assert all(d > 0.0 for d in viseme.dominance)


def test_empty_inputs():
    assert articulate([], 0, 30).shape == (0, 52)
    rest = articulate([], 10, 30)
    assert rest.shape == (10, 52) and not rest.any()


def test_bad_inputs_are_value_errors():
    a, b = Phone("AA", 0.0, 0.2), Phone("B", 0.1, 0.3)
    with pytest.raises(ValueError, match="overlaps"):
        articulate([a, b], 10, 30)
    with pytest.raises(ValueError, match="num_frames"):
        articulate([a], -1, 30)
    with pytest.raises(ValueError, match="not a Phone"):
        articulate([("AA", 0.0, 0.2)], 10, 30)
    with pytest.raises(ValueError):
        articulate([a], 10, 0)
    with pytest.raises(ValueError):
        articulate([a], 10, 29.97)
    with pytest.raises(ValueError, match="anticipation"):
        ArticulationConfig(anticipation=0.0)
    with pytest.raises(ValueError, match="long_pause"):
        ArticulationConfig(short_pause=0.3, long_pause=0.2)


def test_phones_from_frame_labels():
    labels = ["SIL", "NSN", "AH1", "AH", "B", "B", "IY", "NSN"]
    phones = phones_from_frame_labels(labels, 30)
    assert [p.symbol for p in phones] == ["SIL", "AH", "B", "IY", "SIL"]
    bounds = [0, 2, 4, 6, 7, 8]
    assert [p.start * 30 for p in phones] == pytest.approx(bounds[:-1])
    assert [p.end * 30 for p in phones] == pytest.approx(bounds[1:])
    at_25 = phones_from_frame_labels(labels, 25)
    assert at_25[-1].end == pytest.approx(8 / 25)
    with pytest.raises(ValueError):
        phones_from_frame_labels([], 30)
    with pytest.raises(ValueError):
        phones_from_frame_labels(["AA", "QQ"], 30)
    with pytest.raises(ValueError):
        phones_from_frame_labels(["AA"], 0)


# ---------------------------------------------------------------- time behaviour


@pytest.mark.parametrize("low, ratio", [(30, 3), (20, 3), (10, 3), (25, 3),
                                        (Fraction(30000, 1001), 3), (12, 5)])
def test_fps_invariance(low, ratio):
    """Frame k at ``low`` and frame ``ratio*k + (ratio-1)/2`` at ``ratio*low`` share a midpoint."""
    phones = random_utterance(2)
    n = 90
    coarse = articulate(phones, n, low)
    fine = articulate(phones, n * ratio, low * ratio)
    np.testing.assert_allclose(coarse, fine[ratio * np.arange(n) + (ratio - 1) // 2], atol=1e-5)


def test_curves_are_continuous():
    """Sampled finely, no weight jumps: the blend is smooth in time (no cut-off steps)."""
    w = articulate(random_utterance(3), 4 * FINE_FPS, FINE_FPS)
    assert np.abs(np.diff(w, axis=0)).max() < 0.03


def test_rounding_is_anticipated():
    for before in ("AH", "IY"):
        phones = utterance([(before, 0.3), ("K", 0.08), ("UW", 0.2)])
        onset = phones[2].start
        w = at(phones, [phones[0].start + 0.05, onset - 0.06, centre(phones[2])])
        pucker = w[:, ARKIT_INDEX["mouthPucker"]]
        assert pucker[0] < 0.02  # far before: spread/neutral vowel, no rounding
        assert pucker[1] > 0.2  # 60 ms before the UW the lips are already rounding
        assert pucker[2] > 0.7


def test_long_silence_goes_to_rest_short_pause_does_not(face):
    long = utterance([("AA", 0.2), ("SIL", 0.4), ("AA", 0.2)])
    w = at(long, np.linspace(centre(long[1]) - 0.05, centre(long[1]) + 0.05, 11))
    assert w.max() < 1e-3
    start = articulate(utterance([("AA", 0.2)], start=0.5), 5, 30)
    assert start.max() < 1e-3  # before speech: rest

    short = utterance([("AA", 0.2), ("SIL", 0.1), ("AA", 0.2)])
    w = at(short, [centre(short[1])])
    gap, _ = face(w)
    assert w[0, ARKIT_INDEX["jawOpen"]] > 0.3 and gap[0] > 0.1  # the mouth stays open

    bilabial = utterance([("M", 0.1), ("SIL", 0.1), ("M", 0.1)])
    gap, _ = face(at(bilabial, [centre(bilabial[1])]))
    assert abs(gap[0]) < 0.01  # ... unless the neighbours close it


# ---------------------------------------------------------------- geometry on the face model


@pytest.mark.parametrize("intensity", [0.5, 1.0, 1.5])
def test_bilabials_seal_between_any_vowels(face, intensity):
    config = ArticulationConfig(intensity=intensity)
    for vowel_a, bilabial, vowel_b, duration in [
        ("AA", "B", "AA", 0.08), ("AA", "M", "AA", 1 / 30), ("AE", "P", "AW", 0.02),
        ("OW", "B", "OW", 0.05), ("UW", "P", "IY", 0.06), ("AO", "M", "AY", 0.12),
        ("SH", "P", "AA", 0.05),
    ]:
        phones = utterance([(vowel_a, 0.15), (bilabial, duration), (vowel_b, 0.15)])
        w = at(phones, [centre(phones[0]), centre(phones[1])], config)
        gap, _ = face(w)
        assert abs(gap[1]) <= 0.01, (vowel_a, bilabial, vowel_b, duration, gap[1])
        assert w[1, ARKIT_INDEX["jawOpen"]] > 0.0  # sealed with the jaw partly open ...
        assert w[1, ARKIT_INDEX["mouthClose"]] == pytest.approx(w[1, ARKIT_INDEX["jawOpen"]],
                                                                abs=0.02)  # ... by mouthClose
        assert w[1, ARKIT_INDEX["mouthPressLeft"]] > 0.0
    phones = utterance([("AA", 0.15), ("B", 0.08), ("AA", 0.15)])
    gap, _ = face(at(phones, [centre(phones[0]), centre(phones[2])]))
    assert gap.min() >= 0.15  # the vowels around it are open


def test_open_vowels_open_and_rounded_vowels_narrow(face):
    def vowel_centre(vowel):
        phones = utterance([("HH", 0.06), (vowel, 0.18), ("T", 0.06)])
        return at(phones, [centre(phones[1])])

    for vowel in OPEN:
        gap, _ = face(vowel_centre(vowel))
        assert gap[0] >= 0.15, (vowel, gap[0])
    rounded = [face(vowel_centre(v))[1][0] for v in ROUNDED]
    spread = [face(vowel_centre(v))[1][0] for v in SPREAD]
    assert max(rounded) < min(spread) - 0.15
    assert vowel_centre("UW")[0, [ARKIT_INDEX[n] for n in ROUNDING]].sum() > 0.8
    assert vowel_centre("IY")[0, ARKIT_INDEX["mouthStretchLeft"]] > 0.3


def test_labiodentals_tuck_the_lower_lip(face):
    phones = utterance([("AA", 0.15), ("F", 0.09), ("AA", 0.15)])
    w = at(phones, [centre(phones[1])])
    gap, _ = face(w)
    assert 0.0 <= gap[0] < 0.05
    assert w[0, ARKIT_INDEX["mouthRollLower"]] > 0.3
    assert w[0, ARKIT_INDEX["jawOpen"]] < 0.3


# ---------------------------------------------------------------- real labels (tuning clips)


def test_oracle_on_tuning_clips(face, data_root):
    """Articulating the clips' own labels must separate the yardstick's classes.

    Measured (lag 0): aperture AUC 1.000 / 0.998 / 1.000 and rounding AUC
    0.998 / 0.998 / 1.000 on Obama_clip1 / andrew_clip_1 / feifeili_clip1.
    """
    clips = available_clips(data_root, TUNING_CLIPS)
    if not clips:
        pytest.skip("no tuning clips under the data root")
    for clip in clips:
        weights = articulate(phones_from_frame_labels(clip.labels, 30), len(clip.labels), 30)
        gap, _ = face(weights)
        rounding = weights[:, [ARKIT_INDEX[n] for n in ROUNDING]].sum(1)
        aperture_auc = auc_at_lag(gap, clip.labels, 30, "aperture", lag=0, n_boot=0).auc
        rounding_auc = auc_at_lag(rounding, clip.labels, 30, "rounding", lag=0, n_boot=0).auc
        assert aperture_auc >= 0.97, (clip.name, aperture_auc)
        assert rounding_auc >= 0.95, (clip.name, rounding_auc)


# ---------------------------------------------------------------- speed


def test_speed_is_linear_in_length():
    """5 minutes at 30 fps in well under a second: only nearby phones are blended per frame."""
    phones = utterance([(s, 0.08) for s in ("AA", "B", "IY", "S", "T", "UW", "M", "SIL") * 470])
    articulate(phones[:20], 30, 30)  # warm-up
    best = min(_timed(lambda: articulate(phones, 9000, 30)) for _ in range(3))
    assert best < 1.0


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
