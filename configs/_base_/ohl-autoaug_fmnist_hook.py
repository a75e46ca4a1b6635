# The OHLHook of the Fashion-MNIST OHL-Auto-Aug configs, classification and detection alike (a leaf adds its
# reward_key): 4 copies, one trunk per epoch; independent first / second element factors, E + E logits instead
# of E x E (for the 36, 72 instead of 1,296, so each trunk's 4 x 1,000 sampled pairs give ~110 samples per element
# rather than ~3 per pair), sized from the leaf's OHLAutoAugment (factor_sizes (E, E) for its E elements); the
# public reimplementation's Adam lr 0.05, betas (0.5, 0.999). Scope-prefixed: it works in mmdet-scoped leaves too.
num_copies = 4
ohl_autoaug_hook = dict(
    type='automl_mm.OHLHook',
    num_copies=num_copies,
    trunk_epochs=1,
    spaces=[dict(type='PipelineChoiceSpace', key='autoaug',
                 distribution=dict(type='FactorisedCategorical'))],
    controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))))
