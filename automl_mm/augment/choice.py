"""Pipeline transforms that apply one of several choices per sample, drawn from a live (OHL-learned) or a fixed
distribution: the names of the modules that define them, in one place.

* :class:`LivePolicy`: the choice probabilities in shared memory, written by the trainer (an OHL
  ``PipelineChoiceSpace``) and read by every dataloader worker; :class:`LiveChoiceTransform`: the base of such
  transforms, which records the applied index in the sample's ``results['ohl_choice']`` (:data:`CHOICE_META_KEY`),
  counted by the OHL hook after each iteration; both in :mod:`automl_mm.augment.choice_base`.
* :class:`OHLRandomChoice`: one of several sub-pipelines per sample (:mod:`automl_mm.augment.random_choice`).
  ``OHLAutoAugment`` (:mod:`automl_mm.augment.policy`) is another.

How the draws are recorded on a sample and counted through mixing transforms, view wrappers and dropped images is
:mod:`automl_mm.augment.draw_counting`; the trial of every choice at a place's first sample
(:meth:`OHLRandomChoice._try_each_choice`) keeps what it restores in :mod:`automl_mm.augment.choice_trial`; the place
of a call and what the view wrappers around it give back are :mod:`automl_mm.augment.choice_views`. Their names are
re-exported here under this module: configs, tests and pickles (dataloader workers, checkpoints) that name
``automl_mm.augment.choice.<name>`` keep working. ``OHLRandomChoice`` is registered once, where it is defined.
Patching a name here (``mock.patch.object(choice, '_same_image', ...)``) changes nothing the transforms do: their
code reads its names in the module it is defined in, so patch there (``random_choice._same_image``).
"""
from __future__ import annotations

from . import op_base  # noqa: F401 (also named here)
from .choice_base import LiveChoiceTransform, LivePolicy, _cdf, check_choice_key  # noqa: F401
from .choice_trial import (  # noqa: F401 (the start trial of every choice: choice_trial.py; also named here)
    _NO_STATE,
    _attribute_state,
    _ChoiceRefused,
    _nested,
    _put_back,
    _random_states,
    _same_items,
    _set_random_states,
    _share_data_sets,
    _transform_states,
    _trial_copy,
)
from .choice_views import (  # noqa: F401 (also named here)
    _key_set,
    _packed_around,
    _place,
    _same_image,
    _same_value,
    _say_homography_once,
    _View,
)

# the recording and counting of draws (draw_counting.py), under their old names here: configs, tests and pickles
# (dataloader workers, checkpoints) that name automl_mm.augment.choice.<name> keep working
from .draw_counting import (  # noqa: F401
    _COUNTING_CLASSES,
    _DRAW_IDS,
    _OPEN_RUNS,
    CHOICE_META_KEY,
    _add_draws,
    _as_counting,
    _as_list,
    _CachedMixedInChoices,
    _class_method,
    _CollectingTransform,
    _counting_class,
    _CountsDroppedDraws,
    _datasets_of,
    _merge_draws,
    _MixedInChoices,
    _record,
    _ViewChoices,
    count_dropped_draws,
    count_mixed_in_choices,
    count_view_choices,
    draw_id_key,
    recorded_draws,
    version_key,
)
from .geometric import _INSTANCE_KEYS, pixel_map_keys  # noqa: F401
from .op_base import second_image_keys, unused_view, unused_view_message  # noqa: F401
from .random_choice import OHLRandomChoice, _scoped_like, _scoped_types  # noqa: F401
