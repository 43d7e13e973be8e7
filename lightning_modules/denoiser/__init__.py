"""Residual denoisers the fingerprint methods take their noise residual from.

``median3`` and ``gaussian`` are fixed filters (``core.images``); ``dncnn`` is a small
DnCNN-style network the suite trains itself (``modelprint denoiser train``), as the
flagship's paper uses GRIP's learned DnCNN (Yang et al., arXiv 2307.15977; Zhang et al. 2017).
"""
