# Model copies for OHL (automl_mm/ohl/copies.py): every config with an OHLHook inherits this file in place of
# default_runtime.py, so that its runner, sampler, model wrapper and process-group settings agree with the hook.
# mmengine refuses a key that two sibling bases both define, and every dataset base defines train_dataloader, so
# the sampler is named here (copy_sampler) and a leaf's train_dataloader takes it as its sampler.
# Every automl_mm type here carries its scope prefix, so the same settings work in mmdet-scoped leaves
# (default_scope = 'mmdet': the detection OHL-Auto-Aug configs) as in automl_mm-scoped ones.
_base_ = ['./default_runtime.py']

runner_type = 'automl_mm.CopyRunner'  # creates the copy layout of the OHLHook (world size check, process groups)
copy_sampler = dict(type='automl_mm.CopySampler', shuffle=True)  # each copy sees the whole training set, in its own order
model_wrapper_cfg = dict(type='automl_mm.CopyDataParallel')  # DDP inside a copy only; copies train independently
env_cfg = dict(dist_cfg=dict(backend='nccl', timeout=300))  # a hung rank fails the run after 5 minutes
default_hooks = dict(finite_loss=dict(type='automl_mm.FiniteLossHook'))
