"""The temporary folder the preflight probes write their small annotation files to (:func:`probe_folder`), and how
a warning names the error a probe met (:func:`probe_error`).

A probe runs the user's metric class on a small COCO file
(:mod:`~automl_mm.engine.preflight_metric_order`, :mod:`~automl_mm.engine.preflight_recall`,
:mod:`~automl_mm.engine.preflight_label_order`), or the installed lvis-api on a one-image set
(:func:`~automl_mm.engine.preflight_lvis.lvis_eval_error`): both take a path, so the set is written to a file in a
fresh folder of Python's ``tempfile`` (under ``TMPDIR``, ``TEMP`` or ``TMP``, else ``/tmp``, ``/var/tmp``,
``/usr/tmp`` or the current folder, chosen once a process). Where none can be made or written (a missing or
read-only folder, a full disk), :class:`ProbeFolderError` says where and what to set; each probe then says its check
was not done. The folder's name is random (``automl_mm_probe_k3j9x2``): an error that names a file in it names
``automl_mm_probe_*`` instead, so that one cause met by two probes (``val_evaluator`` and ``test_evaluator``) reads
the same and is warned of once.
"""
from __future__ import annotations

import contextlib
import json
import os.path as osp
import re
import tempfile
from collections.abc import Iterator
from typing import Any

#: The start of the name of each probe's temporary folder; the rest is random.
PROBE_PREFIX = 'automl_mm_probe_'
_RANDOM_PART = re.compile(re.escape(PROBE_PREFIX) + r'[^/\\\s\'"]+')


class ProbeFolderError(OSError):
    """No temporary folder could be made or written for a probe: the message names where and says to set
    ``TMPDIR``."""


def _unusable(err: OSError, root: str | None) -> ProbeFolderError:
    """The :class:`ProbeFolderError` of ``err``, met making or writing a folder in ``root`` (``None``: tempfile
    found no usable folder at all)."""
    if root is None:  # (tempfile's own message lists the folders it tried)
        where = f'no temporary folder could be made ({err})'
    else:
        where = f'no temporary folder could be made or written in {root!r} ({err.strerror or err})'
    return ProbeFolderError(f'{where}; set TMPDIR to a writable folder before the process starts (tempfile reads it '
                            'once)')


@contextlib.contextmanager
def probe_folder(files: dict[str, Any]) -> Iterator[str]:
    """A fresh temporary folder holding ``files`` (``{file name: a JSON value}``, each written as JSON), removed
    after (what cannot be removed is left); yields its path.

    Raises:
        ProbeFolderError: where the folder cannot be made or a file in it written (``OSError``: a missing or
            read-only temporary folder, a full disk), naming the folder and ``TMPDIR``. An error of the code run
            inside is not caught.
    """
    root = None
    try:
        root = tempfile.gettempdir()
        folder = tempfile.TemporaryDirectory(prefix=PROBE_PREFIX, ignore_cleanup_errors=True)
    except OSError as err:
        raise _unusable(err, root) from err
    with folder as path:
        try:
            for name, value in files.items():
                with open(osp.join(path, name), 'w') as f:
                    json.dump(value, f)
        except OSError as err:
            raise _unusable(err, root) from err
        yield path


def probe_error(err: BaseException | None) -> str:
    """How a warning names the error a probe met (``"KeyError: 'palette'"``), a file in the probe's folder by the
    folder's fixed start (``'/tmp/automl_mm_probe_*/probe.json'``); ``''`` for none."""
    return '' if err is None else _RANDOM_PART.sub(f'{PROBE_PREFIX}*', f'{type(err).__name__}: {err}')
