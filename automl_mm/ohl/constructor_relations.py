"""Relations between two settings that a class checks only in its constructor, held after every trunk's writes.

A write-time range (:mod:`automl_mm.ohl.constructor_ranges`) sees one value; a constructor also compares two
settings (mmdet's ``Brightness`` asserts ``min_mag <= max_mag``). Two spaces (or a space and a replay hook) writing
the two sides could leave the pair broken, and a check at each write would refuse or pass it by the order of the
writes. So a relation is held on what the object holds once every write of a trunk (or of one replayed step) is
done, before anything trains on it (:func:`check_relations`), on every trunk's schedule before the first write
(``TrunkScheduleHook``, ``SetAttributesHook``: :func:`check_written_relations`, which overlays the values without
writing), and on every combination of the spaces' choices before the first trunk (:func:`check_choice_relations`;
a Gaussian on a side of a relation is tried there at both ends of its transform's image, and refused where one
breaks it: an order's low side or a sum, unbounded above, always; ``exp`` on a high side above a low side of 0,
never).

:data:`CONSTRUCTOR_RELATIONS`, found by an AST scan of the ``assert`` / ``raise`` tests in the ``__init__`` of
mmengine 0.10, mmdet 3.3, mmcv 2.1 and automl_mm that compare two arguments (or two elements of one), kept where the
settings are read while training (a neck's ``num_outs`` / ``start_level`` are build-only):

* mmdet's AutoAugment ops (``ColorTransform``, ``GeomTransform``): ``min_mag <= max_mag``; above it every magnitude
  ``level / 10 * (max_mag - min_mag) + min_mag`` is inverted, silently (without a level, drawn from the swapped
  pair's interval).
* mmdet ``RandomCrop`` under ``crop_type='absolute_range'``: ``crop_size[0] <= crop_size[1]`` (``np.random.randint``
  raises mid-run); ``CutOut.n_holes[0] <= n_holes[1]`` and ``RandomErasing.n_patches[0] <= n_patches[1]`` (an int
  is held as ``(n, n)``, so ``<=``: ``randint(low, high + 1)`` raises below it), ``RandomErasing.ratio[0] <=
  ratio[1]``; ``RandomAffine.scaling_ratio_range[0] <= [1]``.
* mmcv ``RandomFlip``: a list ``prob`` sums to at most 1 (``np.random.choice`` raises mid-run); ``RandomResize``'s
  ``ratio_range[0] <= [1]`` (asserted at the first image, where its ``scale`` is one ``(w, h)``).
* mmcv ``RandomChoice`` (mmdet's ``AutoAugment`` / ``RandAugment``): a list ``prob`` sums to 1 (asserted exactly
  when built; held to ``np.random.choice``'s tolerance, which draws with it at every image and raises off it); mmcv
  ``Pad``: exactly one of ``size`` / ``size_divisor`` set, and ``size`` None under ``pad_to_square`` (``size`` is
  read only where the others are unset: a write beside them changed nothing).
* mmcv ``Resize`` (mmdet's too): ``scale`` or ``scale_factor`` set, and a written ``scale_factor`` only where
  ``scale`` is None (read only without one: beside it the write changed nothing).
* mmengine parameter schedulers: ``begin < end``; the cosine ones: ``eta_min`` / ``eta_min_ratio`` not both set
  (``eta_min`` is read only without a ratio: written beside one it changed nothing; both constructors assert it),
  and not both None (the next step stopped the run on None: ``CosineRestart*`` asserts it, while
  ``CosineAnnealing*``'s constructor turns both None into ``eta_min=0``, which a later write of None skips).
* mmdet ``GHMC`` / ``GHMR``: ``momentum`` 0 where built with 0 (no ``acc_sum`` buffer: a momentum written then
  stopped the run at the next forward).
* mmengine ``EMAHook``: ``begin_epoch`` 0 where it was built with 0, ``begin_iter`` 0 where it was built with a
  ``begin_epoch`` (``enabled_by_epoch`` is set once, when built: a write of the one it does not compare changed
  nothing; both non-zero, its constructor's assert, is one of these).
* automl_mm ``RandomResizedCrop``: ``crop_ratio_range[0] <= [1]`` (its ``scale`` is one int; its
  ``aspect_ratio_range`` is refused as read only at ``__init__``).

Relations with the run's length (``Relation.run``: ``train_cfg``'s ``max_epochs`` / ``max_iters`` at the start-up
check, the runner's train loop at each trunk start), a setting the run then never reaches, silently:

* mmengine ``EMAHook``: ``begin_epoch <= max_epochs`` (built by epoch), else ``begin_iter <= max_iters``
  (``_ema_started``: ``epoch + 1 >= begin_epoch``; mmengine asserts both in ``before_train`` only, before any write):
  past them the EMA never starts and the run validates and saves as without one.
* mmengine parameter schedulers: ``begin < max_epochs`` by epoch, ``begin < max_iters`` by iteration (``step``
  sets a value only at ``begin <= step < end``): past it the scheduler never sets a value.
* mmdet ``PipelineSwitchHook``: ``switch_epoch < max_epochs`` (it switches before epoch ``switch_epoch``);
  ``MeanTeacherHook`` / ``CheckInvalidLossHook``: ``interval <= max_iters`` (``(iter + 1) % interval``: the teacher
  never updated, the loss never checked).
* mmengine ``ProfilerHook`` by iteration: ``profile_times <= max_iters`` (it stops profiling after iteration
  ``profile_times - 1``; mmengine raises in ``before_run`` past it).
* mmengine ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop`` (``train_loop.val_begin``): ``val_begin <= max_epochs`` /
  ``max_iters`` (it validates after epoch ``n >= val_begin``): past it the run never validates.

The config's own values are held to these at the start-up check too
(:func:`~automl_mm.engine.preflight_ohl_build.check_own_lengths`, through :func:`own_length_problems`): refused where
the class refuses them once training starts (``Relation.start_refused``: ``EMAHook``, ``ProfilerHook``; mmengine's
``NPUProfilerHook``, whose ``end`` past ``max_iters`` its ``before_run`` refuses, needs ``torch_npu`` to be built),
else warned of.

Left out: mmdet ``CutOut``'s ``cutout_ratio`` / ``cutout_shape`` (held as ``candidates``, each (w, h) pair free),
mmcv ``RandomFlip``'s ``len(prob) == len(direction)`` (a list of another length is refused by the shape check).
Of the settings past the run's length, those the run does not ignore: a ``LoggerHook`` ``interval`` above an epoch's
iterations (it logs at each epoch's end anyway), a ``CheckpointHook`` ``interval`` or
``save_begin`` past the run (``save_last`` saves the last one), a loop's ``val_interval`` (it validates at the last
epoch anyway), a scheduler's ``end`` (``inf`` is its default), a ``YOLOXModeSwitchHook`` ``num_last_epochs`` above
``max_epochs`` (it switches at the first epoch); and those counted against another length than the run's: a
``MemoryProfilerHook`` ``interval`` (iterations within an epoch), a ``DetVisualizationHook`` ``interval`` (validation
images), an ``EarlyStoppingHook`` ``patience`` (validations, which ``val_begin`` / ``val_interval`` /
``dynamic_intervals`` count: a patience above them never stops the run, as a long patience does).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

from .attribute_paths import SEQUENCES, path_chains
from .element_paths import replaced


class Relation(NamedTuple):
    """``test`` of the values of ``settings`` (an attribute, or ``attribute.<index>``) of one object, written as
    ``text``; held where ``when(owner)`` (always, without it), ``owner`` read with the values overlaid. ``reads``:
    the attributes ``when`` reads outside ``settings`` (a write of one of them makes the relation apply to what the
    object holds: ``crop_type='absolute_range'`` written beside a held relative ``crop_size`` of (0.5, 0.3)).
    ``consequence``: what a run holding the broken pair would do (a clause of the refusal). ``constructor``: whether
    the class's constructor refuses the pair (named in the refusal only then: mmcv's ``RandomResize`` asserts its
    ``ratio_range`` only when it draws, its ``Resize`` takes a ``scale_factor`` beside a ``scale``). ``run``: the
    run's lengths the test also takes, after the settings (``'max_epochs'``, ``'max_iters'``: :func:`run_length`, the
    runner's train loop at a trunk start, ``train_cfg`` at the start-up check); where one is not known (a stand-in
    runner without it) the relation is not held. ``start_refused``: where a config's own value breaking a ``run``
    relation is refused by the class itself once training starts (``EMAHook.before_train`` asserts its
    ``begin_epoch <= max_epochs``), who does it (:func:`own_length_problems`: the start-up check refuses those and
    warns of the others, which the run ignores silently); ``start_stage``: the hook stage it does it in
    (``'before_train'``, ``'before_run'``): a hook's write lands before that check only where it writes in that stage
    before the class's hook runs."""

    settings: tuple[str, ...]
    test: Callable[..., bool]
    text: str
    when: Callable[[Any], bool] | None = None
    reads: tuple[str, ...] = ()
    consequence: str = ''
    constructor: bool = True
    run: tuple[str, ...] = ()
    start_refused: str = ''
    start_stage: str = ''


