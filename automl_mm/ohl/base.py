"""The contracts of the OHL engine: what :class:`~automl_mm.ohl.hook.OHLHook` calls, and nothing else.

* :class:`BaseDistribution` (registry ``SAMPLERS``): a learnable p_θ with additive sufficient statistics and the
  analytic gradient of the mean log-probability from them (Categorical, FactorisedCategorical, DiagGaussian,
  Product).
* :class:`BaseController` (registry ``CONTROLLERS``): updates one distribution from the copies' statistics and
  rewards (REINFORCE).
* :class:`OHLSpace` (registry ``SEARCH_SPACES``): a distribution plus the target its samples configure, driven by
  the hook ``setup`` → (``begin_trunk`` → iterations (``after_train_iter``) → ``trunk_stats``)*.
  :class:`PerCopySpace` is the template of spaces that draw one sample per copy per trunk (``AttributeSpace``,
  ``LossFunctionSpace``): implement ``apply`` and ``export_fragment``.

Check an implementation of your own with :mod:`automl_mm.testing` (``check_distribution``, ``check_controller``,
``check_ohl_space``).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from automl_mm.registry import CONTROLLERS, SAMPLERS, SEARCH_SPACES
from automl_mm.utils.scope import build_named, building_key


class BaseDistribution(metaclass=ABCMeta):
    """A distribution p_θ with float64 CPU parameters and additive sufficient statistics.

    Subclasses implement sampling, log-densities, the statistics of a batch of samples and the analytic
    gradient of the mean log-probability from those statistics. :meth:`load_state_dict` copies values into
    the existing parameter tensors, so an optimiser built on :meth:`parameters` stays valid.
    """

    @abstractmethod
    def parameters(self) -> list[torch.Tensor]:
        """Learnable leaf tensors (float64, CPU, ``requires_grad=True``) in a fixed order; ``[]`` if none."""

    @abstractmethod
    def sample(self, generator: torch.Generator | None = None, n: int | None = None) -> Any:
        """One sample (``n=None``) or a batch of ``n``, drawn with ``generator`` only, without autograd."""

    @abstractmethod
    def log_prob(self, sample: Any) -> torch.Tensor:
        """Differentiable log-probability: a scalar for one sample, a vector for a batch."""

    @abstractmethod
    def stats_size(self) -> int:
        """Length of the vector returned by :meth:`sufficient_stats`."""

    @abstractmethod
    def sufficient_stats(self, samples: Any) -> torch.Tensor:
        """Flat float64 vector of length :meth:`stats_size` summarising ``samples`` (one sample or a batch)."""

    @abstractmethod
    def grad_mean_log_prob(self, stats: torch.Tensor) -> list[torch.Tensor]:
        """Gradient of the mean log-probability of the samples behind ``stats``, one tensor per parameter.

        All zeros when ``stats`` summarises no sample.
        """

    @abstractmethod
    def summary(self, top_k: int = 5) -> dict:
        """A JSON-serialisable, human-readable description of the current distribution."""

    @abstractmethod
    def mode(self) -> Any:
        """The most likely sample."""

    def entropy(self) -> float | None:
        """Entropy in nats for discrete distributions; ``None`` where it is not reported."""
        return None

    def grad_entropy(self) -> list[torch.Tensor]:
        """Gradient of the entropy (nats) w.r.t. each parameter, one tensor per :meth:`parameters` entry: the
        direction a controller's entropy bonus pushes (``REINFORCE(entropy_weight=...)``).

        Raises:
            NotImplementedError: the distribution has no analytic entropy gradient (its name is in the message).
        """
        raise NotImplementedError(f'{type(self).__name__} does not implement grad_entropy, so a controller cannot '
                                  'add an entropy bonus to it (set entropy_weight=0)')

    def sample_count(self, stats: torch.Tensor) -> float:
        """How many samples the statistics ``stats`` summarise. Required: ``OHLHook`` counts every copy's samples
        at each trunk end (and refuses a distribution without it before the first trunk); not abstract only so that
        a distribution used outside OHL runs need not define it."""
        raise NotImplementedError(f'{type(self).__name__} does not implement sample_count')

    def project_(self) -> None:  # noqa: B027  (most distributions have unconstrained parameters)
        """Move the parameters back into their valid set after an optimiser step (in place)."""

    #: Keys of :meth:`settings` a resume may change (``OHLHook`` logs the change); every other key is refused.
    resume_may_change: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """What defines p_θ besides θ, by its key in the distribution's config (``{'num_choices': 4}``), plain
        values only: ``OHLHook`` saves them with the search and refuses a resume whose distribution has other
        ones (except :attr:`resume_may_change`), as θ and the controller's optimiser state were learned under
        them. The type is compared by the hook. Default: nothing else."""
        return {}

    def state_dict(self) -> dict:
        """Everything needed to restore the distribution exactly (saved in runner checkpoints)."""
        return {}

    def load_state_dict(self, state: dict) -> None:  # noqa: B027  (parameter-free distributions need nothing)
        """Inverse of :meth:`state_dict`, copying into the existing parameter tensors."""

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.summary(top_k=3)})'


def build_distribution(cfg: dict | BaseDistribution, what: str = 'distribution',
                       errors: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError)) -> BaseDistribution:
    """A distribution from its ``SAMPLERS`` config (looked up in automl_mm's scope) or as given; ``what`` names the
    argument in the error: its config key, e.g. ``custom_hooks[0].spaces[0].distribution`` (``OHLHook.spaces[0]...``
    for a hook built in Python; :func:`~automl_mm.utils.scope.nested_key`; a misspelled argument was named at the
    space's key, ``custom_hooks[0].spaces[0]``, with the space's arguments as the hint).

    Args:
        errors: The constructor's errors prefixed with ``what`` (an unregistered type's ``KeyError`` always is); the
            others pass as raised (a caller naming them itself).

    Raises:
        KeyError: an unregistered ``type``, prefixed with ``what``.
        TypeError: not a distribution, naming ``what``; or its constructor refused the config (an unknown argument:
            the ones it takes and the closest as ``what.<argument>``), prefixed with ``what`` (in ``errors``).
        ValueError: its constructor refused a value, prefixed with ``what`` (in ``errors``).
    """
    if isinstance(cfg, dict):
        cfg = build_named(SAMPLERS, cfg, what, errors=(KeyError, *errors))
    if not isinstance(cfg, BaseDistribution):
        raise TypeError(f'{what} must be a BaseDistribution or its config, got {type(cfg).__name__}')
    return cfg


class BaseController(metaclass=ABCMeta):
    """Updates one distribution's parameters from the copies' rewards.

    ``step`` must be deterministic given its inputs: in distributed runs every rank calls it with the same
    all-gathered statistics and rewards, and the distribution's parameters must stay bitwise identical everywhere.
    The hook builds one controller per space with ``distribution=space.distribution``.

    ``learns = False`` declares a controller that never moves θ (a random control, :class:`FrozenController`); the
    contract check (:func:`automl_mm.testing.check_controller`) then asserts that instead of the REINFORCE
    direction.
    """

    distribution: BaseDistribution
    learns: bool = True

    @abstractmethod
    def step(self, stats: Sequence[torch.Tensor], rewards: Sequence[float]) -> dict[str, float]:
        """Apply one update and return scalars to log (e.g. baseline, mean reward).

        Args:
            stats: One :meth:`BaseDistribution.sufficient_stats` vector per copy (the samples copy n used); for
                ``PipelineChoiceSpace(policy_size=K)`` a weighted one of K samples, fractional entries included:
                each draw of the copy's policy weighted by the chance that an image picked it, the mean
                statistics under θ for the rest (:func:`~automl_mm.ohl.reward.policy_credit`).
            rewards: One reward per copy, higher is better (``-reward`` under ``OHLHook(reward_rule='less')``: the
                hook logs the scalars named ``reward_mean``, ``baseline``, ``reward_max`` / ``reward_min`` back in
                the measured reward's units, :func:`~automl_mm.ohl.plugin_returns.logs_as_measured`).

        A ``step`` that takes a ``measured`` argument (as :class:`~automl_mm.ohl.controllers.REINFORCE` does) is
        also given, per copy, whether its reward is a reading: ``False`` for the stand-in of a diverged copy or of a
        copy whose reward evaluator returned no metrics, which a baseline of what the policy earns leaves out.
        """

    #: Keys of :meth:`settings` a resume may change (``OHLHook`` logs the change); every other key is refused.
    resume_may_change: tuple[str, ...] = ()

    def settings(self) -> dict[str, Any]:
        """The hyper-parameters this controller's state (θ, optimiser moments, baseline) is produced under, by
        their key in the controller's config (``{'baseline': 'mean'}``), plain values only: ``OHLHook`` saves them
        with the search and refuses a resume with other ones (except :attr:`resume_may_change`). The type is
        compared by the hook. Default: nothing else."""
        return {}

    @abstractmethod
    def state_dict(self) -> dict:
        """Optimiser state, baseline and anything else needed for an exact resume."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`."""


def build_controller(cfg: dict | BaseController, distribution: BaseDistribution,
                     what: str = 'controller') -> BaseController:
    """A controller of ``distribution`` from its ``CONTROLLERS`` config (without ``distribution``) or as given.

    Raises:
        KeyError / TypeError / ValueError: an unregistered ``type``, not a controller, or its constructor refused the
            config (an abstract ``step``, an unknown key), prefixed with ``what`` (the hook's
            ``custom_hooks[0].controller``; ``OHLHook.controller`` for a hook built in Python).
    """
    if isinstance(cfg, dict):
        # an unregistered type, a missing step() or an unknown key named the class only
        cfg = build_named(CONTROLLERS, dict(cfg, distribution=distribution), what)
    if not isinstance(cfg, BaseController):
        raise TypeError(f'{what} must be a BaseController or its config, got {type(cfg).__name__}')
    return cfg


class OHLSpace(metaclass=ABCMeta):
    """Base class of OHL spaces. The hook drives it: ``setup`` → (``begin_trunk`` → iterations → stats)*.

    Implement :meth:`begin_trunk` (make this copy's samples for the trunk take effect and :meth:`record` the
    samples drawn) and :meth:`export_fragment`; per-item spaces (``per_item = True``) count the samples they
    used in :meth:`after_train_iter` instead. A space whose distribution's size follows from what it drives (the
    choices of a transform, the parameters of a loss) is built with ``distribution=None`` and sets it in
    :meth:`resolve`.

    Every attribute path the space writes must be reported in :meth:`scheduled_values` / :meth:`applied_values`:
    ``OHLHook`` (and ``automl_mm.testing.check_ohl_space``) refuses a write in :meth:`setup` or :meth:`begin_trunk`
    that no reported path reaches (:func:`~automl_mm.ohl.write_order.check_declared_writes`). It sees the writes
    through :func:`~automl_mm.ohl.attributes.set_attribute` and, by comparing the values before and after the call
    (:mod:`automl_mm.ohl.state_writes`), other writes where samples act: a plain ``setattr`` on a module the space
    reached itself, ``module.__dict__[name] = v``, ``optimizer.param_groups[i][key] = v``, a training transform's
    attribute. It cannot see a write of the value already held, a tensor or array changed in place (mmdet's
    ``CrossEntropyLoss``'s ``class_weight`` tensor, which ``DETRHead`` gives it, with ``mul_``; automl_mm's losses
    keep ``class_weight`` as a list, whose elements are seen), objects outside the model's modules, the optimisers'
    parameter groups and the training pipeline (another hook's attribute, ``runner.cfg``, an optimiser's
    ``defaults``), values deeper than :data:`~automl_mm.ohl.state_writes.MAX_DEPTH` containers or objects or in
    containers of more than :data:`~automl_mm.ohl.state_writes.MAX_ITEMS` items, writes in :meth:`begin_segment` or
    :meth:`after_train_iter`, and another attribute of an object whose attribute a reported path writes (taken as
    that write's own: a property setter's state, Posterize's ``bits`` beside its ``magnitude``; another key of an
    optimiser group is seen): write those through ``set_attribute`` and report them. Names the space sets as
    wiring, not as values a copy trains with, go in :attr:`wiring_attributes`.

    Args:
        distribution: A ``SAMPLERS`` config or instance (e.g. ``Categorical``, ``DiagGaussian``); ``None``: set
            by :meth:`resolve`.
        name: Name used in logs, plots and exported files; defaults to the class name.
    """

    #: True when samples are drawn per training item (counted after each iteration), False when per copy.
    per_item = False
    #: Attribute (or dict key) names this space sets as wiring on what it binds to, not values a copy trains with
    #: (``PipelineChoiceSpace``: a packing transform's ``meta_keys``, its choice transforms' random-stream key):
    #: left out where ``OHLHook`` compares the run's state before and after the space's ``setup`` and
    #: ``begin_trunk`` (:mod:`automl_mm.ohl.state_writes`).
    wiring_attributes: tuple[str, ...] = ()

    def __init__(self, distribution: dict | BaseDistribution | None, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.distribution: BaseDistribution | None = None
        self._stats = torch.zeros(0, dtype=torch.float64)
        if distribution is not None:
            self.set_distribution(distribution)

    def set_distribution(self, distribution: dict | BaseDistribution) -> None:
        """Adopt ``distribution`` (a ``SAMPLERS`` config or instance); the statistics restart from zero.

        Only before the hook built this space's controller: in ``__init__`` or :meth:`resolve`.
        """
        # inside the space's config build: named at its key (OHLHook.spaces[0].distribution; a misspelled argument
        # was named at the space's, with the space's arguments as the hint); later (resolve) the caller names it
        outer = building_key()
        self.distribution = build_distribution(
            distribution, f'{outer}.distribution' if outer else f'{self.name}.distribution',
            () if outer is None else (TypeError, ValueError))
        self._stats = torch.zeros(self.distribution.stats_size(), dtype=torch.float64)

    def resolve(self, runner: Any) -> None:  # noqa: B027  (optional stage)
        """Derive what the space reads from the run, before the hook builds its controller and loads a checkpoint.

        Called once by ``OHLHook`` when the runner's model and train dataloader exist. A space built without a
        distribution sets it here (:meth:`set_distribution`); a size the user gave explicitly is checked against
        the run.

        Raises:
            ValueError: an explicit value disagrees with the run (the message names the config key).
        """

    def setup(self, runner: Any, layout: Any, seed: int) -> None:  # noqa: B027  (optional stage)
        """Bind to the target once, before training starts (after any resume)."""

    @abstractmethod
    def begin_trunk(self, runner: Any, trunk: int, generator: torch.Generator) -> None:
        """Make this copy's samples for the new trunk take effect (drawn with ``generator``, the copy's own)."""

    def begin_segment(self, runner: Any, segment: int) -> None:  # noqa: B027  (optional stage)
        """The hook re-derived the random streams at training iteration ``segment`` (see ``LivePolicy``)."""

    def after_train_iter(self, runner: Any, data_batch: Any) -> None:  # noqa: B027  (optional stage)
        """Count the samples used in this iteration (per-item spaces)."""

    def record(self, samples: Any) -> None:
        """Add ``samples`` (one or a batch, as the distribution draws them) to this trunk's statistics."""
        self._stats += self.distribution.sufficient_stats(samples)

    def trunk_stats(self) -> torch.Tensor:
        """Sufficient statistics of the samples this rank used in the current trunk (float64, stats_size)."""
        return self._stats.clone()

    def stale_count(self) -> int:
        """Samples this rank used in the current trunk that were drawn from an earlier θ (not counted)."""
        return 0

    def fresh_count(self) -> int | None:
        """Items (images) this rank trained with in the current trunk that carry this trunk's draw, for a space whose
        statistics are not those items' choices (``PipelineChoiceSpace(policy_size=K)``: the K choices of the copy's
        policy, which its images sample among); ``None`` (the default): not counted. ``OHLHook`` takes a copy whose
        ranks count 0 as having used no sample of the trunk (its statistics count none: the trunk's images were all
        prefetched under the trunk before, :func:`~automl_mm.ohl.reward.settle_rewards`)."""
        return None

    def reset_stats(self) -> None:
        self._stats.zero_()

    @abstractmethod
    def export_fragment(self) -> str:
        """Config text (Python) that retrains from scratch with the final distribution fixed.

        Text that builds registered types should name them scope-prefixed (``'automl_mm.X'``) and set
        ``custom_imports`` with :func:`automl_mm.ohl.report.custom_imports_line` (automl_mm and the modules of the
        classes it builds), so that it loads in a config of any default scope; ``final_policy.py`` imports the
        union of every space's ``custom_imports``."""

    def scheduled_values(self) -> dict[str, Any] | None:
        """``{attribute path: value}`` that the mode of the current distribution sets, recorded per trunk in the
        history (``schedule``: where θ sampled from during that trunk; where the mode is tied, as at trunk 0 with
        uniform θ, the first tied choice); ``None`` (the default) for spaces that are not replayed by attribute
        (per-item spaces: use ``final_policy.py`` or the per-trunk probabilities in ``probs_<space>.npz``, whose
        row ``t`` is θ after trunk ``t``'s update: what trunk ``t + 1`` sampled from)."""
        return None

    def signature(self) -> str | None:
        """What θ's coordinates mean, as a string (available after :meth:`resolve`): ``OHLHook`` saves it in
        checkpoints and refuses a resume whose space has another one (a reordered element list or choices list has
        the same θ shape, so θ loaded without complaint onto other choices). ``None`` (the default): not
        checked."""
        return None

    def repeated_choices(self) -> list[tuple[Any, list[int]]]:
        """The candidates of a discrete space listed more than once in its config, each as ``(value, [indices])``
        (``AttributeSpace(choices=[0.1, 0.1, 0.2])``: ``[(0.1, [0, 1])]``): one value with two logits, whose
        probability a learning controller splits between them. Default: none (a space without listed candidates)."""
        return []

    def choices_config_key(self) -> str | None:
        """Where the config lists the candidates of :meth:`repeated_choices`, if not the space's own ``choices``
        (a ``PipelineChoiceSpace``: its transforms' ``OHLRandomChoice(key='aug').transforms``); ``None``: its
        own."""
        return None

    def merged_choices(self) -> list[tuple[str, list[int], str]]:
        """Choices that are the same as this trunk's targets stand (a written magnitude making two augmentation
        elements identical), each as ``(what they are, [their indices], their merged probability in words)``: their
        probability is the sum over the indices, which the per-choice history and plots split. Default: none."""
        return []

    def applied_values(self) -> dict[str, Any] | None:
        """``{attribute path: value}`` that this copy's sample set in the current trunk (plain Python values), or
        ``None`` (the default: spaces that are not replayed by attribute). ``OHLHook`` gathers them from every copy
        at the trunk end (``copy_values`` in the history); ``schedule_policy.py`` replays those of the copies the
        final model descends from (:func:`automl_mm.ohl.report.lineage`)."""
        return None


def check_repeated_choices(spaces: Sequence[OHLSpace], controllers: Sequence[Any]) -> None:
    """Refuse, before the first trunk, a space whose config lists one candidate twice
    (:meth:`OHLSpace.repeated_choices`: ``AttributeSpace(choices=[0.1, 0.1, 0.2])``; a ``PipelineChoiceSpace`` whose
    ``OHLRandomChoice`` lists one sub-pipeline twice) under a controller that learns:
    the value would have two logits, the controller would learn its probability split between them, and the
    history, the plots and the exported mode would state the policy wrongly (0.1 drawn at 2/3 under uniform logits,
    reported as two choices of 1/3, below 0.2's). Under a controller that never moves θ (``learns = False``,
    ``FrozenController``: a control arm writing one value, ``choices=[1.0, 1.0]``) nothing is learned and they are
    kept.

    Raises:
        ValueError: naming the space, the value, its indices and where the config lists it
            (:meth:`OHLSpace.choices_config_key`) if not in the space's own ``choices``.
    """
    for space, controller in zip(spaces, controllers):
        if controller is not None and not getattr(controller, 'learns', True):
            continue
        for value, indices in getattr(space, 'repeated_choices', list)():  # a duck-typed space: none
            where = getattr(space, 'choices_config_key', lambda: None)()
            raise ValueError(f'OHL space {space.name!r} ({type(space).__name__}) lists the choice {value!r} more '
                             f'than once (at indices {indices}{f" of {where}" if where else ""}): the controller '
                             'would learn its probability split between them, and the history and the exported '
                             'policy would report neither; give each value once')


def warn_merged_choices(spaces: Sequence[OHLSpace], trunk: int, warned: set, runner: Any) -> None:
    """Warn, once per space and set of merged choices (``warned`` keeps them), about choices that are the same at
    trunk ``trunk`` (:meth:`OHLSpace.merged_choices`), with their merged probability, in ``runner.logger``;
    ``OHLHook`` calls it after every space began the trunk (a magnitude space may write after the choice space)."""
    for space in spaces:
        merged = getattr(space, 'merged_choices', list)()  # a duck-typed space: none
        key = (space.name, tuple((what, tuple(indices)) for what, indices, _ in merged))
        if not merged or key in warned:
            continue
        warned.add(key)
        text = '; '.join(f'{what} at indices {indices} ({prob})' for what, indices, prob in merged)
        runner.logger.warning(f'OHL space {space.name!r}: at trunk {trunk} some of its choices are the same: {text}. '
                              "Each one's probability is split between those indices in the history, the progress "
                              'line and the plots: read the sum')


class PerCopySpace(OHLSpace):
    """An OHL space that draws one sample per copy per trunk and applies it (the samples depend on the copy only).

    Implement :meth:`apply` (bind one sample to the runner) and :meth:`export_fragment`.
    """

    def begin_trunk(self, runner: Any, trunk: int, generator: torch.Generator) -> None:
        batch = self.distribution.sample(generator=generator, n=1)
        self.record(batch)
        first = {k: v[0] for k, v in batch.items()} if isinstance(batch, dict) else batch[0]
        self.apply(first, runner)

    @abstractmethod
    def apply(self, sample: Any, runner: Any) -> None:
        """Bind one sample (as :meth:`BaseDistribution.sample` draws it with ``n=None``) to its target."""


def build_ohl_space(cfg: dict | OHLSpace, what: str = 'OHLHook.spaces') -> OHLSpace:
    """An OHL space from its ``SEARCH_SPACES`` config or as given, refusing the other family (path spaces).

    Raises:
        KeyError / TypeError / ValueError: an unregistered ``type`` (a module missing from ``custom_imports``), or the
            space's constructor refused its arguments (a missing ``distribution``, an unknown key), prefixed with
            ``what`` (the hook's ``custom_hooks[0].spaces[0]``; ``OHLHook.spaces[0]`` for a hook built in Python):
            mmengine's message named the class or the name only.
    """
    space = build_named(SEARCH_SPACES, cfg, what) if isinstance(cfg, dict) else cfg
    if not isinstance(space, OHLSpace):
        raise TypeError(f'{what}: {type(space).__name__} is not an OHL space (automl_mm.ohl.base.OHLSpace); '
                        'architecture path spaces go to the NAS loops and PathSamplingHook')
    return space
