"""Build (or resume) the audio2motion teacher corpus.

    python scripts/build_teacher_corpus.py OUT_DIR [--shards 60] [--workers 2] [--seed 0]
                                           [--espeak-share 0.6] [--flite-share 0.0]

Each shard is ~40 utterances (about 4 minutes of speech) made from its own
seed, so the same arguments rebuild the same corpus, and an interrupted build
resumes by making only the missing shards. Needs espeak-ng, festival (voices
kal, ked, slt), flite when ``--flite-share`` > 0, and the ``teacher`` extra
(pyworld). The rest of the shares goes to festival. The shipped weights'
corpus: seed 0 with the defaults (69 shards) plus seed 1 with
``--espeak-share 0 --flite-share 1`` (a second directory).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from talkinghead.audio2motion.training.teacher import TeacherConfig, build_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--shards", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--utterances", type=int, default=40, help="utterances per shard")
    parser.add_argument("--espeak-share", type=float, default=TeacherConfig.espeak_share)
    parser.add_argument("--flite-share", type=float, default=TeacherConfig.flite_share)
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=args.output / "build.log", level=logging.INFO, format="%(asctime)s %(message)s")
    build_corpus(args.output, args.shards, TeacherConfig(
        seed=args.seed, utterances_per_shard=args.utterances, espeak_share=args.espeak_share,
        flite_share=args.flite_share),
                 workers=args.workers)


if __name__ == "__main__":
    main()
