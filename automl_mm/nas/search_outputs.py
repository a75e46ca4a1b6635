"""The outputs of the one-shot search loops: search checkpoints, result files under ``out_dir``, the exported
final config, and the end of a search (the searched architecture applied, saved and validated).

:class:`SearchOutputs` is a base of :class:`~automl_mm.nas.loop.SearchLoopBase` (so of ``PCNASLoop`` and
``CRNASLoop``); its methods are still reached under their former path (``SearchLoopBase.finish``,
``SearchLoopBase.write_final_config``, ...). The text of the exported config and the checks of
``train_cfg.retrain_config`` are :mod:`~automl_mm.nas.retrain_export`'s; this module writes them.
"""
from __future__ import annotations

import os
import os.path as osp
import time
from collections.abc import Callable

from mmengine.dist import barrier, get_world_size, is_main_process

from automl_mm.engine.rank_failures import agree_on_failure
from automl_mm.utils.io import dump_json_atomic, write_text_atomic

from .retrain_export import recheck_retrain_config, resolved_config_text, retrain_config_text, retrain_copy_name
from .scoring import recalibrate_bn
from .search_log import warn


def _read_from(written: str, absolute: str) -> str:
    """Where the data path ``written`` (as the retrain config has it) was read from at the export, for the copy's
    header beside ``absolute`` (what the copy holds): ``'relative to <cwd>'``, or, for an ``ann_file`` that the
    export joined to its dataset's ``data_root`` (its images read through a backend), ``"joined to its data_root:
    '<path>' relative to <cwd>"`` (it was named relative to the search's directory, where it is not)."""
    cwd = os.getcwd()
    if osp.abspath(written) == osp.abspath(absolute):
        return f'relative to {cwd}'
    return f'joined to its data_root: {osp.relpath(absolute, cwd)!r} relative to {cwd}'


