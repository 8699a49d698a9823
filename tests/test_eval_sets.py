"""The second real-voice set (Asterisk prompts) and the scripted noise conditions of the lip-sync benchmarks."""

import numpy as np
import pytest

from talkinghead.audio2motion.training.augment import active_power
from talkinghead.evaluation import asterisk, noises


def test_numbers_are_spelled_as_the_prompts_say_them():
    assert asterisk.spoken_numbers("Press 1 then 12, or 40 or 99.") == \
        "Press one then twelve, or forty or ninety nine."
    assert asterisk.spoken_numbers("1st and 100") == "1st and 100"  # left for the aligner to refuse


@pytest.mark.skipif(not asterisk.available(), reason="Debian's asterisk-core-sounds-en(-g722) are not installed")
def test_prompts_have_audio_and_text():
    found = asterisk.prompts()
    assert len(found) > 500
    assert found["agent-loginok"] == "Agent logged in."


@pytest.mark.parametrize("condition", [c for c in noises.CONDITIONS if c != "telephone"])
def test_noise_is_mixed_at_the_asked_snr(condition):
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(48000) * 0.1 * (np.arange(48000) % 8000 < 6000)).astype(np.float32)
    voices = [np.roll(speech, k * 997) * (k + 1) for k in range(5)]
    mixed = noises.degrade(speech, condition, 10.0, np.random.default_rng(1), 16000, voices)
    added = mixed - speech
    assert 10 * np.log10(active_power(speech) / np.mean(added ** 2)) == pytest.approx(10.0, abs=0.05)
    again = noises.degrade(speech, condition, 10.0, np.random.default_rng(1), 16000, voices)
    assert np.array_equal(mixed, again)  # seeded


def test_babble_needs_four_voices():
    with pytest.raises(ValueError, match="at least 4 voices"):
        noises.babble(100, np.random.default_rng(0), [np.ones(10)] * 3)


def test_hum_is_at_mains_frequency():
    noise = noises.pink_hum(16000, np.random.default_rng(0), 16000)
    spectrum = np.abs(np.fft.rfft(noise))
    assert spectrum[50] > 8 * np.median(spectrum[30:70])
