# CIFAR-10 schedule: SGD, lr 0.1, Nesterov, weight decay 5e-4, cosine over 200 epochs (a common WRN/ResNet recipe).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, convert_to_iter_based=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(base_batch_size=128)
