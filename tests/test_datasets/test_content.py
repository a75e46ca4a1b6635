"""The content digests that tell two data sources apart by what they hold (automl_mm/datasets/content.py)."""
from __future__ import annotations

import os
import shutil

from automl_mm.datasets.content import file_digest, same_file_content, same_folder_content


def test_file_digest_reads_a_large_file_by_its_size_head_and_tail_when_limited(tmp_path):
    data = bytearray(os.urandom(200_000))
    path = tmp_path / 'a.jpg'
    path.write_bytes(bytes(data))
    whole, limited = file_digest(str(path)), file_digest(str(path), limit=1 << 16)
    data[100_000] ^= 1  # the middle: not read under the limit
    path.write_bytes(bytes(data))
    assert file_digest(str(path), limit=1 << 16) == limited and file_digest(str(path)) != whole
    data[-1] ^= 1  # the tail: read
    path.write_bytes(bytes(data))
    assert file_digest(str(path), limit=1 << 16) != limited
    assert file_digest(str(tmp_path / 'missing')) is None


def test_a_copy_is_the_same_content_and_other_bytes_of_one_size_are_not(tmp_path):
    (tmp_path / 'a').mkdir()
    (tmp_path / 'a' / '1.png').write_bytes(b'one image')
    (tmp_path / 'a' / 'empty.png').write_bytes(b'')
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / '1.png').write_bytes(b'two image')  # the same name and size, other bytes
    (tmp_path / 'c' / 'empty.png').write_bytes(b'')  # placeholders are not compared
    assert same_file_content(str(tmp_path / 'a' / '1.png'), str(tmp_path / 'b' / '1.png'))
    assert not same_file_content(str(tmp_path / 'a' / '1.png'), str(tmp_path / 'c' / '1.png'))
    assert same_folder_content(str(tmp_path / 'a'), str(tmp_path / 'b'))
    assert not same_folder_content(str(tmp_path / 'a'), str(tmp_path / 'c'))
