"""Round-trip error of the Coefficients file formats on random valid data.

    python benchmarks/formats_roundtrip.py

Prints the largest absolute difference after save + load for .npz (must be 0),
.json and Live Link CSV (must be <= 1e-6), at several frame rates.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from talkinghead import Coefficients

RATES = (Fraction(24), Fraction(25), Fraction(30), Fraction(30000, 1001), Fraction(60))


def max_error(coefficients: Coefficients, path: Path) -> float:
    coefficients.save(path)
    fps = coefficients.fps if path.suffix == ".csv" else None
    loaded = Coefficients.load(path, fps=fps) if fps else Coefficients.load(path)
    assert loaded.fps == coefficients.fps and loaded.start_frame == coefficients.start_frame
    return float(max(np.abs(loaded.blendshapes - coefficients.blendshapes).max(),
                     np.abs(loaded.pose - coefficients.pose).max()))


def main() -> None:
    rng = np.random.default_rng(0)
    print("| fps | frames | .npz max abs diff | .json max abs diff | .csv max abs diff |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for fps in RATES:
            frames = 3000
            coefficients = Coefficients(
                rng.random((frames, 52), dtype=np.float32),
                (rng.standard_normal((frames, 6)) * [0.3, 0.3, 0.3, 2, 2, 10]).astype(np.float32),
                fps,
                start_frame=int(rng.integers(0, 10_000)),
            )
            errors = [max_error(coefficients, Path(folder) / f"c{suffix}") for suffix in (".npz", ".json", ".csv")]
            print(f"| {fps} | {frames} | {errors[0]:.1e} | {errors[1]:.1e} | {errors[2]:.1e} |")


if __name__ == "__main__":
    main()