def _applies(relation: Relation, held: Mapping[str, Any] | Sequence[str]) -> bool:
    """Whether writes of the attributes ``held`` reach ``relation``: a setting of it, or an attribute its ``when``
    reads."""
    return any(setting.split('.')[0] in held for setting in relation.settings) or \
        any(name in held for name in relation.reads)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ordered(strict: bool = False) -> Callable[[Any, Any], bool]:
    def test(low: Any, high: Any) -> bool:
        if not (_number(low) and _number(high)):
            return True  # not a pair of numbers: not this table's to judge
        return low < high if strict else low <= high
    return test


def _sums_to_one(prob: Any) -> bool:
    if not isinstance(prob, (list, tuple)) or not all(_number(p) for p in prob):
        return True
    return sum(prob) <= 1


#: ``np.random.choice``'s own tolerance on ``sum(p) == 1`` (``sqrt`` of float64's eps): mmcv's ``RandomChoice``
#: asserts ``sum(prob) == 1`` exactly when built, but draws with ``np.random.choice(p=prob)`` at every image, which
#: takes ``[0.1, 0.2, 0.7]`` (summing to 1.0000000000000002): a written pair it takes is not refused.
_CHOICE_ATOL = 1.4901161193847656e-08


def _sums_exactly_to_one(prob: Any) -> bool:
    if not isinstance(prob, (list, tuple)) or not all(_number(p) for p in prob):
        return True
    return abs(sum(prob) - 1) <= _CHOICE_ATOL


def _exactly_one_set(first: Any, second: Any) -> bool:
    return (first is None) != (second is None)


