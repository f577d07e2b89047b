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
Repair a rosbag2 MCAP bag whose recorder was killed (``wm-ros bag recover``).

Like ``ros2 bag reindex``: :func:`recover` reads the MCAP file record by record up to
where it breaks off, drops the torn last record, writes a complete file (summary, chunk
and message indexes) in its place, keeps the damaged one as ``<name>.mcap.broken`` and
rewrites ``metadata.yaml``.
"""

from __future__ import annotations

from pathlib import Path
import shutil
import struct

from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_mcap import decompress
from rosbags.typesys import get_types_from_msg

from wm_ros.sim.bag import typestore
import yaml

MCAP_MAGIC = b'\x89MCAP0\r\n'
_SCHEMA, _CHANNEL, _MESSAGE, _CHUNK, _DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F


def _string(buf: bytes, i: int) -> tuple[bytes, int]:
    """Return the uint32-length-prefixed bytes at ``buf[i:]`` and the offset after them."""
    n = int.from_bytes(buf[i:i + 4], 'little')
    return buf[i + 4:i + 4 + n], i + 4 + n


def _records(buf: bytes):
    """Yield ``(opcode, body)`` of the complete records in ``buf`` (a chunk's records)."""
    i = 0
    while i + 9 <= len(buf):
        op, size = struct.unpack_from('<BQ', buf, i)
        if i + 9 + size > len(buf):
            return
        yield op, buf[i + 9:i + 9 + size]
        i += 9 + size


def _bag_file(path: Path) -> Path:
    """Return the one MCAP file of the bag directory ``path``; errors say what is wrong."""
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    if path.is_file() and path.suffix == '.mcap':
        return path
    files = sorted(path.glob('*.mcap')) if path.is_dir() else []
    if len(files) != 1:
        found = f'{len(files)} ({", ".join(f.name for f in files)})' if files else 'none'
        raise ValueError(f'{path} is not a rosbag2 MCAP bag (.mcap files in it: {found}); '
                         'pass the directory that `wm-ros record --out` or '
                         '`ros2 bag record -s mcap` wrote, or its one .mcap file')
    return files[0]


def _is_complete(mcap: Path) -> bool:
    """Whether ``mcap`` ends with a footer and ``rosbags`` reads every message of its bag."""
    with mcap.open('rb') as f:
        if f.seek(0, 2) < 8 + 37:
            return False
        f.seek(-37, 2)
        tail = f.read()
    if tail[0] != 0x02 or tail[-8:] != MCAP_MAGIC:
        return False
    try:
        with Reader(mcap.parent) as reader:
            for _ in reader.messages():          # every record and chunk reads
                pass
            return True
    except Exception:                            # rosbags raises anything on damaged bytes
        return False


def _old_hashes(bag: Path) -> dict[tuple[str, str], str]:
    """Return ``{(topic, type): type_description_hash}`` from an old ``metadata.yaml``."""
    try:
        info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
        return {(t['topic_metadata']['name'], t['topic_metadata']['type']):
                t['topic_metadata']['type_description_hash']
                for t in info['topics_with_message_count']}
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}


def _type_hash(msgtype: str, msgdef: str) -> str:
    """Return the RIHS01 hash of ``msgtype``: from the Jazzy typestore or its definition."""
    store = typestore()
    if msgtype not in store.fielddefs:
        store.register(get_types_from_msg(msgdef, msgtype))
    return store.hash_rihs01(msgtype)


class _Rewriter:
    """Writes the schemas, channels and messages of a torn MCAP file into a new bag."""

    def __init__(self, writer: Writer, hashes: dict[tuple[str, str], str]):
        self.writer, self.hashes = writer, hashes
        self.schemas: dict[int, tuple[str, str]] = {}
        self.conns: dict[int, object] = {}
        self.counts: dict[str, int] = {}
        self.span = [2**63 - 1, 0]

    def take(self, op: int, body: bytes) -> None:
        """Copy one record (others than schema, channel and message are rebuilt or dropped)."""
        if op == _SCHEMA:
            sid = int.from_bytes(body[:2], 'little')
            name, i = _string(body, 2)
            _, i = _string(body, i)                               # encoding
            self.schemas[sid] = (name.decode(), _string(body, i)[0].decode())
        elif op == _CHANNEL:
            self._channel(body)
        elif op == _MESSAGE:
            cid, _, stamp = struct.unpack_from('<HIQ', body)
            if cid in self.conns:
                self.writer.write(self.conns[cid], stamp, body[22:])
                self.counts[self.conns[cid].topic] += 1
                self.span[:] = min(self.span[0], stamp), max(self.span[1], stamp)

    def _channel(self, body: bytes) -> None:
        """Add a channel as a connection (its type hash from the old metadata if known)."""
        cid, sid = struct.unpack_from('<HH', body)
        topic, i = _string(body, 4)
        encoding, i = _string(body, i)
        meta, _ = _string(body, i)
        pairs, j = {}, 0
        while j < len(meta):
            key, j = _string(meta, j)
            pairs[key.decode()], j = _string(meta, j)
        if cid in self.conns or sid not in self.schemas:
            return
        msgtype, msgdef = self.schemas[sid]
        qos = parse_qos(pairs.get('offered_qos_profiles', b'').decode())
        digest = self.hashes.get((topic.decode(), msgtype)) or _type_hash(msgtype, msgdef)
        self.conns[cid] = self.writer.add_connection(
            topic.decode(), msgtype, msgdef=msgdef, rihs01=digest,
            serialization_format=encoding.decode(), offered_qos_profiles=qos)
        self.counts.setdefault(topic.decode(), 0)


