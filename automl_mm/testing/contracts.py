"""Contract checks of the AutoML families: one call checks an implementation (automl_mm's own or a plugin).

Each ``check_*`` builds the implementation from its config (or takes an instance), drives it the way its engine
does and raises ``AssertionError`` naming the class and the broken promise. automl_mm's own tests run every check
on every registered implementation (``tests/test_contracts.py``); run the same on yours::

    from automl_mm.testing import check_ohl_space, toy_runner
    check_ohl_space(dict(type='MyLrSpace', choices=[0.1, 0.01]), runner=toy_runner())

Families and what is checked:

* :func:`check_distribution` (``SAMPLERS``, OHL): seeded sampling is reproducible; ``log_prob`` is finite with
  the right shape; sufficient statistics add up over a split batch and count its samples; the analytic
  ``grad_mean_log_prob`` equals autograd's gradient of the mean log-probability (what REINFORCE relies on) and is
  zero without samples; at the start and at θ moved off it, ``log_prob`` is finite on 4000 draws, the gradient
  matches autograd's and the mean score of the draws is 0 (``sample`` draws from the current p_θ);
  ``grad_entropy``, where implemented, is the entropy's gradient (central differences of ``entropy()``);
  ``state_dict`` round-trips into the same parameter tensors; ``summary`` is JSON.
* :func:`check_controller` (``CONTROLLERS``, OHL): a step moves the distribution toward the better copy's samples;
  steps are bitwise deterministic given their inputs (every rank applies the same update); ``state_dict``
  resumes exactly.
* :func:`check_ohl_space` (``SEARCH_SPACES``, OHL): ``setup`` / ``begin_trunk`` / ``after_train_iter`` /
  ``trunk_stats`` / ``reset_stats`` / ``export_fragment`` as ``OHLHook`` calls them; per-copy samples depend on
  the copy's generator only; the exported fragment is a valid Python config, and a value it sets at a path
  ``scheduled_values()`` reports (that config key, a ``SetAttributesHook``'s ``values``) is the reported one.
* :func:`check_path_space` (``SEARCH_SPACES``, NAS): paths, validity, prefixes, ``size`` and ``extensions``
  agree with the enumerated completions; ``apply`` then ``current_path`` round-trips on a model.
* :func:`check_path_sampler` (``SAMPLERS``, NAS): draws are valid, reproducible from the generator alone,
  complete the prefix they were given, and survive a ``state_dict`` round trip.

Each family's check lives in its own module (:mod:`~automl_mm.testing.ohl_distributions`,
:mod:`~automl_mm.testing.ohl_controllers`, :mod:`~automl_mm.testing.ohl_spaces`, :mod:`~automl_mm.testing.nas_paths`;
what they share in ``_assertions.py``); all are importable from here and from :mod:`automl_mm.testing`.
"""
from __future__ import annotations

from .nas_paths import check_path_sampler, check_path_space
from .ohl_controllers import check_controller
from .ohl_distributions import check_distribution
from .ohl_spaces import check_ohl_space, toy_runner

__all__ = ['check_controller', 'check_distribution', 'check_ohl_space', 'check_path_sampler', 'check_path_space',
           'toy_runner']
