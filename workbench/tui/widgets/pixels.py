"""Images of a batch as terminal cells: coloured half blocks (rich-pixels), or an ASCII ramp.

Each image tensor (C, H, W) with C in 1 or 3 is scaled to 0..255 by its own min and max (datasets
are often standardised, so values may be negative), resized by whole factors so that tiny images
(8x8 digits) stay legible and large ones fit a grid cell, then drawn by rich-pixels' half-cell
renderer (two pixels per cell, top as background, bottom as foreground). Without colour the same
pixels become one ASCII character per cell (the mean of its two pixels on a brightness ramp).
"""

from __future__ import annotations

import functools
from typing import Any

from rich.console import RenderableType
from rich.text import Text

RAMP = " .:-=+*#%@"  # dark to bright
TARGET_WIDTH = 16  # cells a small image is scaled up to (about)
MAX_WIDTH = 32  # cells a large image is scaled down to (at most)


def is_image_batch(inputs: Any) -> bool:
    """True for a batch shaped (N, C, H, W) with 1 or 3 channels."""
    shape = tuple(getattr(inputs, "shape", ()))
    return len(shape) == 4 and shape[1] in (1, 3) and shape[2] > 0 and shape[3] > 0


def cell_size(height: int, width: int) -> tuple[int, int]:
    """(pixels wide, pixels tall) an image of this size is drawn at; rows are half the height."""
    if width < TARGET_WIDTH:
        scale = max(1, TARGET_WIDTH // width)
        w, h = width * scale, height * scale
    elif width > MAX_WIDTH:
        w, h = MAX_WIDTH, max(2, round(height * MAX_WIDTH / width))
    else:
        w, h = width, height
    return w, h + (h % 2)  # an even number of pixel rows: two per cell


def to_uint8(image: Any) -> Any:
    """(C, H, W) tensor or array -> (H, W) or (H, W, 3) uint8, stretched to its own range."""
    import numpy as np

    a = np.asarray(image, dtype=np.float32)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    a = (a * 255).round().astype(np.uint8)
    return a[0] if a.shape[0] == 1 else np.transpose(a, (1, 2, 0))


def render_image(image: Any, color: bool = True) -> RenderableType:
    """One image (C, H, W) as half-block pixels, or as an ASCII ramp when `color` is False."""
    pixels = to_uint8(image)
    return _render(pixels.tobytes(), pixels.shape, color)


@functools.lru_cache(maxsize=256)
def _render(data: bytes, shape: tuple[int, ...], color: bool) -> RenderableType:
    """Kept by content: a run's preview shows the same samples every epoch (with new
    predictions), and converting them took a fifth of the UI's time during a run (py-spy)."""
    import numpy as np
    from PIL import Image

    pixels = np.frombuffer(data, dtype=np.uint8).reshape(shape)
    w, h = cell_size(pixels.shape[0], pixels.shape[1])
    img = Image.fromarray(pixels)
    if img.size != (w, h):
        img = img.resize((w, h), resample=Image.Resampling.NEAREST)
    if color:
        from rich_pixels import Pixels

        return Pixels.from_image(img)
    return ascii_ramp(img)


def ascii_ramp(img: Any) -> Text:
    """A PIL image as one character per two rows of pixels, darker to brighter along RAMP."""
    import numpy as np

    grey = np.asarray(img.convert("L"), dtype=np.float32)
    if grey.shape[0] % 2:
        grey = np.vstack([grey, grey[-1:]])
    cells = (grey[0::2] + grey[1::2]) / 2
    idx = np.minimum((cells / 256 * len(RAMP)).astype(int), len(RAMP) - 1)
    return Text("\n".join("".join(RAMP[i] for i in row) for row in idx), no_wrap=True)
