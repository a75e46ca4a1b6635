"""Small file helpers shared by tools and loops."""
from __future__ import annotations

import json
import os
import os.path as osp
import tempfile


def dump_json_atomic(obj, path: str, **json_kwargs) -> None:
    """Write ``obj`` as JSON to a temporary file in the same folder, then rename: readers never see half a file.

    The folder is created if missing; on any error the temporary file is removed and ``path`` is left as it was.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, **json_kwargs)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
