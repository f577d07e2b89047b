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

"""Image codec: numpy round trips for rgb8/bgr8/mono8/rgba8, and cv_bridge where it works."""

import numpy as np
import pytest

from wm_ros import image_encoding
from wm_ros.image_encoding import ImageEncodingError

rclpy_msgs = pytest.importorskip('sensor_msgs.msg', reason='ROS 2 message packages absent')
from wm_ros.ros import image_codec  # noqa: E402


@pytest.fixture
def rgb():
    return np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
def test_numpy_round_trip_exact(rgb, encoding):
    msg = image_codec.to_msg(rgb, encoding=encoding, use_bridge=False)
    assert msg.encoding == encoding and msg.height == 12 and msg.width == 20
    assert np.array_equal(image_codec.from_msg(msg, use_bridge=False), rgb)


def test_bgr_bytes_are_really_swapped(rgb):
    msg = image_codec.to_msg(rgb, encoding='bgr8', use_bridge=False)
    raw = np.frombuffer(bytes(msg.data), np.uint8).reshape(12, 20, 3)
    assert np.array_equal(raw[..., 0], rgb[..., 2])


def test_mono8_is_grey(rgb):
    msg = image_codec.to_msg(rgb, encoding='mono8', use_bridge=False)
    out = image_codec.from_msg(msg, use_bridge=False)
    assert out.shape == rgb.shape
    assert np.array_equal(out[..., 0], out[..., 1])
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.abs(out[..., 0] - grey).max() <= 1


def test_padded_rows_decode(rgb):
    data, step = image_encoding.encode(rgb, 'rgb8')
    padded = b''.join(data[r * step:(r + 1) * step] + b'\0' * 4 for r in range(12))
    assert np.array_equal(image_encoding.decode(padded, 12, 20, 'rgb8', step + 4), rgb)


def test_bad_images_give_clear_errors(rgb):
    msg = image_codec.to_msg(rgb, use_bridge=False)
    with pytest.raises(ImageEncodingError, match='expected a 64x64 rgb8 image, got 12x20'):
        image_codec.from_msg(msg, size=(64, 64), use_bridge=False)
    msg.encoding = '16UC1'
    with pytest.raises(ImageEncodingError, match="unsupported image encoding '16UC1'"):
        image_codec.from_msg(msg, use_bridge=False)
    msg.encoding, msg.height = 'rgb8', 40
    with pytest.raises(ImageEncodingError, match='holds 720 bytes .* needs exactly 2400'):
        image_codec.from_msg(msg, use_bridge=False)
    msg.height = 6                                   # a buffer longer than the image
    with pytest.raises(ImageEncodingError, match='holds 720 bytes .* needs exactly 360'):
        image_codec.from_msg(msg, use_bridge=False)
    msg.height, msg.step = 12, 30                    # a row is 60 bytes
    with pytest.raises(ImageEncodingError, match=r'step 30 is shorter than one row .* \(60 bytes'):
        image_codec.from_msg(msg, use_bridge=False)
    with pytest.raises(ImageEncodingError, match='uint8'):
        image_codec.to_msg(rgb.astype(np.float32))


@pytest.mark.skipif(image_codec.backend() != 'cv_bridge',
                    reason='a ROS 2 cv_bridge is not importable here (PyPI has only a ROS 1 '
                           'build); runs on hosts with a ROS 2 install')
@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_cv_bridge_agrees_with_numpy(rgb, encoding):
    via_bridge = image_codec.to_msg(rgb, encoding=encoding, use_bridge=True)
    via_numpy = image_codec.to_msg(rgb, encoding=encoding, use_bridge=False)
    assert bytes(via_bridge.data) == bytes(via_numpy.data)
    assert np.array_equal(image_codec.from_msg(via_numpy, use_bridge=True), rgb)
