"""Tracks of the shared clips for benchmarks, cached between runs."""

from __future__ import annotations

from pathlib import Path

from talkinghead.renderer.tracking import Track, track_video


def clip_track(video: Path, cache: Path | None) -> Track:
    """``video``'s track, read from ``cache/<clip folder>.track.npz`` if there, else made (and kept there)."""
    cached = cache / f"{video.parent.name}.track.npz" if cache else None
    if cached is not None and cached.is_file():
        return Track.load(cached)
    track = track_video(video, progress=False)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        track.save(cached)
    return track
