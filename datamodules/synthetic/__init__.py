"""The synthetic-model set (Yang et al., arXiv 2307.15977): random generators from real blocks."""
