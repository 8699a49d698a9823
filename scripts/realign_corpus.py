"""Re-time a teacher corpus with one aligner (a trained audio2motion network).

    python scripts/realign_corpus.py SOURCE_CORPUS OUT_DIR --weights RUN/a2m.pt [--threads 1]

Writes the same shards to OUT_DIR with each utterance's mel moved by the
aligner's offset (:mod:`talkinghead.audio2motion.training.realign`), and
``realign.json`` with the offsets' median and spread per engine. Resumable:
shards already in OUT_DIR are skipped. The recipe for the shipped weights is
build -> train -> realign with that model -> train again on the realigned corpus.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from talkinghead.audio2motion.model import load_model
from talkinghead.audio2motion.training.corpus import (
    read_shard,
    read_shard_meta,
    shard_indices,
    shard_path,
    write_shard,
)
from talkinghead.audio2motion.training.realign import realign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    args.output.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.source / "teacher.json", args.output / "teacher.json")
    done = set(shard_indices(args.output))
    for index in tqdm(shard_indices(args.source), desc="realign corpus", unit="shard"):
        if index not in done:
            write_shard(shard_path(args.output, index),
                        [realign(model, e) for e in read_shard(shard_path(args.source, index))])
    offsets: dict[str, list[float]] = defaultdict(list)
    for index in shard_indices(args.output):
        for meta in read_shard_meta(shard_path(args.output, index)):
            offsets[meta["engine"]].append(meta["realign_offset_s"])
    summary = {
        "weights": str(args.weights),
        "offset_ms": {engine: {"median": round(1000 * float(np.median(v)), 1),
                               "p10": round(1000 * float(np.percentile(v, 10)), 1),
                               "p90": round(1000 * float(np.percentile(v, 90)), 1), "utterances": len(v)}
                      for engine, v in sorted(offsets.items())},
    }
    (args.output / "realign.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary["offset_ms"], indent=1))


if __name__ == "__main__":
    main()
