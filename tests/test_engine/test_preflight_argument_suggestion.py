"""``check_arguments`` (loops, optimiser wrapper / optimiser, schedulers, dataloaders, log processor, visualizer,
hooks) names the closest argument the constructor takes for an unknown one, as the newer checks do (it used to
list every argument and leave the typo to the reader); none where nothing is close."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_training import check_arguments
from automl_mm.engine.preflight_walk import ConfigCheckError


@pytest.mark.parametrize('node, match', [
    (dict(log_processor=dict(window_sise=3)),
     r"log_processor\.window_sise: LogProcessor takes no argument 'window_sise' \(it takes .*\) "
     r"\(did you mean log_processor\.window_size\?\)$"),
    (dict(visualizer=dict(type='Visualizer', nme='x')), r"visualizer\.nme: .*\(did you mean visualizer\.name\?\)$"),
    (dict(default_hooks=dict(logger=dict(type='LoggerHook', intervl=5))),
     r"default_hooks\.logger\.intervl: .*\(did you mean default_hooks\.logger\.interval\?\)$"),
])
def test_an_unknown_argument_names_the_closest_one(node, match):
    with pytest.raises(ConfigCheckError, match=match):
        check_config(Config(node))


def test_no_suggestion_when_nothing_is_close():
    from mmengine.runner import LogProcessor
    with pytest.raises(ConfigCheckError) as err:
        check_arguments(LogProcessor, dict(zzzz=1), 'log_processor')
    assert 'did you mean' not in str(err.value)
