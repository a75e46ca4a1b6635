"""The PNG plots of an OHL run's report (:class:`~automl_mm.ohl.report.OHLReport`): per-space distribution
heatmaps (first / second operation over trunks, the final pair heatmap, entropy) and the curves of any numbers a
space's distribution summarises."""
from __future__ import annotations

import numbers
from typing import Any

from automl_mm.utils.io import savefig_atomic


def _element_names(space: Any, num_choices: int) -> list[str] | None:
    """Names of the E elements when the K = E * E choices are ordered pairs (OHL-Auto-Aug), else None."""
    labels = getattr(space, 'element_labels', None)
    if callable(labels):  # PipelineChoiceSpace: an element whose magnitude a space searched is named so
        labels = labels()
        return labels if labels is not None and len(labels) ** 2 == num_choices else None
    transforms = getattr(space, 'transforms', None) or []
    elements = getattr(transforms[0], 'elements', None) if transforms else None
    if elements is not None and len(elements) ** 2 == num_choices:
        return [getattr(e, 'name', str(e)) for e in elements]
    return None


def _plot_categorical(path: str, space: Any, history: list[dict], trunks, probs) -> None:
    """One PNG per space: marginal probabilities of the first and second element over trunks (heatmaps trunk x
    element), the final pair heatmap (E x E) and the entropy over trunks; a plain choice space gets one heatmap
    trunk x choice instead of the two marginals and the pair map."""
    import matplotlib.pyplot as plt
    import numpy as np

    num_choices = probs.shape[1]
    names = _element_names(space, num_choices)
    entropies = [h['distributions'][space.name].get('entropy') for h in history]
    hist_trunks = [h['trunk'] for h in history]
    if names is not None:
        num = len(names)
        pairs = probs.reshape(len(probs), num, num)
        fig = plt.figure(figsize=(20, 12), layout='constrained')
        grid = fig.add_gridspec(2, 3, height_ratios=(3, 1), width_ratios=(1, 1, 2.1))
        label_size = 7 if num > 20 else 9
        marginals = ((pairs.sum(2), 'first operation'), (pairs.sum(1), 'second operation'))
        for col, (marginal, title) in enumerate(marginals):
            ax = fig.add_subplot(grid[0, col])
            image = ax.imshow(marginal.T * num, aspect='auto', cmap='RdBu_r', norm=_ratio_norm(marginal * num),
                              interpolation='nearest', extent=_extent(trunks, num))
            ax.set_yticks(range(num), names, fontsize=label_size)
            ax.set(xlabel='trunk', title=f'p({title}) / uniform')
            _trunk_ticks(ax)
            _colorbar(fig, image, ax, 'probability x number of elements (1 = uniform)')
        ax = fig.add_subplot(grid[:, 2])
        image = ax.imshow(pairs[-1] * num_choices, cmap='RdBu_r', norm=_ratio_norm(pairs[-1] * num_choices),
                          interpolation='nearest')
        ax.set_xticks(range(num), names, fontsize=label_size - 1, rotation=90)
        ax.set_yticks(range(num), names, fontsize=label_size - 1)
        # the axis names go into the title: a y label left of the long element names sat beside the middle
        # panel's colour bar and read as its label
        ax.set_title(f'pair probabilities / uniform after trunk {int(trunks[-1])}\n'
                     '(row: first operation, column: second operation)')
        _colorbar(fig, image, ax, f'probability x {num_choices} (1 = uniform)', shrink=0.7)
        ax = fig.add_subplot(grid[1, :2])
    else:
        fig = plt.figure(figsize=(10, 8), layout='constrained')
        grid = fig.add_gridspec(2, 1, height_ratios=(3, 1))
        ax = fig.add_subplot(grid[0])
        dist = space.distribution
        named = getattr(dist, 'labels', None) is not None or getattr(dist, 'choice_names', None) is not None
        # one label per flat choice (a FactorisedCategorical's labels are one list per factor)
        labels = [choice_label(dist._label(i)) for i in range(num_choices)] if named and hasattr(dist, '_label') \
            else [str(i) for i in range(num_choices)]  # a tick per choice, not a continuous axis
        image = ax.imshow(probs.T * num_choices, aspect='auto', cmap='RdBu_r', norm=_ratio_norm(probs * num_choices),
                          interpolation='nearest', extent=_extent(trunks, num_choices))
        if num_choices <= 60:
            ax.set_yticks(range(num_choices), labels, fontsize=7)
        ax.set(xlabel='trunk', ylabel='choice', title=f'{space.name}: p(choice) / uniform')
        _trunk_ticks(ax)
        _colorbar(fig, image, ax, f'probability x {num_choices} (1 = uniform)')
        ax = fig.add_subplot(grid[1])
    ax.plot(hist_trunks, entropies, marker='.', label='entropy')
    ax.axhline(float(np.log(num_choices)), color='grey', ls='--', label=f'uniform: ln {num_choices}')
    ax.margins(y=0.2)  # the uniform line is the top of the data: keep it off the frame
    ax.set(xlabel='trunk', ylabel='entropy (nats)', title='entropy of the distribution')
    _trunk_ticks(ax)
    ax.legend(fontsize='small', loc='lower left')
    fig.suptitle(f'OHL distribution: {space.name}')
    savefig_atomic(fig, path, dpi=90)
    plt.close(fig)


