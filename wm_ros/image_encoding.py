# Copyright 2026 wm_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Pure-numpy conversion between raw ROS image buffers and rgb8 arrays.

This is the codec used when ``cv_bridge`` is not importable (PyPI ROS wheels) and by the
bag reader/writer, which has no ROS install at all. It knows the encodings a camera
driver is likely to send a tabletop policy: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` and
``mono8``. Everything else is rejected with a message that names the encoding.
"""

from __future__ import annotations

import numpy as np

CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}


class ImageEncodingError(ValueError):
    """An image buffer that cannot be turned into the rgb8 array the caller asked for."""


def decode(data: bytes | np.ndarray, height: int, width: int, encoding: str,
           step: int | None = None) -> np.ndarray:
    """
    Turn a raw image buffer into ``uint8[height, width, 3]`` RGB.

    ``step`` is the row length in bytes (may include padding); ``None`` means packed rows.
    """
    if encoding not in CHANNELS:
        raise ImageEncodingError(
            f'unsupported image encoding {encoding!r}; send one of {sorted(CHANNELS)}')
    channels = CHANNELS[encoding]
    row = width * channels
    step = row if not step else int(step)
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(),
                        dtype=np.uint8)
    if step < row:
        raise ImageEncodingError(
            f'image step {step} is shorter than one row of {width} {encoding} pixels ({row} '
            f'bytes); the publisher must set step >= width x {channels}')
    if buf.size != step * height:
        raise ImageEncodingError(
            f'image buffer holds {buf.size} bytes but {height}x{width} {encoding} with step '
            f'{step} needs exactly {step * height} (height x step); check the '
            "publisher's height/width/step fields")
    pixels = buf[:step * height].reshape(height, step)[:, :row].reshape(height, width, channels)
    if encoding == 'mono8':
        return np.repeat(pixels, 3, axis=2)
    if encoding in ('bgr8', 'bgra8'):
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def encode(rgb: np.ndarray, encoding: str = 'rgb8') -> tuple[bytes, int]:
    """Turn ``uint8[H, W, 3]`` RGB into ``(raw bytes, step)`` in ``encoding``."""
    rgb = check_rgb(rgb)
    if encoding not in CHANNELS:
        raise ImageEncodingError(
            f'unsupported image encoding {encoding!r}; use one of {sorted(CHANNELS)}')
    if encoding == 'mono8':
        out = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)[:, :, None]
    else:
        out = rgb if encoding.startswith('rgb') else rgb[:, :, ::-1]
        if CHANNELS[encoding] == 4:
            alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
            out = np.concatenate([out, alpha], axis=2)
    out = np.ascontiguousarray(out)
    return out.tobytes(), rgb.shape[1] * CHANNELS[encoding]


def check_rgb(image: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """Check that ``image`` is ``uint8[H, W, 3]`` (and ``H, W == size`` when given)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageEncodingError(
            f'expected an rgb8 image uint8[H, W, 3], got {image.dtype}{list(image.shape)}')
    if size is not None and tuple(image.shape[:2]) != tuple(size):
        raise ImageEncodingError(
            f'expected a {size[0]}x{size[1]} rgb8 image, got {image.shape[0]}x{image.shape[1]}')
    return image
