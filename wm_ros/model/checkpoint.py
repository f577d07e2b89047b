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
Model files: ``model.safetensors`` (weights) + ``model.json`` (versioned metadata).

The metadata carries everything needed to use the weights correctly and to refuse them
when they do not fit: format and version, the full config (image size, control rate,
action scale, board size, slots), the kind vocabulary, normalisation, the training data
hash and training statistics. Loading never unpickles anything.
"""

from __future__ import annotations

from dataclasses import asdict, replace
import hashlib
import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from wm_ros.model import family_files
from wm_ros.model.config import ModelFileError, tabletop_world, WorldModelConfig
from wm_ros.model.network import STATE_KEYS, WorldModel

FORMAT = 'wm_ros.object_slots'   # the runtime registry's key (wm_ros/runtime/registry.py)
FORMAT_VERSION = 3          # 3: world spec and state spec in the metadata
LEGACY_FORMAT = ('wm_ros.world_model', 2)   # same network, the tabletop's world implied
WEIGHTS, META = family_files.WEIGHTS, family_files.META


def state_spec(cfg: WorldModelConfig) -> dict:
    """Return ``{key: {'shape': [...] without batch, 'dtype': ...}}`` of this family's State."""
    m = cfg.max_blocks
    shapes = {'kind': [m], 'present': [m], 'pos': [m, 2], 'yaw': [m], 'prev_pos': [m, 2],
              'ee': [2], 'prev_ee': [2], 'uncertainty': []}
    return {k: {'shape': shapes[k], 'dtype': 'int64' if k == 'kind' else 'float32'}
            for k in STATE_KEYS}


def metadata(cfg: WorldModelConfig, data_hash: str = '', train: dict | None = None) -> dict:
    """Return the metadata dict written beside the weights (and the ONNX graphs)."""
    return family_files.metadata(
        FORMAT, FORMAT_VERSION, cfg, state_spec(cfg),
        {'images': 'uint8 RGB, /255 inside the graph',
         'positions': 'metres in the board frame (+x right, +y up)'},
        ('objects', 'uncertainty'), data_hash, train, kinds=list(cfg.world.kinds))


def save(model: WorldModel, out_dir: str | Path, data_hash: str = '',
         train: dict | None = None) -> Path:
    """Write weights and metadata into ``out_dir``; returns the directory."""
    return family_files.save(model, out_dir, metadata(model.cfg, data_hash, train))


def read_metadata(model_dir: str | Path) -> dict:
    """Read and check ``model.json``; raise :class:`ModelFileError` naming the problem."""
    path = Path(model_dir) / META
    if not path.is_file():
        raise ModelFileError(f'model metadata {path} does not exist; train a model with '
                             '`wm-ros train world-model` or pass the directory that has it')
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f'model metadata {path} is not valid JSON: {exc}') from None
    if (meta.get('format'), meta.get('format_version')) == LEGACY_FORMAT:
        return _upgrade(meta, path)
    if meta.get('format') != FORMAT:
        raise ModelFileError(f'{path} is not an object-slot world model (format '
                             f'{meta.get("format")!r})')
    if meta.get('format_version') != FORMAT_VERSION:
        raise ModelFileError(f'{path} has format_version {meta.get("format_version")}, this '
                             f'wm_ros reads {FORMAT_VERSION}: re-export or retrain the model')
    if meta.get('kinds') != list(config_of(meta).world.kinds):
        raise ModelFileError(f"{path}: its kinds do not match its config's world; retrain it")
    return meta


def _upgrade(meta: dict, path: Path) -> dict:
    """Read a version-2 file: the same network, trained on the tabletop's world."""
    world = tabletop_world()
    if meta.get('kinds') != list(world.kinds):
        raise ModelFileError(f'{path} was trained on another block vocabulary; retrain it')
    config = dict(meta.get('config', {}))
    # version 2 treated round shapes as symmetry 1 (and did not train the moon's yaw)
    world = replace(world, symmetry=tuple(max(s, 1) for s in world.symmetry))
    config['world'] = asdict(world)
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, config=config)
    meta['state'] = state_spec(config_of(meta))
    meta['capabilities'] = ['objects', 'uncertainty']
    return meta


def config_of(meta: dict) -> WorldModelConfig:
    """Return the config stored in metadata, with a clear error if it does not parse."""
    return family_files.config_of(WorldModelConfig, meta)


def load(model_dir: str | Path, expect_image_size: int | None = None) -> WorldModel:
    """Load a model directory; check version, shapes and (optionally) the image size."""
    model_dir = Path(model_dir)
    meta = read_metadata(model_dir)
    cfg = config_of(meta)
    if expect_image_size is not None and cfg.image_size != expect_image_size:
        raise ModelFileError(f'model in {model_dir} expects {cfg.image_size}x{cfg.image_size} '
                             f'images, the camera gives {expect_image_size}x{expect_image_size}')
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise ModelFileError(f'model weights {weights} do not exist')
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f'model weights {weights} are corrupt: {exc}') from None
    model = WorldModel(cfg)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or wrong:
        detail = missing[:3] or [f'{k}: file {tuple(state[k].shape)} vs config '
                                 f'{tuple(expected[k].shape)}' for k in wrong[:3]]
        raise ModelFileError(f'weights in {weights} do not fit the config in model.json '
                             f'(missing {len(missing)}, wrong shape {len(wrong)}): {detail}')
    model.load_state_dict(state)
    return model.eval()


def load_matching(model: WorldModel, model_dir: str | Path) -> dict:
    """Copy the weights of ``model_dir`` whose names and shapes match into ``model``."""
    path = Path(model_dir) / META
    if not path.is_file():
        raise ModelFileError(f'{path} does not exist: --init-from needs a model directory')
    meta = json.loads(path.read_text())        # any format version: only matching tensors
    state = load_file(str(Path(model_dir) / WEIGHTS))
    own = model.state_dict()
    taken = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(taken, strict=False)
    return {'model': str(model_dir), 'data_hash': meta.get('data_hash'),
            'train': meta.get('train', {}), 'tensors': sorted(taken)}


def data_hash(paths: list[Path]) -> str:
    """Return a short sha256 over the training data files (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