def _ratio_norm(ratios):
    """A colour scale centred on 1 (uniform), symmetric in log: blue below uniform, red above."""
    import matplotlib.colors as mcolors
    import numpy as np

    ratios = np.asarray(ratios, np.float64)
    spread = float(np.nanmax(np.abs(np.log(np.clip(ratios, 1e-12, None))))) if ratios.size else 0.0
    spread = max(spread, 0.05)
    return mcolors.LogNorm(vmin=np.exp(-spread), vmax=np.exp(spread))


def _colorbar(fig: Any, image: Any, ax: Any, label: str, shrink: float = 0.6) -> None:
    """A colour bar for a :func:`_ratio_norm` image, ticked at powers of two in plain numbers."""
    import matplotlib.ticker as mticker
    import numpy as np

    bar = fig.colorbar(image, ax=ax, shrink=shrink, label=label)
    low, high = image.norm.vmin, image.norm.vmax
    ticks = [2.0 ** k for k in range(int(np.floor(np.log2(low))), int(np.ceil(np.log2(high))) + 1)
             if low <= 2.0 ** k <= high]
    if len(ticks) < 3:
        ticks = sorted({round(low, 2), 1.0, round(high, 2)})
    bar.set_ticks(ticks)
    bar.ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f'{v:g}'))
    bar.ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def _extent(trunks, rows: int) -> tuple[float, float, float, float]:
    """imshow extent so that column k sits on trunk k and row r on the tick r (elements top to bottom)."""
    first, last = float(trunks[0]), float(trunks[-1])
    return (first - 0.5, last + 0.5, rows - 0.5, -0.5)


