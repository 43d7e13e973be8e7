"""Peer benchmarks' data layouts by name: ``--dataset=imageattributionbench``, ``aigenbench``,
``communityforensics``, ``drct``, ``synthbuster``.

Each module knows one peer's layout as its public code reads it - folder or column names, its
generator names, its real class and, where it has them, its semantic split and unseen groups -
so a run on a downloaded copy needs no ``dataset_args`` beyond where it lies. Hugging Face
layouts are presets of the ``hf`` loader and Synthbuster one of ``imagefolder``; the folder
layouts that no existing loader reads (ImageAttributionBench's semantic sub-folders, DRCT-2M's
COCO-named parts) share :mod:`datamodules.peers.folders`.
"""
