"""The synthetic-model set of Yang et al. (arXiv 2307.15977): random generators built from real ones' blocks."""
