"""talkinghead: speech in, a talking face out, frame-accurate and streaming.

The one front door. The contract between stages is :class:`Coefficients`
(ARKit-52 blendshape weights plus head pose per video frame, on the audio
clock); every way out hands on :class:`Frame`. The rest loads on first use,
so importing one stage (``talkinghead.renderer``) does not load the others.

- live: :class:`Engine`, :class:`LiveConfig`, :class:`SyncSession`;
  :class:`AvatarTracks` (WebRTC, the ``webrtc`` extra); :class:`TalkingHeadVideoService`
  (a Pipecat video service, the ``pipecat`` extra); :class:`TalkingHeadVideoGenerator`
  (LiveKit Agents' avatar video generator, the ``livekit`` extra)
- files: :func:`render`, :func:`animate`, :func:`dub`, :func:`enroll_video`,
  :func:`enroll_photo`, :func:`load_avatar`, :func:`load_audio`, :class:`VideoWriter`
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from talkinghead.contracts.arkit import ARKIT_INDEX, ARKIT_NAMES, POSE_NAMES
from talkinghead.contracts.coefficients import Coefficients
from talkinghead.contracts.frame import Frame

if TYPE_CHECKING:
    from talkinghead.contracts.audio_io import load_audio
    from talkinghead.contracts.renderer import Renderer
    from talkinghead.jobs.dub import DubConfig, dub
    from talkinghead.jobs.enroll import enroll_video
    from talkinghead.jobs.render import RenderConfig, demo_audio
    from talkinghead.jobs.render import animate_file as animate
    from talkinghead.jobs.render import render_file as render
    from talkinghead.renderer.avatar import load_avatar
    from talkinghead.renderer.photo import enroll_photo
    from talkinghead.renderer.video import VideoWriter
    from talkinghead.streaming.live import Engine, LiveConfig, Session, SyncSession
    from talkinghead.streaming.livekit_avatar import TalkingHeadVideoGenerator
    from talkinghead.streaming.pipecat_video import TalkingHeadVideoService
    from talkinghead.streaming.webrtc import AvatarTracks

try:
    __version__ = version("talkinghead")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_LIVE = ("Engine", "LiveConfig", "Session", "SyncSession")
_RENDER = {"RenderConfig": "RenderConfig", "animate": "animate_file", "demo_audio": "demo_audio", "render": "render_file"}


def __getattr__(name: str) -> Any:
    """The facade's heavier names, imported when first asked for."""
    if name in _LIVE:
        from talkinghead.streaming import live as module
    elif name in _RENDER:
        from talkinghead.jobs import render as module

        name = _RENDER[name]
    elif name in ("DubConfig", "dub"):
        from talkinghead.jobs import dub as module
    elif name == "enroll_video":
        from talkinghead.jobs import enroll as module
    elif name == "enroll_photo":
        from talkinghead.renderer import photo as module
    elif name == "load_avatar":
        from talkinghead.renderer import avatar as module
    elif name == "load_audio":
        from talkinghead.contracts import audio_io as module
    elif name == "VideoWriter":
        from talkinghead.renderer import video as module
    elif name == "Renderer":
        from talkinghead.contracts import renderer as module
    elif name == "AvatarTracks":
        from talkinghead.streaming import webrtc as module
    elif name == "TalkingHeadVideoService":
        from talkinghead.streaming import pipecat_video as module
    elif name == "TalkingHeadVideoGenerator":
        from talkinghead.streaming import livekit_avatar as module
    else:
        raise AttributeError(f"module 'talkinghead' has no attribute {name!r}")
    return getattr(module, name)


__all__ = [
    "ARKIT_INDEX", "ARKIT_NAMES", "POSE_NAMES", "AvatarTracks", "Coefficients", "DubConfig", "Engine", "Frame",
    "LiveConfig", "RenderConfig", "Renderer", "Session", "SyncSession", "TalkingHeadVideoGenerator",
    "TalkingHeadVideoService", "VideoWriter",
    "__version__", "animate",
    "demo_audio", "dub", "enroll_photo", "enroll_video", "load_audio", "load_avatar", "render",
]
