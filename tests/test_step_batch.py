"""Audio2motion calls of many sessions batched per tick: same frames as one stream at a time, fewer network calls."""

import numpy as np
import pytest

from talkinghead.audio2motion.animate import StreamingAnimator
from talkinghead.audio2motion.model import load_model
from talkinghead.streaming.step_batch import StepBatcher


class Counting:
    """The real network, counting its calls."""

    def __init__(self, network):
        self.network, self.config = network, network.config
        self.calls = self.batched = 0

    def run(self, mel, state):
        self.calls += 1
        return self.network.run(mel, state)

    def run_batch(self, mels, states):
        self.calls += 1
        self.batched += len(mels)
        return self.network.run_batch(mels, states)


@pytest.fixture(scope="module")
def model():
    return load_model().eval()


def _chunks(seed: int, seconds: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    return [audio[i:i + 640] for i in range(0, len(audio), 640)]  # 40 ms: one frame a tick


def test_a_tick_of_sessions_makes_one_network_call_with_the_same_frames(model):
    streams = [_chunks(seed) for seed in range(4)]
    counting = Counting(model)
    batcher = StepBatcher(threads=4)
    network = batcher.network(counting)
    _same_frames_in_ticks(batcher, [StreamingAnimator(model, 16000, 25, 100) for _ in streams],
                          [StreamingAnimator(network, 16000, 25, 100) for _ in streams], streams)
    ticks = len(streams[0])
    assert counting.calls <= ticks and counting.batched >= 4 * (ticks - 1)  # one call a tick, all four in it


def _same_frames_in_ticks(batcher: StepBatcher, alone: list, together: list, streams: list) -> None:
    """``together`` (batched) pushed one chunk of each stream a tick give ``alone``'s frames."""
    expected = [[a.push(chunk).blendshapes for chunk in stream] for a, stream in zip(alone, streams)]
    got = [[] for _ in streams]
    for tick in range(len(streams[0])):
        jobs = [lambda s=s, tick=tick: got[s].append(together[s].push(streams[s][tick]).blendshapes)
                for s in range(len(streams))]
        assert all(f.exception() is None for f in batcher.run_together(jobs))
    batcher.shutdown()
    for s in range(len(streams)):
        np.testing.assert_allclose(np.concatenate(got[s]), np.concatenate(expected[s]), atol=1e-4)


def test_more_jobs_than_threads_run_in_rounds_and_errors_reach_their_job(model):
    batcher = StepBatcher(threads=2)
    network = batcher.network(model)
    animators = [StreamingAnimator(network, 16000, 25, 0) for _ in range(5)]
    chunk = np.concatenate(_chunks(9)[:5])
    frames = len(StreamingAnimator(model, 16000, 25, 0).push(chunk))

    def fails():
        raise RuntimeError("this session broke")

    outcomes = batcher.run_together([lambda a=a: len(a.push(chunk)) for a in animators] + [fails])
    batcher.shutdown()
    assert frames > 0 and [o.result() for o in outcomes[:5]] == [frames] * 5
    assert isinstance(outcomes[5].exception(), RuntimeError)


def test_outside_a_tick_the_network_is_called_directly(model):
    counting = Counting(model)
    batcher = StepBatcher(threads=2)
    animator = StreamingAnimator(batcher.network(counting), 16000, 25, 100)
    animator.push(_chunks(3)[0])
    batcher.shutdown()
    assert counting.calls == 1 and counting.batched == 0


class CountingEncoder:
    """The real Whisper encoder, counting its calls and the windows of batched ones."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.calls = self.batched = 0

    def encode(self, window):
        self.calls += 1
        return self.encoder.encode(window)

    def encode_batch(self, windows):
        self.calls += 1
        self.batched += len(windows)
        return self.encoder.encode_batch(windows)


def test_a_tick_of_whisper_sessions_encodes_their_windows_in_one_call():
    from talkinghead.audio2motion.ears import whisper_installed

    if not whisper_installed():
        pytest.skip("the `whisper` extra is not installed")
    from talkinghead.audio2motion.whisper import shared_encoder

    live = load_model(ears="whisper", live=True)
    streams = [_chunks(seed, 1.5) for seed in range(3)]
    encoder = CountingEncoder(shared_encoder())
    batcher = StepBatcher(threads=3)
    _same_frames_in_ticks(batcher, [StreamingAnimator(live, 16000, 25, 100) for _ in streams],
                          [StreamingAnimator(batcher.network(live), 16000, 25, 100, batcher.encoder(encoder))
                           for _ in streams], streams)
    ticks = len(streams[0])  # a 40 ms chunk completes at most one window of each session: at most one call a tick
    windows = ticks * 40 // (20 * live.config.live_hop)  # one every hop of 20 ms frames
    assert encoder.calls <= ticks and encoder.calls >= windows - 2
    assert encoder.batched == 3 * encoder.calls  # each call holds the three sessions' windows
