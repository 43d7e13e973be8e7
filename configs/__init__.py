"""Every YAML the suite reads, in one tree grouped by concern (a data-only package).

``experiments/`` (what ``modelprint run`` composes), ``methods/`` (one per registered
method), ``extractor/`` (the flagship's trainings), ``denoiser/``, ``sweeps/`` (W&B sweep
files), ``zoo/`` (the embedded zoo's recipe). Code finds a file with
:func:`core.paths.config_file`, never by path arithmetic.
"""
