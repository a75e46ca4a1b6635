"""A config's ``pretty_text`` formatted once per text, not once per call.

mmengine 0.10.7's ``Config.pretty_text`` writes the config as ``name = value`` lines and formats them with yapf
(``FormatCode(text, style_config=<its pep8-based dict>)``), and calls it afresh every time: ``Runner.__init__``
(``dump_config`` and the ``Config:`` log line), ``RuntimeInfoHook.before_run`` (the message hub's ``cfg``), every
``Runner.save_checkpoint`` (``meta['cfg']``) and :class:`automl_mm.engine.resume_config.ResumeConfigHook` (the run's
config, compared with a checkpoint's). A run of the tiny digits config with 3 epochs, a checkpoint each, formatted
the same text 7 times; yapf was 99 % of each call (digits config 37 ms, one OHL copy's 137 ms, the synthcoco Faster
R-CNN config 205 ms, the unformatted text under 2 ms; 2 busy cores) and 0.94 s of that 3.15 s run.

:func:`memoised_format_code` wraps yapf's ``FormatCode`` as mmengine's config module sees it: a call with a dict
``style_config`` (what mmengine passes) returns the result of the first call with the same text and style, the same
``(formatted text, changed)`` tuple yapf returned (yapf is a pure function of the two); yapf's errors are raised
every time, as before (nothing is cached for them). Any other call (a style name or file, ``lines``,
``print_diff``, an unhashable style value) goes to yapf unchanged. The last :data:`MAX_TEXTS` texts are kept (a
config text is some kilobytes).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

#: How many (text, style) results are kept, least recently used dropped first.
MAX_TEXTS = 32


def memoised_format_code(format_code: Callable[..., tuple[str, bool]]) -> Callable[..., tuple[str, bool]]:
    """``format_code`` (yapf's ``FormatCode``) with its result for ``(text, style_config=<dict>)`` kept (see the
    module docstring); the wrapper's ``memoised`` is ``True`` and ``cache_clear()`` empties it."""

    @functools.lru_cache(maxsize=MAX_TEXTS)
    def formatted(text: str, style: tuple, other: tuple) -> tuple[str, bool]:
        return format_code(text, style_config=dict(style), **dict(other))

    @functools.wraps(format_code)
    def wrapper(unformatted_source: Any, *args: Any, **kwargs: Any) -> tuple[str, bool]:
        style = kwargs.get('style_config')
        other = {k: v for k, v in kwargs.items() if k != 'style_config'}
        if args or not isinstance(unformatted_source, str) or not isinstance(style, dict) or \
                not set(other) <= {'verify'}:
            return format_code(unformatted_source, *args, **kwargs)
        key = (tuple(sorted(style.items())), tuple(sorted(other.items())))
        try:
            hash(key)
        except TypeError:
            return format_code(unformatted_source, *args, **kwargs)
        return formatted(unformatted_source, *key)

    wrapper.memoised = True
    wrapper.cache_clear = formatted.cache_clear
    return wrapper


__all__ = ['MAX_TEXTS', 'memoised_format_code']
