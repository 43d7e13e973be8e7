"""Train the DnCNN residual denoiser on the packaged real photos (Gaussian denoising).

Training data are the real photo sets that ship with installed packages (``photos``,
``faces``: the same sets synthetic models take as input) - never a real generator's image.
Each step adds white Gaussian noise of a random strength (``sigma_min``..``sigma_max`` grey
levels of 255) and the network learns to predict that noise (DnCNN's residual objective,
mean squared error). The last ``val_fraction`` of the photos are held out; the run records
the PSNR of the denoised images on them at ``val_sigma``.

A run directory holds ``config.yaml``, ``dncnn.safetensors``, ``summary.json`` and ``log/``
(Lightning's CSVLogger); the suite ships one in ``lightning_modules/denoiser/checkpoint/``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import yaml
from lightning.pytorch.loggers import CSVLogger
from safetensors.torch import save_file
from torch.utils.data import DataLoader, TensorDataset

from core.hashing import sha256_file
from core.quiet_trainer import quiet_trainer
from core.run_directory import load_run
from core.seeding import seed_all
from core.yaml_config import read_dataclass_yaml
from datamodules.synthetic.datamodule import input_photos
from lightning_modules.denoiser.network import DnCNN, Residual

WEIGHTS_FILE = "dncnn.safetensors"
SHIPPED_DENOISER = Path(__file__).resolve().parent / "checkpoint"


@dataclass
class DenoiserConfig:
    """Network size, noise range, data and schedule of one denoiser training."""

    depth: int = 8
    width: int = 32
    sigma_min: float = 1.0
    sigma_max: float = 15.0
    val_sigma: float = 5.0
    sources: list[str] = field(default_factory=lambda: ["photos", "faces"])
    resolution: int = 32
    val_fraction: float = 0.1
    batch_size: int = 64
    steps: int = 1500
    lr: float = 1e-3
    seed: int = 0

    @classmethod
    def from_yaml(cls, path: str | Path) -> DenoiserConfig:
        return cls(**read_dataclass_yaml(cls, path))


class DenoiserTraining(L.LightningModule):
    """Residual learning: ``mse(net(x + n), n)`` with ``n ~ N(0, sigma^2)``, sigma per image."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = DnCNN(cfg.depth, cfg.width)

    def _noise(self, images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return torch.randn_like(images) * (sigma * 2 / 255)[:, None, None, None]

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        clean = batch[0]
        clean = torch.where(torch.rand(len(clean), 1, 1, 1) < 0.5, clean, clean.flip(-1))
        sigma = torch.empty(len(clean)).uniform_(self.cfg.sigma_min, self.cfg.sigma_max)
        noise = self._noise(clean, sigma)
        loss = F.mse_loss(self.net(clean + noise), noise)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        clean = batch[0]
        generator = torch.Generator().manual_seed(batch_idx)
        noise = torch.randn(clean.shape, generator=generator) * (self.cfg.val_sigma * 2 / 255)
        noisy = clean + noise
        denoised = noisy - self.net(noisy)
        self.log_dict({"val/psnr_noisy": psnr(noisy, clean), "val/psnr_denoised": psnr(denoised, clean)})

    def configure_optimizers(self) -> Any:
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.cfg.lr)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=self.cfg.steps)
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def psnr(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = F.mse_loss(images.clamp(-1, 1), reference).clamp_min(1e-12)
    return 10 * torch.log10(4 / mse)


def train_denoiser(cfg: DenoiserConfig, out: Path) -> dict[str, Any]:
    """Train into ``out`` (config, weights, summary, CSV log); a finished run is reused."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "summary.json").is_file() and (out / WEIGHTS_FILE).is_file():
        return json.loads((out / "summary.json").read_text())
    (out / "config.yaml").write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    seed_all(cfg.seed)
    photos = input_photos(cfg.sources, cfg.resolution).float() / 127.5 - 1
    order = torch.randperm(len(photos), generator=torch.Generator().manual_seed(cfg.seed))
    n_val = max(1, round(len(photos) * cfg.val_fraction))
    train, val = photos[order[n_val:]], photos[order[:n_val]]
    module = DenoiserTraining(cfg)
    trainer = quiet_trainer(
        max_steps=cfg.steps,
        max_epochs=-1,
        logger=CSVLogger(out, name="log"),  # a folder per attempt: nothing deleted
        log_every_n_steps=25,
        val_check_interval=None,
        check_val_every_n_epoch=max(1, cfg.steps // max(1, len(train) // cfg.batch_size) // 4),
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    trainer.fit(
        module,
        DataLoader(TensorDataset(train), batch_size=cfg.batch_size, shuffle=True, drop_last=True),
        DataLoader(TensorDataset(val), batch_size=256),
    )
    wall = time.perf_counter() - start
    final = trainer.validate(module, DataLoader(TensorDataset(val), batch_size=256), verbose=False)[0]
    save_file({k: v.contiguous() for k, v in module.net.state_dict().items()}, str(out / WEIGHTS_FILE))
    summary = {
        "steps": cfg.steps,
        "train_images": len(train),
        "val_images": len(val),
        "wall_time_s": wall,
        "metrics": {k: float(v) for k, v in final.items()},
        "weights_sha256": sha256_file(out / WEIGHTS_FILE),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def load_dncnn(directory: str | Path = SHIPPED_DENOISER) -> DnCNN:
    """The trained DnCNN of a run directory (config + safetensors)."""

    def build(config: Path) -> DnCNN:
        cfg = DenoiserConfig.from_yaml(config)
        return DnCNN(cfg.depth, cfg.width)

    return load_run(directory, WEIGHTS_FILE, build, "denoiser", "train one with `modelprint denoiser train`")


def build_residual(name: str, denoiser_checkpoint: str | Path | None = None) -> Residual:
    """The residual extractor for a denoiser name (``dncnn`` loads the shipped network)."""
    if name == "dncnn":
        return Residual(name, load_dncnn(denoiser_checkpoint or SHIPPED_DENOISER))
    return Residual(name)
