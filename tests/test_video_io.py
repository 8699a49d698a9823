"""Video in and out: a source's pixel format, colour tags, rotation and timestamps survive a write and a read."""

from fractions import Fraction

import numpy as np
import pytest

from talkinghead.renderer.video import VideoStyle, VideoWriter, iter_timed_frames, probe_video


def _frames(count=6, height=48, width=64):
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([xs * 4 % 256, ys * 5 % 256, (xs + ys + 10 * k) % 256], -1)
                     for k in range(count)]).astype(np.uint8)


@pytest.mark.parametrize("style", [
    VideoStyle("yuvj420p", color_range=2, colorspace=1, color_primaries=1, color_trc=1),
    VideoStyle("yuv444p", color_range=1, colorspace=5, color_primaries=5, color_trc=6),
    VideoStyle("yuv420p10le", color_range=1, colorspace=1, color_primaries=1, color_trc=1),
    VideoStyle("yuv420p", rotation=90),
    VideoStyle("yuv420p", rotation=-90),
])
def test_style_and_upright_frames_survive(style, tmp_path):
    frames = _frames()
    path = tmp_path / "out.mp4"
    with VideoWriter(path, Fraction(30000, 1001), frames.shape[1:3], style=style, crf=0) as out:
        out.write(frames)
    info = probe_video(path)
    assert info.style == style and (info.height, info.width) == frames.shape[1:3]
    assert info.fps == Fraction(30000, 1001)
    back = np.stack([f.image for f in iter_timed_frames(path)])
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 3


def test_variable_frame_times_and_last_duration_survive(tmp_path):
    base = Fraction(1, 15360)
    pts = np.array([0, 1024, 1536, 2048, 3072, 3584])
    path = tmp_path / "vfr.mp4"  # (Matroska would round the times to milliseconds)
    with VideoWriter(path, Fraction(1350, 61), (48, 64), time_base=base) as out:
        out.write(_frames(), pts, np.diff(pts, append=4096))
    read = list(iter_timed_frames(path))
    assert [f.time for f in read] == [p * base for p in pts]
    assert read[-1].duration == 512 * base


def test_unknown_container_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unsupported output container"):
        VideoWriter(tmp_path / "out.avi", Fraction(25), (48, 64))
