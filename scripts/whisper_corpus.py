"""Compute (or resume) Whisper tiny.en encoder features beside a teacher corpus's shards.

    python scripts/whisper_corpus.py CORPUS [CORPUS ...] [--window 30 --hop 20] [--threads 2]
    python scripts/whisper_corpus.py CORPUS [CORPUS ...] --live 50 2     # live windows: 50 frames every 2

The corpus must keep its audio (every corpus `scripts/build_teacher_corpus.py`
builds now does). Needs the `whisper` extra.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from talkinghead.audio2motion.training.whisper_corpus import write_features
from talkinghead.audio2motion.whisper import (
    OFFLINE_WINDOW,
    LiveWindowing,
    WhisperEncoder,
    Windowing,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--window", type=float, default=OFFLINE_WINDOW.length, help="encoder window, seconds")
    parser.add_argument("--hop", type=float, default=OFFLINE_WINDOW.hop, help="window hop, seconds")
    parser.add_argument("--live", type=int, nargs=2, metavar=("WINDOW", "HOP"),
                        help="live windows instead, in 20 ms frames (sidecars whisper-live-WINDOW-HOP-*)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    encoder = WhisperEncoder(threads=args.threads)
    windowing = LiveWindowing(*args.live) if args.live else Windowing(args.window, args.hop)
    for directory in args.corpus:
        write_features(directory, encoder, windowing)


if __name__ == "__main__":
    main()
