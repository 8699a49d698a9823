"""Build the built-in avatar and demo sentence shipped in the package (run once by a maintainer).

1. ``renderer/assets/default_avatar/``: a photo avatar (``talkinghead.renderer.photo``)
   made from matplotlib's public-domain official portrait ``grace_hopper.jpg``
   (closed mouth, large frontal face). Needs the ``track`` extra.
2. ``engine/assets/demo.wav``: a short sentence spoken by festival's ``kal`` voice
   (16 kHz mono 16-bit), the speech ``talkinghead demo`` renders.

Usage: ``python scripts/build_default_avatar.py [--root .]``
"""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np
from matplotlib import cbook

from talkinghead.audio2motion.training.tts import synthesize_festival
from talkinghead.renderer.photo import enroll_photo

DEMO_TEXT = "Hello! I am a talking head. I was made from one photo, and I move my lips to your voice."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    avatar = enroll_photo(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    avatar.save(args.root / "renderer" / "assets" / "default_avatar")
    speech = synthesize_festival(DEMO_TEXT, voice="kal")
    pcm = np.round(np.clip(speech.audio, -1, 1) * 32767).astype("<i2")
    out = args.root / "engine" / "assets" / "demo.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(speech.sample_rate)
        handle.writeframes(pcm.tobytes())
    print(f"avatar {avatar.image.shape[1]}x{avatar.image.shape[0]}; demo {speech.duration:.2f} s -> {out}")


if __name__ == "__main__":
    main()