def _zero(value: Any) -> bool:
    return not _number(value) or value == 0


def _pair(name: str, consequence: str, when: Callable[[Any], bool] | None = None, reads: tuple[str, ...] = (),
          constructor: bool = True) -> Relation:
    return Relation((f'{name}.0', f'{name}.1'), _ordered(), f'{name}[0] <= {name}[1]', when, reads, consequence,
                    constructor)


#: a pair drawn from with ``np.random.randint(low, high + 1)``
_RANDINT = 'np.random.randint raises on the inverted pair at the next image, stopping the run'
#: a pair drawn from with ``random.uniform`` / ``np.random.uniform`` (or ``low + random() * (high - low)``), which
#: take an inverted pair as the same interval
_SWAPPED = ('the run would draw as from the swapped pair, silently, while the history and the exported policy hold '
            'the inverted one, which the constructor refuses when the exported config is built')
#: mmdet's ``level_to_mag``: ``level / 10 * (max_mag - min_mag) + min_mag`` with a level, ``rand() * (max_mag -
#: min_mag) + min_mag`` without one (``level=None``, the ops' default), which takes the swapped pair's interval
_MAGS = Relation(('min_mag', 'max_mag'), _ordered(), 'min_mag <= max_mag',
                 consequence='every magnitude, level / 10 * (max_mag - min_mag) + min_mag, would be inverted, silently '
                             '(the highest level the weakest); without a level (level=None) drawn as from the swapped '
                             'pair, silently')
#: the cosine schedulers read ``eta_min`` only where ``eta_min_ratio`` is None: a written ``eta_min`` beside a ratio
#: changed nothing, and ``eta_min=None`` without one stopped the run at its next step (``None`` in arithmetic).
#: ``CosineRestartParamScheduler`` asserts exactly one set; ``CosineAnnealingParamScheduler`` asserts only "not both
#: set" and, given both None, sets ``eta_min = 0.`` itself (annealing to 0): a write of None skips that default
_ETA = Relation(('eta_min', 'eta_min_ratio'), _exactly_one_set,
                'exactly one of eta_min and eta_min_ratio set (the other None)',
                consequence='an eta_min written beside a ratio would change nothing (the ratio is read), and both None '
                            'would stop the run at the next scheduler step (None in arithmetic)')
_ETA_NOT_BOTH = Relation(('eta_min', 'eta_min_ratio'), lambda eta, ratio: eta is None or ratio is None,
                         'not both of eta_min and eta_min_ratio set',
                         consequence='the written eta_min would change nothing (the ratio is read)')
_ETA_NOT_NEITHER = Relation(('eta_min', 'eta_min_ratio'), lambda eta, ratio: eta is not None or ratio is not None,
                            'eta_min or eta_min_ratio set (not both None)',
                            consequence='the next scheduler step would stop the run (None in arithmetic): given both '
                                        'None its constructor anneals to eta_min=0, which a write of None after it '
                                        'does not do (write eta_min=0.0 for that)',
                            constructor=False)


def _within(strict: bool) -> Callable[[Any, Any], bool]:
    """``value < length`` (``strict``) or ``value <= length``; true where either is not a number (not judged)."""
    def test(value: Any, length: Any) -> bool:
        if not (_number(value) and _number(length)):
            return True
        return value < length if strict else value <= length
    return test


def _by_epoch(owner: Any) -> bool:
    return bool(getattr(owner, 'by_epoch', False))


#: who refuses an ``EMAHook``'s own ``begin_epoch`` / ``begin_iter`` past the run (``Relation.start_refused``)
_EMA_ASSERTS = "mmengine's EMAHook asserts it in before_train, after the datasets and the model are built"

#: who refuses a ``ProfilerHook``'s own ``profile_times`` past the run (``Relation.start_refused``)
_PROFILER_RAISES = ("mmengine's ProfilerHook raises ValueError in before_run, after the datasets and the model are "
                    'built')

#: the end of the consequence of a setting past the run's length (where mmengine checks one, as ``EMAHook`` does,
#: it is in ``before_train``, before any write)
_NEVER = ' (the run ends first), silently'

