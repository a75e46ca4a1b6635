"""Measure the latency lookup table of the supernet in a config (PC-NAS) and save it as JSON.

The fixed part includes the model's head after the supernet (an ImageClassifier's pooling and linear classifier,
``automl_mm.nas.latency.model_head``): a path's latency is the whole network's. Tables measured before the
forty-third session timed the backbone only; a PC-NAS search refuses them for a model with a head. The modules are
timed in the memory layout the model runs its backbone in (``model.channels_last=True``: NHWC); tables measured
before the forty-fourth session were timed in NCHW whatever the model ran, and a search refuses them for a
``channels_last`` model. The timing runs with a fixed torch thread count (``--num-threads``, default 1), recorded in
the table: a search refuses a table of another count than its ``train_cfg.latency_num_threads`` (default 1). Tables
measured before the forty-fifth session were timed with whatever count the process had.
"""
from __future__ import annotations

import argparse
import os.path as osp
from collections.abc import Sequence
from typing import Any


def build_parser(cli: Any = None, default_threads: int | None = None) -> argparse.ArgumentParser:
    """The command line of ``tools/measure_latency.py``; ``cli``: the module of the tools' parser parts (default
    :mod:`automl_mm.engine.tool_cli`; its file executed alone to parse before the imports below), ``default_threads``
    ``--num-threads``' default (default :data:`automl_mm.nas.latency.DEFAULT_LATENCY_THREADS`)."""
    if cli is None:
        from automl_mm.engine import tool_cli as cli
    if default_threads is None:
        from automl_mm.nas.latency import DEFAULT_LATENCY_THREADS as default_threads
    parser = argparse.ArgumentParser(description='Measure per-(layer, op, shape) latencies of a supernet')
    parser.add_argument('config', help='config file path; cfg.model contains the supernet')
    parser.add_argument('--out', required=True, help='JSON file to write the latency table to')
    parser.add_argument('--device', default='cpu',
                        help='device to measure on, e.g. cpu, cuda, cuda:1 (default: %(default)s)')
    parser.add_argument('--repeats', type=int, default=50,
                        help='timed runs per entry (the median is kept; default: %(default)s)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed runs per entry first (default: %(default)s)')
    parser.add_argument('--num-threads', type=int, default=default_threads,
                        help='torch intra-op threads to time with, recorded in the table; a PC-NAS search refuses '
                             'a table of another count than its train_cfg.latency_num_threads (default: '
                             '%(default)s)')
    parser.add_argument('--input-shape', type=int, nargs=4, metavar=('N', 'C', 'H', 'W'),
                        help='network input shape (default: the config\'s train_cfg.input_shape, as PCNASLoop reads '
                             'it, else nas_input_shape)')
    parser.add_argument('--cfg-options', nargs='+', action=cli.CfgOptionsAction,
                        help='override config keys, e.g. model.backbone.space=pcnas_l')
    return parser


def _parse_counts(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser``'s arguments with the counts checked (before the config is read and the supernet built:
    measure_latency_table refused them only then)."""
    args = parser.parse_args(argv)
    for option, value, least in (('--num-threads', args.num_threads, 1), ('--repeats', args.repeats, 1),
                                 ('--warmup', args.warmup, 0)):
        if value < least:
            parser.error(f'{option} must be >= {least}, got {value}')
    return args


if __name__ == '__main__':  # --help and usage errors before the imports below (some 4 s: torch, mmengine, mmdet)
    import runpy
    _early = runpy.run_path(osp.join(osp.dirname(osp.abspath(__file__)), '_early_cli.py'))
    _early['require_stack']('tools/measure_latency.py')  # a Python without torch, mmengine, mmdet: which to use
    _cli, _threads = _early['standalone_cli'](), _early['package_constant']('nas.latency', 'DEFAULT_LATENCY_THREADS')
    if _cli is not None and isinstance(_threads, int):
        _parse_counts(build_parser(_cli, _threads), None)  # exits on --help or a usage error; main() parses again

import torch.nn as nn
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from automl_mm.engine.config_read import check_sets_model, config_not_found, read_config
from automl_mm.engine.preflight import merge_options
from automl_mm.engine.preflight_types import located_type_error
from automl_mm.engine.preflight_walk import runner_scope
from automl_mm.engine.tool_args import option_named_error, out_file_folder_problem
from automl_mm.engine.tool_devices import checked_device
from automl_mm.engine.tool_errors import exit_on_refusal
from automl_mm.nas.latency import (
    LatencyTable,
    cost_key,
    measure_latency_table,
    model_channels_last,
    model_head,
)
from automl_mm.registry import MODELS
from automl_mm.utils import register_all_modules


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line (``sys.argv[1:]`` without ``argv``), the counts, ``--device`` and ``--out``'s folder
    checked."""
    parser = build_parser()
    args = _parse_counts(parser, argv)
    checked_device(parser, args.device)
    if osp.isdir(args.out):  # the table was dumped only after every entry was timed
        parser.error(f'--out {args.out} is a folder; give the JSON file to write the latency table to')
    problem = out_file_folder_problem(args.out, '--out')
    if problem is not None:
        parser.error(problem)
    return args