def _read_records(mcap: Path, take) -> tuple[int, int]:
    """
    Pass every complete record of ``mcap`` (chunks unpacked) to ``take``, in file order.

    Returns the offset after the last complete record and the file's size: reading stops
    at a torn record, a damaged chunk or the end of the data section.
    """
    with mcap.open('rb') as f:
        f.seek(8)
        end = f.seek(0, 2)
        f.seek(8)
        good = 8                                  # end of the last complete record
        while (head := f.read(9)) and len(head) == 9:
            op, size = struct.unpack('<BQ', head)
            body = f.read(size) if size <= end - good else b''
            if len(body) < size:
                break                             # torn last record
            if op == _DATA_END:
                return end, end                   # the data section is complete
            if op == _CHUNK:
                start_t, _, raw_size, crc = struct.unpack_from('<QQQI', body)
                compression, i = _string(body, 28)
                n = int.from_bytes(body[i:i + 8], 'little')
                try:
                    raw = decompress(body[i + 8:i + 8 + n], compression.decode(), raw_size, crc)
                except ReaderError:
                    break                         # a damaged chunk: keep what came before
                for rec in _records(raw):
                    take(*rec)
            else:
                take(op, body)
            good = f.tell()
    return good, end


def _swap_in(mcap: Path, rebuilt: Path) -> Path:
    """Keep ``mcap`` as ``<name>.broken[.k]``, move the bag ``rebuilt`` in; return the first."""
    broken = mcap.with_name(mcap.name + '.broken')
    k = 1
    while broken.exists():
        broken, k = mcap.with_name(f'{mcap.name}.broken.{k}'), k + 1
    mcap.replace(broken)
    (rebuilt / mcap.name).replace(mcap)
    (rebuilt / 'metadata.yaml').replace(mcap.parent / 'metadata.yaml')
    return broken


def recover(path: str | Path) -> dict:
    """
    Rebuild the summary and ``metadata.yaml`` of the cut-off MCAP bag ``path``.

    Returns ``{'file', 'broken', 'counts': {topic: n}, 'start_ns', 'end_ns', 'lost_bytes'}``;
    ``broken`` is None (and nothing changes) when the bag was already complete.
    """
    mcap = _bag_file(Path(path))
    bag = mcap.parent
    with mcap.open('rb') as f:
        head = f.read(8)
    if head != MCAP_MAGIC:
        raise ValueError(f'{mcap} is not an MCAP file (it starts with {head!r}); '
                         'nothing was changed')
    if _is_complete(mcap):
        with Reader(bag) as reader:
            counts = {c.topic: c.msgcount for c in reader.connections}
            return {'file': mcap, 'broken': None, 'counts': counts, 'lost_bytes': 0,
                    'start_ns': reader.start_time, 'end_ns': reader.end_time}
    hashes = _old_hashes(bag)
    tmp = bag / '.recover'
    shutil.rmtree(tmp, ignore_errors=True)           # left by an interrupted recovery
    tmp.mkdir()
    writer = Writer(tmp / mcap.stem, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    rewriter = _Rewriter(writer, hashes)
    good, end = _read_records(mcap, rewriter.take)
    writer.close()
    broken = _swap_in(mcap, tmp / mcap.stem)
    shutil.rmtree(tmp)
    counts, span = rewriter.counts, rewriter.span
    return {'file': mcap, 'broken': broken, 'counts': counts, 'lost_bytes': end - good,
            'start_ns': span[0] if sum(counts.values()) else 0, 'end_ns': span[1]}