#: ``{'<package>.<class>': relations}`` (module docstring); every class of the owner's MRO with an entry adds its own.
CONSTRUCTOR_RELATIONS: dict[str, tuple[Relation, ...]] = {
    'mmdet.ColorTransform': (_MAGS,),
    'mmdet.GeomTransform': (_MAGS,),
    # (it draws randint(min(h, crop_size[0]), min(h, crop_size[1]) + 1): an image no larger than crop_size[1] passes)
    'mmdet.RandomCrop': (_pair('crop_size', 'np.random.randint raises on the inverted pair at the next image larger '
                               'than crop_size[1], stopping the run',
                               when=lambda owner: getattr(owner, 'crop_type', None) == 'absolute_range',
                               reads=('crop_type',)),),
    'mmdet.CutOut': (_pair('n_holes', _RANDINT),),
    'mmdet.RandomErasing': (_pair('n_patches', _RANDINT), _pair('ratio', _SWAPPED)),
    'mmdet.RandomAffine': (_pair('scaling_ratio_range', _SWAPPED),),
    'mmcv.RandomFlip': (Relation(('prob',), _sums_to_one, 'sum(prob) <= 1 (one probability per direction)',
                                 consequence='np.random.choice raises on it at the next image, stopping the run'),),
    # (a list of scales draws one of them and reads no ratio_range)
    'mmcv.RandomResize': (_pair('ratio_range', 'mmcv asserts the pair when it draws a ratio (a scale of one (w, h)), '
                                'at the next image, stopping the run',
                                when=lambda owner: getattr(owner, 'ratio_range', None) is not None,
                                constructor=False),),
    'mmcv.RandomChoice': (Relation(('prob',), _sums_exactly_to_one,  # mmdet's AutoAugment / RandAugment too
                                   'sum(prob) == 1 (one probability per sub-pipeline)',
                                   consequence='np.random.choice raises on it (off its tolerance) at the next image, '
                                               'stopping the run'),),
    'mmcv.Pad': (Relation(('size', 'size_divisor'), _exactly_one_set,
                          'exactly one of size and size_divisor set (the other None)',
                          lambda owner: not getattr(owner, 'pad_to_square', False), ('pad_to_square',),
                          'a size written beside a size_divisor would change nothing (the divisor is read first), '
                          'and both None would stop the run at the next image'),
                 Relation(('pad_to_square', 'size'), lambda square, size: not (square and size is not None),
                          'size None under pad_to_square=True',
                          consequence='the size would replace the square, silently (mmcv pads to a set size over '
                                      'pad_to_square)')),
    # mmcv's Resize (mmdet's too) asserts one of scale / scale_factor set, and reads scale_factor only where scale is
    # unset (``if self.scale``): both None stopped the run at the next image, a scale_factor beside a scale (a Resize
    # inside RandomResize holds one) changed nothing
    'mmcv.Resize': (Relation(('scale', 'scale_factor'), lambda scale, factor: scale is not None or factor is not None,
                             'scale or scale_factor set (not both None)',
                             consequence='the next image would stop the run (neither size to resize to)'),
                    Relation(('scale_factor',), lambda factor: factor is None,
                             'scale_factor None where scale is set (read only without a scale)',
                             lambda owner: getattr(owner, 'scale', None) is not None,
                             consequence='the written scale_factor would change nothing', constructor=False)),
    # a begin at or past the run's last step (epochs by_epoch, else iterations; _ParamScheduler.step sets a value at
    # begin <= step < end, the value of step k trained on in epoch / iteration k) never steps
    'mmengine._ParamScheduler': (Relation(('begin', 'end'), _ordered(strict=True), 'begin < end',
                                          consequence='the scheduler would never step again (it steps only at '
                                                      'begin <= step < end), silently'),
                                 Relation(('begin',), _within(strict=True), 'begin < max_epochs (a scheduler by epoch)',
                                          _by_epoch, ('by_epoch',), 'the scheduler would never set a value (it '
                                          'steps from epoch begin on; the run ends first), silently', False,
                                          ('max_epochs',)),
                                 Relation(('begin',), _within(strict=True),
                                          'begin < max_iters (a scheduler by iteration)',
                                          lambda owner: not _by_epoch(owner), ('by_epoch',),
                                          'the scheduler would never set a value (it steps from iteration begin on; '
                                          'the run ends first), silently', False, ('max_iters',))),
    'mmengine.CosineAnnealingParamScheduler': (_ETA_NOT_BOTH, _ETA_NOT_NEITHER),
    'mmengine.CosineRestartParamScheduler': (_ETA,),
    'automl_mm.RandomResizedCrop': (_pair('crop_ratio_range', _SWAPPED),),
    # mmdet's GHMC / GHMR register their acc_sum buffer only when built with momentum > 0; forward reads it wherever
    # momentum > 0: a momentum written over the built 0 stopped the run at the next forward (AttributeError)
    **{f'mmdet.{name}': (Relation(('momentum',), _zero,
                                  'momentum 0 where the loss was built with momentum=0 (it has no acc_sum buffer: '
                                  'the next forward raises AttributeError; build it with a momentum > 0)',
                                  lambda owner: 'acc_sum' not in getattr(owner, '_buffers', {}),
                                  consequence='the next forward would stop the run (AttributeError: no acc_sum)',
                                  constructor=False),)
       for name in ('GHMC', 'GHMR')},
    # mmengine's EMAHook asserts one of begin_iter / begin_epoch 0, and sets enabled_by_epoch = begin_epoch > 0 once,
    # when built; _ema_started then compares the epoch with begin_epoch only where enabled_by_epoch, else the
    # iteration with begin_iter: a write of the one not compared changed nothing (and both non-zero, the
    # constructor's assert, is always one of these: the one not compared is non-zero)
    'mmengine.EMAHook': (Relation(('begin_iter',), _zero,
                                  'begin_iter 0 where the hook was built with begin_epoch > 0 (it then counts '
                                  'epochs: a written begin_iter changes nothing; write begin_epoch)',
                                  lambda owner: getattr(owner, 'enabled_by_epoch', False),
                                  consequence='the written begin_iter would change nothing, silently',
                                  constructor=False),
                         Relation(('begin_epoch',), _zero,
                                  'begin_epoch 0 where the hook was built with begin_epoch=0 (it then counts '
                                  'iterations: a written begin_epoch changes nothing; write begin_iter)',
                                  lambda owner: not getattr(owner, 'enabled_by_epoch', True),
                                  consequence='the written begin_epoch would change nothing, silently',
                                  constructor=False),
                         # _ema_started: epoch + 1 >= begin_epoch (iter + 1 >= begin_iter), the last epoch being
                         # max_epochs - 1; mmengine asserts these in before_train only, before any write
                         Relation(('begin_epoch',), _within(strict=False), 'begin_epoch <= max_epochs',
                                  lambda owner: getattr(owner, 'enabled_by_epoch', False),
                                  consequence='the EMA would never start (the run ends first), so the run '
                                              'would validate and save the trained weights as without an EMA, '
                                              'silently',
                                  constructor=False, run=('max_epochs',), start_refused=_EMA_ASSERTS,
                                  start_stage='before_train'),
                         Relation(('begin_iter',), _within(strict=False), 'begin_iter <= max_iters',
                                  lambda owner: not getattr(owner, 'enabled_by_epoch', True),
                                  consequence='the EMA would never start (the run ends first), so the run '
                                              'would validate and save the trained weights as without an EMA, '
                                              'silently',
                                  constructor=False, run=('max_iters',), start_refused=_EMA_ASSERTS,
                                  start_stage='before_train')),
    # mmdet's PipelineSwitchHook switches at before_train_epoch where epoch >= switch_epoch (epochs 0 .. max - 1)
    'mmdet.PipelineSwitchHook': (Relation(('switch_epoch',), _within(strict=True), 'switch_epoch < max_epochs',
                                          consequence='the pipeline would never switch' + _NEVER, constructor=False,
                                          run=('max_epochs',)),),
    # mmdet's MeanTeacherHook updates the teacher where (iter + 1) % interval == 0, CheckInvalidLossHook checks the
    # loss there (every_n_train_iters): an interval past the run's iterations never comes
    'mmdet.MeanTeacherHook': (Relation(('interval',), _within(strict=False), 'interval <= max_iters',
                                       consequence='the teacher would never be updated from the student (the run '
                                                   'ends first; it would stay the copy made at the start), '
                                                   'silently', constructor=False,
                                       run=('max_iters',)),),
    'mmdet.CheckInvalidLossHook': (Relation(('interval',), _within(strict=False), 'interval <= max_iters',
                                            consequence='the loss would never be checked' + _NEVER,
                                            constructor=False, run=('max_iters',)),),
    # mmengine's loops validate after an epoch (iteration) n where n >= val_begin, n counting 1 .. max
    # mmengine's ProfilerHook stops profiling after iteration profile_times - 1 (by iteration; by epoch its
    # constructor allows 1 only), else exports at the first epoch's end; before_run raises past max_iters
    'mmengine.ProfilerHook': (Relation(('profile_times',), _within(strict=False),
                                       'profile_times <= max_iters (a profiler by iteration)',
                                       lambda owner: not _by_epoch(owner), ('by_epoch',),
                                       'the profiler would never stop' + _NEVER, False, ('max_iters',),
                                       start_refused=_PROFILER_RAISES, start_stage='before_run'),),
    'mmengine.EpochBasedTrainLoop': (Relation(('val_begin',), _within(strict=False), 'val_begin <= max_epochs',
                                              consequence='the run would never validate' + _NEVER, constructor=False,
                                              run=('max_epochs',)),),
    'mmengine.IterBasedTrainLoop': (Relation(('val_begin',), _within(strict=False), 'val_begin <= max_iters',
                                             consequence='the run would never validate' + _NEVER, constructor=False,
                                             run=('max_iters',)),),
}