def find_supernet(model: nn.Module) -> nn.Module:
    """The first module of ``model`` (itself included) with the supernet interface."""
    for module in model.modules():
        if hasattr(module, 'set_path') and hasattr(module, 'layer_choices'):
            return module
    raise ValueError(f'no supernet (a module with set_path and layer_choices) in the {type(model).__name__} model')


def main(argv: Sequence[str] | None = None) -> LatencyTable:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(config_not_found(args.config))
    register_all_modules(init_default_scope=True)
    cfg = read_config(args.config)
    merge_options(cfg, args.cfg_options)
    check_sets_model(cfg, args.config)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    input_shape = args.input_shape or (cfg.get('train_cfg') or {}).get('input_shape') or cfg.get('nas_input_shape')
    if input_shape is None:
        raise ValueError('give --input-shape N C H W, or set train_cfg.input_shape (or nas_input_shape) in the config')
    try:
        with DefaultScope.overwrite_default_scope(runner_scope(cfg)):  # as the runner builds it
            model = MODELS.build(cfg.model)
    except KeyError as err:  # a type that scope does not hold ('mmengine' without default_scope): named at its key
        located = located_type_error(err, cfg.model, 'model')
        if located is None:
            raise
        raise located from err
    supernet = find_supernet(model)
    head = model_head(model, supernet)
    channels_last = model_channels_last(model)
    try:
        data = measure_latency_table(supernet, input_shape, args.device, args.repeats, args.warmup, head=head,
                                     channels_last=channels_last, num_threads=args.num_threads)
    except ValueError as err:  # input_shape named as the user gave it: the option or the config key
        given = '--input-shape' if args.input_shape else \
            'train_cfg.input_shape' if (cfg.get('train_cfg') or {}).get('input_shape') else 'nas_input_shape'
        named = option_named_error(err, [], {'input_shape': given})
        if named is None:
            raise
        raise named from err
    table = LatencyTable.from_dict(data)
    table.save(args.out)

    shapes = supernet.layer_input_shapes(tuple(input_shape))
    print(f'{data["device"]}, torch {data["torch"]} with {args.num_threads} thread(s), input {list(input_shape)} '
          f'{"channels_last (NHWC)" if channels_last else "NCHW"}: median of {args.repeats}, in ms')
    fastest = []
    for i, (ops, shape) in enumerate(zip(supernet.layer_choices, shapes)):
        ms = [table.entries[cost_key(i, op, shape)] for op in ops]
        fastest.append(ms.index(min(ms)))
        print(f'layer {i:2d} {cost_key(i, "", shape).split(":")[-1]:>12}: '
              + '  '.join(f'{op}={t:.3f}' for op, t in zip(ops, ms)))
    head_text = (f'head ({type(model.head).__name__}) {data["head_ms"]:.3f} ms' if head is not None
                 else 'no head after the supernet')
    print(f'fixed (stem, final conv, head): {table.fixed:.3f} ms, of which {head_text}; '
          f'fastest path: {table.latency(supernet, fastest):.3f} ms')
    print(f'saved {len(table.entries)} entries to {args.out}')
    return table


if __name__ == '__main__':
    exit_on_refusal(main, 'tools/measure_latency.py')  # a check's message without the traceback above it