def _plot_series(path: str, name: str, trunks: list[int], series: dict[str, list[float]],
                 dim_names: list[str] | None = None) -> None:
    """Line plot of a distribution's summary curves, legend outside: a Gaussian's means and stds in two panels
    (``mean[d]`` and ``std[d]`` curves), any other summary in one.

    Every curve of a panel gets its own colour and line style (:func:`_curve_styles`): with matplotlib's cycle of
    10 colours, AM-LFS's 14 means and 14 stds drew ``mean[0]``, ``mean[5]`` and ``mean[10]`` in one blue, and the
    reader could not tell which line the legend meant. Curves of one panel that are equal at every trunk (a fixed
    σ, the same for every dimension) are drawn once, labelled with all their names (``std[0..13]``).
    ``dim_names`` (one per dimension, from the space's ``dimension_names()``, e.g. AM-LFS's ``s_t[0]``,
    ``c_t``, ...) are added to the labels of ``mean[d]`` / ``std[d]``.
    """
    import matplotlib.pyplot as plt

    panels = _panels(series, dim_names)
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(9, 2.5 + 2.8 * max(len(panels), 1)),
                             layout='constrained', sharex=True, squeeze=False)
    for ax, (title, curves) in zip(axes[:, 0], panels):
        for (label, values), style in zip(curves.items(), _curve_styles(len(curves))):
            ax.plot(trunks, values, label=label, **style)
        ax.set(title=title)
        if curves:
            ax.legend(fontsize='small', ncol=1 + (len(curves) - 1) // 16, loc='upper left',
                      bbox_to_anchor=(1.01, 1.0))
    axes[-1, 0].set(xlabel='trunk (θ after its update)')
    fig.suptitle(f'OHL distribution: {name}')
    _trunk_ticks(axes[-1, 0])
    savefig_atomic(fig, path, dpi=100)
    plt.close(fig)


def _dimension_names(space: Any) -> list[str] | None:
    """The names of a Gaussian space's dimensions, from its optional ``dimension_names()`` (AM-LFS's
    :class:`~automl_mm.losses.space.LossFunctionSpace`: ``s_t[0]``, ..., ``c_t``, ...), else None (indices only);
    a method that fails or returns no list of strings is ignored: a figure never stops a run."""
    method = getattr(space, 'dimension_names', None)
    try:
        names = method() if callable(method) else None
    except Exception:  # noqa: BLE001  (a space of one's own: its plot keeps the indices)
        return None
    return list(names) if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names) else None


def _panels(series: dict[str, list[float]], dim_names: list[str] | None) -> list[tuple[str, dict[str, list[float]]]]:
    """``(title, curves)`` per panel: ``mean[d]`` curves, then ``std[d]`` curves, when both kinds are there (an
    automl_mm Gaussian's summary), else every curve in one panel; equal curves of a panel merged into one."""
    def named(label: str) -> str:
        head, _, rest = label.partition('[')
        if dim_names and head in ('mean', 'std') and rest[:-1].isdigit() and int(rest[:-1]) < len(dim_names):
            return f'{label} {dim_names[int(rest[:-1])]}'
        return label

    groups = {'mean': {}, 'std': {}}
    for label, values in series.items():
        head = label.partition('[')[0]
        (groups[head] if head in groups else groups.setdefault('', {}))[label] = values
    if not groups['mean'] or not groups['std'] or '' in groups:
        return [('', _merge_equal(series, named))]
    return [('mean μ', _merge_equal(groups['mean'], named)), ('std σ', _merge_equal(groups['std'], named))]


def _merge_equal(curves: dict[str, list[float]], named) -> dict[str, list[float]]:
    """Curves equal at every trunk drawn once: their labels joined (``std[0..13]`` for consecutive indices of one
    name, else the labels with commas)."""
    import numpy as np

    merged: dict[tuple, list[str]] = {}
    for label, values in curves.items():
        merged.setdefault(tuple(np.asarray(values, dtype=float).round(12).tolist()), []).append(label)
    out = {}
    for labels in merged.values():
        values = curves[labels[0]]
        if len(labels) == 1:
            out[named(labels[0])] = values
            continue
        heads = {label.partition('[')[0] for label in labels}
        indices = [label.partition('[')[2][:-1] for label in labels]
        if len(heads) == 1 and all(i.isdigit() for i in indices) and \
                [int(i) for i in indices] == list(range(int(indices[0]), int(indices[0]) + len(indices))):
            out[f'{heads.pop()}[{indices[0]}..{indices[-1]}] (equal)'] = values
        else:
            out[', '.join(labels) + ' (equal)'] = values
    return out


