"""talkinghead: speech in, a talking face out, frame-accurate and streaming.

The public contract between stages is :class:`Coefficients` (ARKit-52
blendshape weights plus head pose per video frame, on the audio clock).
"""

from importlib.metadata import PackageNotFoundError, version

from talkinghead.arkit import ARKIT_INDEX, ARKIT_NAMES, POSE_NAMES
from talkinghead.coefficients import Coefficients

try:
    __version__ = version("talkinghead")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"



def load_avatar(path=None, backend: str = "torch", device: str = "cpu"):
    """Load an avatar bundle directory (``None``: the built-in avatar); see :mod:`talkinghead.renderer.avatar`."""
    from talkinghead.renderer.avatar import load_avatar as load

    return load(path, backend, device)


def dub(video, audio, output, **options):
    """Make the person in ``video`` say ``audio``, written to ``output``; see :func:`talkinghead.dub.dub`."""
    from talkinghead.dub import dub as run

    return run(video, audio, output, **options)


__all__ = ["ARKIT_INDEX", "ARKIT_NAMES", "POSE_NAMES", "Coefficients", "__version__", "dub", "load_avatar"]