def _qualified(cls: type) -> str:
    return f'{cls.__module__.split(".")[0]}.{cls.__name__}'


def relations_of(owner: Any) -> list[tuple[str, Relation]]:
    """``(class key, relation)`` of every class of ``owner``'s MRO in :data:`CONSTRUCTOR_RELATIONS`."""
    keys = [_qualified(cls) for cls in type(owner).__mro__]
    return [(key, relation) for key in keys for relation in CONSTRUCTOR_RELATIONS.get(key, ())]


class _Touched(NamedTuple):
    owner: Any
    path: str  # the owner's path, '*' as the index it fanned out to
    held: dict  # attribute -> what it holds after the overlaid writes


def _touched(runner: Any, values: Mapping[str, Any] | Sequence[str]) -> dict[int, _Touched]:
    """The objects with relations that the paths of ``values`` write an attribute (or an element of one) of, by
    ``id``; with a mapping, each attribute as it would hold after the writes (a covering path first, then its
    elements, whatever the order given), else as it holds now."""
    found: dict[int, _Touched] = {}
    overlay = isinstance(values, Mapping)
    for path in sorted(values, key=lambda p: p.count('.')):  # a whole attribute before its elements
        for chain in path_chains(runner, path, tolerant=True):
            if len(chain) != len(path.split('.')):
                continue  # does not resolve: the path's own check names it
            k = len(chain) - 1  # the owner is the deepest object the chain passes, with the attribute below it
            while k >= 1 and isinstance(chain[k - 1][1], (Mapping, *SEQUENCES)):
                k -= 1
            if k < 1 or not relations_of(owner := chain[k - 1][1]):
                continue
            attribute, keys = chain[k][0], tuple(part for part, _ in chain[k + 1:])
            entry = found.setdefault(id(owner), _Touched(owner, '.'.join(p for p, _ in chain[:k]), {}))
            if overlay:
                held = entry.held.get(attribute, getattr(owner, attribute, None))
                entry.held[attribute] = replaced(held, keys, values[path])
            else:
                entry.held.setdefault(attribute, getattr(owner, attribute, None))
    return found


