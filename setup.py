"""Packaging for automl_mm. Dependencies live in requirements/*.txt; tools/install.sh installs them."""
from pathlib import Path

from setuptools import find_packages, setup


def _read_requirements(name: str) -> list[str]:
    lines = (Path(__file__).parent / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='automl_mm',
    version='0.1.0',
    description='AutoML inside training on the OpenMMLab stack: OHL, AM-LFS, PC-NAS, CR-NAS',
    packages=find_packages(include=['automl_mm', 'automl_mm.*']),
    python_requires='>=3.10',
    # mmcv (with compiled ops) is built from source by tools/install.sh, so it is not listed here.
    install_requires=_read_requirements('torch.txt') + _read_requirements('runtime.txt'),
    extras_require={'tests': _read_requirements('tests.txt')},
)