class SearchOutputs:
    """What a search loop writes, and how it ends (a mixin of :class:`~automl_mm.nas.loop.SearchLoopBase`).

    It reads the loop's ``runner``, ``_iter``, ``out_dir`` (the results' folder, under ``work_dir``),
    ``retrain_config`` and ``retrain_checked`` (the subclasses'), ``bn_recalibration_batches``, :meth:`_bn_loader`
    and :meth:`architecture_calls`, and keeps ``_last_search_ckpt`` (the checkpoint the next one replaces),
    ``_last_save`` (:func:`time.time` of the last save, for ``checkpoint_interval_s``), ``_final_architecture`` and
    ``_export_failure`` (a refused export, raised by :meth:`finish`). Files are written by the main process only,
    atomically (:mod:`automl_mm.utils.io`).
    """

    def save_search_checkpoint(self, tag: str) -> None:
        """Save weights, optimiser, schedulers and search state; point ``last_checkpoint`` at it."""
        runner = self.runner
        filename = f'search_{tag}_iter_{self._iter}.pth'
        runner.save_checkpoint(runner.work_dir, filename, meta=dict(epoch=0, iter=self._iter))
        if is_main_process():
            path = osp.join(runner.work_dir, filename)
            write_text_atomic(path, osp.join(runner.work_dir, 'last_checkpoint'))
            if self._last_search_ckpt and self._last_search_ckpt != path and osp.exists(self._last_search_ckpt):
                os.remove(self._last_search_ckpt)
            self._last_search_ckpt = path
        barrier()
        self._last_save = time.time()

    def write_json(self, name: str, data: dict) -> str:
        path = osp.join(self.out_dir, name)
        if is_main_process():
            dump_json_atomic(data, path, indent=2)
        return path

    def write_text(self, name: str, text: str) -> str:
        path = osp.join(self.out_dir, name)
        if is_main_process():
            write_text_atomic(text, path)
        return path

    def remove_output(self, name: str) -> None:
        """Remove ``out_dir/name`` (a plain file; main process) where this search does not write it: another search's
        in the same work_dir (its ``pc_nas_final_config.py`` / ``cr_nas_final_config.py``, of another architecture)
        read as this one's."""
        path = osp.join(self.out_dir, name)
        if is_main_process() and osp.isfile(path) and not osp.islink(path):
            os.remove(path)
            warn(f'removed {path}: an earlier search\'s output in the same work_dir, which this search does not write')

    def write_final_config(self, final_name: str, model_override: str, comment: str) -> str:
        """Write ``out_dir/final_name``: ``self.retrain_config`` with ``model_override`` over it.

        The retrain config as it resolves now (:func:`~automl_mm.nas.retrain_export.resolved_config_text`) is written
        beside it (:func:`retrain_copy_name`, e.g. ``pc_nas_retrain_config.py``), and the final config inherits that
        copy by a path relative to its own folder, so the work dir loads when copied to another checkout or machine
        (it inherited the retrain config by its absolute path). Where the resolved config has no text that loads back
        the same (a class object as a value), it inherits ``self.retrain_config`` by its absolute path, with a warning.
        Environment variables the retrain config reads (``{{$VAR:default}}``) are written as their values at the
        export, with a warning naming them. Its data paths relative to the search's directory (``data_root``,
        ``ann_file``, ``proposal_file``, ``data_prefix``, ``seg_prefix``:
        :func:`~automl_mm.nas.retrain_export.absolute_data_paths`; not those a remote backend reads, e.g. through
        petrel's ``path_mapping``) are written absolute where they exist there, the
        copy's header naming each as written (mmengine reads them from the directory a retrain starts in: a work dir
        retrained elsewhere read other data, or none), and those that do not are named in a warning, as is a local
        ``ann_file`` / ``proposal_file`` of a dataset that reads its images through a backend, kept relative where
        it is not found here, and an ``ann_file`` of a dataset with its own backend whose class cannot be told to
        read it through that backend (:func:`~automl_mm.nas.retrain_export.absolute_data_paths`' ``kept``; one it
        reads from the local disk and found here is written absolute, its ``data_root`` left for the images).

        Returns:
            The path of the final config.
        """
        from automl_mm.engine.config_read import read_config

        copy_name = retrain_copy_name(final_name)
        data_paths: list = []
        text = resolved_config_text(self.retrain_config, data_paths)
        if text is None:
            self.remove_output(copy_name)
            warn(f'train_cfg.retrain_config {self.retrain_config} holds a value with no config text (e.g. a class '
                 f'object): {final_name} inherits it by its absolute path, and loads only where that file is')
            rewritten, left, kept = data_paths[0]
            relative = [f'{key}={value!r}' for key, value, _ in rewritten] + [f'{key}={value!r}' for key, value in left]
            relative += [f'{key}={value}' for key, value in kept]  # the value's text written with its data_root
            if relative:
                listed = ', '.join(relative)
                warn(f'train_cfg.retrain_config {self.retrain_config}: its data paths {listed} are relative to the '
                     f'directory a run starts in ({os.getcwd()} for the search): retrain {final_name} from there, or '
                     'make them absolute')
            base = self.retrain_config
        else:
            header = (f'# train_cfg.retrain_config {osp.abspath(self.retrain_config)} as the search resolved it '
                      f'(its _base_ chain merged), inherited by {final_name}\n')
            rewritten, left, kept = data_paths[0]
            if rewritten:  # the originals, for a reader who moves the data with the work dir
                header += ''.join(f'# {key}: {old!r} ({_read_from(old, new)}) written as {new!r}\n'
                                  for key, old, new in rewritten)
            self.write_text(copy_name, header + text)
            base = f'./{copy_name}'
            if left:
                listed = ', '.join(f'{key}={value!r}' for key, value in left)
                warn(f'train_cfg.retrain_config {self.retrain_config}: {listed} not found from {os.getcwd()}, where '
                     f'the search ran: {copy_name} keeps them relative, and a retrain reads them from the directory it '
                     'starts in')
            if kept:  # petrel's path_mapping maps the data_root they share with the images, as written
                listed = ', '.join(f'{key}={value}' for key, value in kept)
                warn(f'train_cfg.retrain_config {self.retrain_config}: {listed} kept as written, relative to the '
                     f'directory a run starts in ({os.getcwd()} for the search): its dataset reads its images '
                     "through a storage backend (its own or its pipeline's backend_args), whose path mapping would "
                     'not match the paths made absolute, but reads this file from the local disk, where it is not '
                     'found (or cannot be told not to, as said): '
                     f'{copy_name} keeps it relative, so retrain from that directory, or give the file an absolute '
                     'path (or the backend) in the config')
            # mmengine substitutes {{$VAR:default}} as it loads: the copy holds this machine's value, where inheriting
            # the retrain config read the variable again where it was retrained
            env = read_config(self.retrain_config).env_variables
            if env:
                values = ', '.join(f'{name}={value!r}' for name, value in sorted(env.items()))
                warn(f'train_cfg.retrain_config {self.retrain_config} reads environment variable(s) ({values} here): '
                     f'{copy_name} holds these values, as the search resolved them, not the variables; a retrain '
                     f'elsewhere reads them as written (override the keys they set with --cfg-options)')
        return self.write_text(final_name, retrain_config_text(base, model_override, comment))

    def retrain_config_exportable(self, final_name: str, check: Callable[[], None]) -> bool:
        """Whether ``out_dir/final_name`` (the config inheriting ``self.retrain_config``) may be written: the
        retrain config is as the start checked it (``self.retrain_checked``, its
        :func:`~automl_mm.nas.retrain_export.retrain_config_snapshot`), or edited and passing ``check`` again
        (:func:`~automl_mm.nas.retrain_export.recheck_retrain_config`). Otherwise a final config of an earlier
        search is removed and the refusal is kept for :meth:`finish` to raise, after the searched architecture is
        applied, saved and validated: the result and the backbone fragment, written before, are kept, and a resume
        from the final checkpoint exports again."""
        failure = recheck_retrain_config(self.retrain_config, getattr(self, 'retrain_checked', None), check)
        if failure is None:
            return True
        self.remove_output(final_name)
        self.remove_output(retrain_copy_name(final_name))
        self._export_failure = ValueError(
            f'{failure}. {final_name} was not written (the search\'s result and backbone fragment are, under '
            f'{self.out_dir}): restore or fix train_cfg.retrain_config and resume the run (--resume) to export again')
        return False

    def finish(self, apply_best: Callable[[], None]) -> None:
        """Apply the searched architecture (re-estimating BN if configured), save the final checkpoint
        (``search_final_iter_N.pth``, in ``last_checkpoint``: these weights and statistics, and the architecture
        under ``checkpoint['nas_search']['architecture']``, which ``tools/test.py`` applies), then validate it once
        if there is a val loop. The checkpoint used to be saved before the re-estimation, without the
        architecture: testing it scored another network than the final validation. Then the export's refusal of a
        retrain config edited during the search (:meth:`retrain_config_exportable`), if any, is raised.

        Raises:
            ValueError: the export's refusal, naming ``train_cfg.retrain_config``, on the ranks that refused.
            RankFailure: on the other ranks of a distributed search, naming the lowest refusing rank and its error
                (:func:`~automl_mm.engine.rank_failures.agree_on_failure`).
        """
        from .search_step import share_rank0_statistics  # read as it runs: one name to patch, as for run_step

        apply_best()
        if get_world_size() > 1:  # each rank validates its shard of the val split with the checkpoint's statistics
            share_rank0_statistics(self.runner.model)
        if self.bn_recalibration_batches:
            recalibrate_bn(self.runner.model, self._bn_loader())
        self._final_architecture = self.architecture_calls()
        self.save_search_checkpoint('final')
        if self.runner.val_loop is not None:
            self.runner.val_loop.run()
        failure = getattr(self, '_export_failure', None)  # the export's refusal of an edited retrain config
        if get_world_size() > 1:
            # each rank re-read the file (node-local checkouts, an edit between two ranks' reads): one rank refusing
            # while the others went on into after_train left them in its collectives; now every rank stops
            agree_on_failure(failure, 'the export of train_cfg.retrain_config')
        if failure is not None:
            raise failure