class _Overlaid:
    """``owner`` as a relation's ``when`` sees it: the overlaid values first (a ``crop_type`` written beside the
    ``crop_size`` it governs is judged as written, not as held before the writes)."""

    def __init__(self, owner: Any, held: dict) -> None:
        self._owner, self._held = owner, held

    def __getattr__(self, name: str) -> Any:
        return self._held[name] if name in self._held else getattr(self._owner, name)


def _read(held: dict, owner: Any, setting: str) -> Any:
    attribute, _, index = setting.partition('.')
    value = held[attribute] if attribute in held else getattr(owner, attribute, None)
    if index:
        try:
            return value[int(index)]
        except (TypeError, IndexError, KeyError):
            return None
    return value


def relation_problem(runner: Any, values: Mapping[str, Any] | Sequence[str]) -> str | None:
    """A message for the first relation of :data:`CONSTRUCTOR_RELATIONS` that an object written at the paths of
    ``values`` breaks, once all of them are written (a mapping: the values overlaid on what the objects hold, nothing
    written; a list of paths: what they hold now), else ``None``. Only relations with a setting those paths write are
    held (an object's own config was checked when it was built)."""
    for entry in _touched(runner, values).values():
        for key, relation in relations_of(entry.owner):
            if not _applies(relation, entry.held):
                continue
            if relation.when is not None and not relation.when(_Overlaid(entry.owner, entry.held)):
                continue
            read = [_read(entry.held, entry.owner, setting) for setting in relation.settings]
            lengths = [run_length(runner, name) for name in relation.run]
            if any(found is None for found in lengths):
                continue  # the run's length is not known here: held where it is (at each trunk start)
            if relation.test(*read, *(value for _, value in lengths)):
                continue
            return _broken(entry.path + '.', key, relation, entry.owner, read, lengths)
    return None


def _broken(prefix: str, key: str, relation: Relation, owner: Any, read: Sequence[Any],
            lengths: Sequence[tuple[str, Any]]) -> str:
    """``<prefix><setting>=<value> and <length label>=<value> break <relation> (<class>, <key>): <consequence>``:
    the wording of a broken relation, for a written value (``prefix`` its owner's path) and a config's own
    (``prefix`` its config key)."""
    shown = [f'{prefix}{setting}={value!r}' for setting, value in zip(relation.settings, read)]
    pairs = ' and '.join([*shown, *(f'{label}={value!r}' for label, value in lengths)])
    verb = 'break' if len(shown) + len(lengths) > 1 else 'breaks'
    return f'{pairs} {verb} {relation.text}{_origin(key, relation, owner)}: {relation.consequence}'


def written_settings(runner: Any, paths: Sequence[str]) -> dict[int, set[str]]:
    """``{id(owner): attributes}``: the attributes ``paths`` write (whole or an element) of each object with
    relations they reach on ``runner`` (a path that does not resolve there is left out)."""
    return {key: set(entry.held) for key, entry in _touched(runner, list(paths)).items()}


def own_length_problems(owner: Any, prefix: str, lengths: Mapping[str, Any],
                        held: Mapping[str, Any] | None = None,
                        written: Collection[str] = (),
                        written_before: Mapping[str, Collection[str]] | None = None) -> list[tuple[Relation, str]]:
    """``(relation, message)`` of every relation with the run's length (``Relation.run``) that ``owner`` breaks as it
    was built from the config, not written (an ``EMAHook`` built with ``begin_epoch=5`` in a run of
    ``max_epochs=2``), in the wording of :func:`relation_problem`, ``prefix`` naming its config key
    (``'custom_hooks[0].'``, ``'param_scheduler.1.'``, ``'train_cfg.'``).

    Args:
        owner: a built hook, parameter scheduler or train loop (any object of a class of
            :data:`CONSTRUCTOR_RELATIONS`).
        prefix: what comes before each setting's name in the message.
        lengths: ``{'max_epochs': n, 'max_iters': n}`` as ``train_cfg`` gives them; a relation whose length is not
            a positive number there is not held.
        held: attributes read as given instead of the owner's (a scheduler's ``by_epoch`` as its config gives it,
            where ``convert_to_iter_based`` built it by iteration over an epoch of 1 iteration).
        written: the owner's attributes a hook of the run writes (a ``SetAttributesHook``'s ``values``, an OHL
            space's targets): a relation of one of them is held on the written values (``relation_problem``), not
            on the config's, which the run does not train with. Not for a relation the class refuses at start
            (``start_refused``), whose check reads the config's value unless the write came first:
        written_before: ``{stage: attributes}`` written in that stage before the owner's own hook runs (a
            ``SetAttributesHook``, priority ``'HIGH'``, writes in ``before_train`` before a ``'NORMAL'`` ``EMAHook``
            asserts its ``begin_epoch``); those relations are skipped for the attributes of their ``start_stage``.
    """
    found = []
    held = dict(held or {})
    for key, relation in relations_of(owner):
        if not relation.run or (relation.when is not None and not relation.when(_Overlaid(owner, held))):
            continue
        skipped = (written_before or {}).get(relation.start_stage, ()) if relation.start_refused else written
        if any(setting.partition('.')[0] in skipped for setting in relation.settings):
            continue
        given = [(f'train_cfg.{name}', lengths.get(name)) for name in relation.run]
        if any(not _number(value) or value <= 0 for _, value in given):
            continue
        read = [_read(held, owner, setting) for setting in relation.settings]
        if not relation.test(*read, *(value for _, value in given)):
            found.append((relation, _broken(prefix, key, relation, owner, read, given)))
    return found