def _curve_styles(count: int) -> list[dict]:
    """``count`` distinct ``(color, linestyle)`` pairs: matplotlib's 10 colours, then the same 10 dashed, dotted
    and dash-dotted (40), then with other markers (no two curves of a panel alike up to 160)."""
    import matplotlib.pyplot as plt

    colors = plt.rcParams['axes.prop_cycle'].by_key().get('color') or ['C0']
    linestyles = ['-', '--', ':', '-.']
    markers = ['.', 'x', '+', '^']
    styles = []
    for i in range(count):
        k, color = divmod(i, len(colors))
        style, marker = k % len(linestyles), (k // len(linestyles)) % len(markers)
        styles.append(dict(color=colors[color], linestyle=linestyles[style], marker=markers[marker]))
    return styles


def _trunk_ticks(ax: Any) -> None:
    """Whole trunks on the x axis (a 3-trunk run was ticked at 0.25, 0.5, ...)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def choice_label(choice: Any) -> str:
    """A choice as plot text: a factorised choice (a list of per-factor labels) reads ``'a + b'``."""
    return ' + '.join(map(str, choice)) if isinstance(choice, (list, tuple)) else str(choice)


def _series(history: list[dict], name: str) -> dict[str, list[float]]:
    """Curves to plot: probabilities of every choice that was ever in the top list, or means and stds (the
    summaries of automl_mm's distributions); for any other summary (a distribution of one's own), every number in
    it (``mu``, ``sigma``, ``alpha[0]``, ... at most :data:`_MAX_CURVES`), else θ from the history. Before, such a
    summary drew an empty figure, and one whose ``mean`` was a number stopped the run at the trunk end."""
    summaries = [h['distributions'][name] for h in history]
    try:
        curves = _known_series(summaries)
    except (KeyError, TypeError, IndexError):  # a summary of one's own that reuses a key in another form
        curves = {}
    if not curves:
        rows = [_numbers(s) for s in summaries]
        curves = _curves(rows)
    if not curves:
        rows = [_numbers(h.get('theta', {}).get(name), 'θ') for h in history]
        curves = _curves(rows)
    return curves


#: The most curves drawn from a summary (or θ) of a distribution of one's own.
_MAX_CURVES = 32


def _known_series(summaries: list[dict]) -> dict[str, list[float]]:
    curves: dict[str, list[float]] = {}
    if 'top' in summaries[0]:
        labels = {choice_label(t['choice']) for s in summaries for t in s['top']}
        for label in sorted(labels):
            curves[f'p({label})'] = [next((t['prob'] for t in s['top'] if choice_label(t['choice']) == label),
                                          float('nan')) for s in summaries]
    elif 'mean' in summaries[0]:
        for d in range(len(summaries[0]['mean'])):
            curves[f'mean[{d}]'] = [s['mean'][d] for s in summaries]
            curves[f'std[{d}]'] = [s['std'][d] for s in summaries]
    elif 'components' in summaries[0]:
        for comp in summaries[0]['components']:
            sub = [{'distributions': {comp: s['components'][comp]}} for s in summaries]
            curves.update({f'{comp}:{k}': v for k, v in _series(sub, comp).items()})
    return curves


def _numbers(value: Any, prefix: str = '') -> dict[str, float]:
    """Every real number in ``value`` (nested dicts and lists), keyed by its path (``'sigma'``, ``'θ[0][1]'``)."""
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, numbers.Real):
        return {prefix: float(value)}
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_numbers(item, f'{prefix}.{key}' if prefix else str(key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            out.update(_numbers(item, f'{prefix}[{i}]'))
    return out


def _curves(rows: list[dict[str, float]]) -> dict[str, list[float]]:
    """One curve per key of ``rows`` (one dict per trunk; NaN where a trunk lacks it), the first
    :data:`_MAX_CURVES`."""
    keys = list(dict.fromkeys(k for row in rows for k in row))[:_MAX_CURVES]
    return {k: [row.get(k, float('nan')) for row in rows] for k in keys}
