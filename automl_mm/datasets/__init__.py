"""Datasets (digits, Fashion-MNIST, CIFAR-10, image folders, generated COCO sets of shapes and of Fashion-MNIST
items) and classification transforms."""
from .cifar import CIFAR10Dataset, read_cifar_batch
from .digits import DigitsDataset
from .fashion_mnist import FashionMNISTDataset, read_idx
from .fmnist_det import generate_fmnist_det
from .image_folder import ImageFolderDataset
from .noisy_labels import NoisyLabelDataset
from .splits import stratified_split
from .synthetic_coco import generate_coco
from .torchvision_augment import TorchvisionAugment
from .transforms import PackClsInputs, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = ['CIFAR10Dataset', 'DigitsDataset', 'FashionMNISTDataset', 'ImageFolderDataset', 'NoisyLabelDataset',
           'PackClsInputs', 'RandomCrop', 'RandomResizedCrop', 'ResizeShortEdge', 'TorchvisionAugment', 'generate_coco',
           'generate_fmnist_det', 'read_cifar_batch', 'read_idx', 'stratified_split']