def run_length(runner: Any, name: str) -> tuple[str, int] | None:
    """``(label, value)`` of the run's length ``name`` (``'max_epochs'`` / ``'max_iters'``) as ``runner`` holds it
    (a ``Runner``'s train loop; the start-up check's stand-in, ``train_cfg``'s value only where the config gives it),
    the label naming where it comes from (``train_cfg.max_epochs``; an epoch-based loop's ``max_iters``, which no
    config key holds, as ``max_iters (train_cfg.max_epochs=12 epochs of 100 iterations)``), else ``None``."""
    try:
        value = getattr(runner, name, None)
        loop = getattr(runner, 'train_loop', None) if name == 'max_iters' else None
    except Exception:  # noqa: BLE001  (a Runner whose train loop cannot be built here: the length is not known)
        return None
    if not _number(value) or value <= 0:  # a Runner without a built train loop gives 0
        return None
    from mmengine.runner import EpochBasedTrainLoop

    if isinstance(loop, EpochBasedTrainLoop) and _number(getattr(loop, 'max_epochs', None)) and loop.max_epochs > 0:
        return (f'max_iters (train_cfg.max_epochs={loop.max_epochs} epochs of {value // loop.max_epochs} '
                'iterations)', value)
    return f'train_cfg.{name}', value


def _origin(key: str, relation: Relation, owner: Any) -> str:
    """Who holds ``relation``: the constructor of ``key`` where it refuses the pair, else the object's class."""
    if relation.constructor:
        return f', which {key} checks in its constructor ({type(owner).__name__})'
    return f' ({type(owner).__name__}, {key})'


def check_relations(runner: Any, paths: Sequence[str] | Mapping[str, Any], where: str) -> None:
    """Refuse what the objects written at ``paths`` hold now, after all of a trunk's writes, where it breaks a relation
    (:func:`relation_problem`); ``paths`` a mapping ``{path: value}``: the values a trunk start is about to write,
    overlaid on what the objects hold, nothing written (``TrunkScheduleHook`` at each trunk start, ``OHLHook`` with
    the values its spaces will write, :meth:`~automl_mm.ohl.attribute_space.AttributeSpace.planned_values`, before
    any space writes, where every space's writes are planned). ``OHLHook`` calls it with the paths too once every
    space began the trunk, before its first batch (all of a trunk where a space writes otherwise).

    Raises:
        ValueError: ``<where>: <path>=<value> and <path>=<value> break <relation>, which <class> checks in its
            constructor (<type>): <what a run holding them would do>`` (``Relation.consequence``; ``(<type>,
            <class>)`` where the constructor does not refuse the pair).
    """
    found = relation_problem(runner, paths if isinstance(paths, Mapping) else list(dict.fromkeys(paths)))
    if found is not None:
        raise ValueError(f'{where}: {found}; nothing trained with them. Give the searched values ranges (or '
                         'choices) that keep the relation, or search one side only')


def check_written_relations(runner: Any, values: Mapping[str, Any], where: str) -> None:
    """Refuse ``values`` (``{path: value}``, one step's writes) where, all written, they would break a relation
    (:func:`relation_problem`), without writing: the replay hooks check every trunk's values before the first.

    Raises:
        ValueError: as :func:`check_relations`.
    """
    found = relation_problem(runner, values)
    if found is not None:
        raise ValueError(f'{where}: {found}')


#: Combinations of choices :func:`check_choice_relations` tries per relation (of the distinct choices of the spaces
#: writing its settings); beyond it the rest are left to the trunk-start check, with a warning naming the spaces.
MAX_COMBINATIONS = 4096


def _distinct(choices: Sequence[Any]) -> list[Any]:
    return list({repr(choice): choice for choice in choices}.values())


