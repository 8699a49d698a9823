"""The runnable demos in demos/ run: the Python embedding example streams speech into an MP4."""

import importlib.util
from fractions import Fraction
from pathlib import Path

from talkinghead.contracts.audio_io import load_audio, write_wav
from talkinghead.contracts.clock import FrameClock
from talkinghead.jobs.render import demo_audio
from talkinghead.renderer.video import probe_video

DEMOS = Path(__file__).resolve().parents[1] / "demos"


def test_the_python_embedding_example_writes_every_frame(tmp_path):
    spec = importlib.util.spec_from_file_location("embed_python", DEMOS / "embed_python.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    samples, rate = load_audio(demo_audio())
    speech = write_wav(tmp_path / "speech.wav", samples[: rate], rate)
    frames = demo.run(speech, tmp_path / "out.mp4")
    assert frames == FrameClock(rate, Fraction(25)).frames_for(rate)
    info = probe_video(tmp_path / "out.mp4")
    assert info.num_frames == frames and info.has_audio
