"""Avatar bundles on disk: the built-in default and ``talkinghead.load_avatar``.

A bundle is a directory with ``avatar.json`` (format version, kind, files).
Kinds: ``photo`` (:mod:`.photo`) and ``video`` (:mod:`.video_avatar`).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from talkinghead.renderer.bundle import read_meta
from talkinghead.renderer.photo import PhotoAvatar, PhotoRenderer
from talkinghead.renderer.video_avatar import VideoAvatar, VideoRenderer

Avatar = PhotoAvatar | VideoAvatar


def default_avatar_dir() -> Path:
    """The built-in avatar: made by ``scripts/build_default_avatar.py`` from a public-domain portrait."""
    return Path(str(importlib.resources.files("talkinghead.renderer").joinpath("assets", "default_avatar")))


def load_avatar(path: str | Path | None = None, backend: str = "torch", device: str = "cpu") -> Avatar:
    """Load an avatar bundle (``None``: the built-in default).

    ``backend`` (torch or onnx) and ``device`` (cpu or cuda) run a standard
    video avatar's network; other avatars have none.
    """
    directory = default_avatar_dir() if path is None else Path(path)
    meta = read_meta(directory)
    if meta.get("kind") == "photo":
        return PhotoAvatar.load(directory)
    if meta.get("kind") == "video":
        return VideoAvatar.load(directory, backend, device)
    raise ValueError(f"{directory}: unknown avatar kind {meta.get('kind')!r}")


def avatar_renderer(avatar: Avatar) -> PhotoRenderer | VideoRenderer:
    """The renderer that draws ``avatar``."""
    return VideoRenderer(avatar) if isinstance(avatar, VideoAvatar) else PhotoRenderer(avatar)
