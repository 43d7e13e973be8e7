"""The flagship (Yang et al., arXiv 2307.15977) in one place: its network (``network``), its
LightningModule objective (``lightning_module``), its training run directories
(``training``), the registered methods and controls (``methods``) and the shipped
checkpoint (``checkpoint/``). Its training configs are ``configs/extractor/*.yaml``."""