def check_choice_relations(runner: Any, spaces: Sequence[Any]) -> None:
    """Refuse, before the first trunk, spaces whose choices can break a relation of :data:`CONSTRUCTOR_RELATIONS`
    together (``min_mag`` from one space, ``max_mag`` from another) or with what the object holds: every combination
    of the distinct choices of the spaces writing a setting of one relation is tried (a space writing another
    attribute of the object does not multiply them), with what the object holds and with each trunk's values of a
    ``TrunkScheduleHook`` writing it (written at later trunk starts). Beyond :data:`MAX_COMBINATIONS` the first ones
    are tried and a warning names the spaces and the relation: the others are held only at each trunk start (a run
    stopped there).
    A Gaussian (no ``choices``) on a side of a relation is tried at the two ends of its transform's image
    (:data:`~automl_mm.ohl.setting_ranges.TRANSFORM_IMAGES`, unbounded above): one that breaks the relation there
    breaks it with positive probability (the low side of an order, a sum), one that keeps it at both ends never
    does (``transform='exp'`` on ``max_mag`` above ``min_mag=0.0``, on a cosine scheduler's ``eta_min``); one
    writing a whole pair is refused.

    Raises:
        ValueError: naming the spaces, the choices (or the transform and its image), both paths, both values, the
            relation and the class.
    """
    groups: dict[tuple[int, int], list[tuple[Any, str]]] = {}
    candidates: dict[int, list[Any]] = {}
    for space in spaces:
        if getattr(space, 'choices', None) is not None:
            candidates[id(space)] = _distinct(space.choices)
        elif hasattr(getattr(space, 'distribution', None), 'mean'):
            candidates[id(space)] = _image_ends(space)
        else:
            continue  # a duck-typed space: its draws are held at each trunk start
        for path in getattr(space, 'targets', None) or []:
            for key, entry in _touched(runner, [path]).items():
                for index, (_, relation) in enumerate(relations_of(entry.owner)):
                    if _applies(relation, entry.held):  # a space writing what its `when` reads joins its group
                        attribute = path.rsplit('.', 1)[-1]
                        if getattr(space, 'choices', None) is None and attribute in entry.held and \
                                any(setting.startswith(f'{attribute}.') for setting in relation.settings):
                            _refuse_gaussian(runner, space, path, entry, relation, key)  # a whole pair, one Gaussian
                        groups.setdefault((key, index), []).append((space, path))
    for (key, index), writers in groups.items():
        owners = list(dict.fromkeys(space for space, _ in writers))
        choices = [candidates[id(space)] for space in owners]
        total = 1
        for some in choices:
            total *= len(some)
        if total > MAX_COMBINATIONS:
            from mmengine.logging import print_log

            relation = relations_of(_touched(runner, [writers[0][1]])[key].owner)[index]
            print_log(f'OHL spaces {", ".join(repr(space.name) for space in owners)}: {total} combinations of their '
                      f'choices on {relation[1].text} ({relation[0]}); the first {MAX_COMBINATIONS} were tried before '
                      'the first trunk, the others are held only at each trunk start, where one that breaks it stops '
                      'the run', logger='current', level=30)
        steps = _replayed_steps(runner, key)
        for combo in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
            values = {path: combo[owners.index(space)] for space, path in writers}
            # with what the object holds, then with a TrunkScheduleHook's later trunks' values on the same object
            found = next((problem + step for step, replayed in steps
                          if (problem := relation_problem(runner, {**replayed, **values})) is not None), None)
            if found is None:
                continue
            for space, path in writers:
                if getattr(space, 'choices', None) is None:  # a Gaussian among them: its image, not a choice
                    entry = _touched(runner, [path])[key]
                    _refuse_gaussian(runner, space, path, entry, relations_of(entry.owner)[index][1],
                                     relations_of(entry.owner)[index][0])
            drawn = ', '.join(f'{space.name!r} drawing {choice!r}' for space, choice in zip(owners, combo))
            raise ValueError(f'OHL spaces {drawn}: {found} (in a copy that drew them). Give choices that keep the '
                             'relation in every combination')


def _replayed_steps(runner: Any, key: int) -> list[tuple[str, dict]]:
    """``('', {})`` (what the object holds) and, per trunk of each ``TrunkScheduleHook`` of the run, ``(' with
    <hook>'s trunk <t> values', {path: value})`` for its paths that write the object of id ``key``: its later trunks'
    values are written at those trunk starts, after this check, beside the spaces' draws. A trunk whose values break a
    relation alone is left to the hook's own refusal."""
    from .replay_hooks import TrunkScheduleHook

    steps: list[tuple[str, dict]] = [('', {})]
    for hook in getattr(runner, 'hooks', None) or []:
        if not isinstance(hook, TrunkScheduleHook) or not getattr(hook, 'values', None):
            continue
        paths = [path for path in hook.values if key in _touched(runner, [path])]
        for trunk in range(max((len(hook.values[path]) for path in paths), default=0)):
            step = {path: hook.values[path][min(trunk, len(hook.values[path]) - 1)] for path in paths}
            if relation_problem(runner, step) is None:
                steps.append((f" (with TrunkScheduleHook's trunk {trunk} values {step})", step))
    return steps


def _image_ends(space: Any) -> list[float]:
    """The two ends of a Gaussian space's transform's image, inside it: an order or a sum broken anywhere in the
    image is broken at one of them (an open end: the nearest float inside; an infinite one: 1e300)."""
    import math

    from .setting_ranges import TRANSFORM_IMAGES

    image = TRANSFORM_IMAGES.get(getattr(space, 'transform', None), TRANSFORM_IMAGES[None])
    low = -1e300 if math.isinf(image.low) else math.nextafter(image.low, math.inf) if image.low_open else image.low
    high = 1e300 if math.isinf(image.high) else \
        math.nextafter(image.high, -math.inf) if image.high_open else image.high
    return [low, high]


def _refuse_gaussian(runner: Any, space: Any, path: str, entry: _Touched, relation: Relation, key: str) -> None:
    """Refuse a Gaussian space writing a side of a relation it can break (:func:`check_choice_relations`)."""
    from .setting_ranges import TRANSFORM_IMAGES

    transform = getattr(space, 'transform', None)
    held = ' and '.join([*(f'{entry.path}.{setting}={_read(entry.held, entry.owner, setting)!r}'
                           for setting in relation.settings),
                         *(f'{found[0]}={found[1]!r}' for name in relation.run
                           if (found := run_length(runner, name)) is not None)])
    raise ValueError(
        f'OHL space {space.name!r}: attribute path {path!r}: a Gaussian sample under transform='
        f'{transform!r} takes any value in {TRANSFORM_IMAGES.get(transform)}, so it breaks '
        f'{relation.text} ({held} now){_origin(key, relation, entry.owner)} with positive probability: the trunk '
        f'that drew it would be refused and the run stopped (run with it: {relation.consequence}). Search it with a '
        'Categorical over choices that keep the relation')
