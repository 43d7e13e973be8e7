"""How each zoo family is trained and sampled, as LightningModules.

One module per family, with the family's own objective:

* ``GANGenerator`` - adversarial training (manual optimisation, one critic and one generator
  step per batch) with the non-saturating (Goodfellow et al. 2014), hinge (Miyato et al.
  2018), least-squares (Mao et al. 2017) or WGAN-GP (Gulrajani et al. 2017, lambda 10) loss.
  Scaled for CPU: one critic step per generator step also for WGAN-GP (the paper uses five;
  ``critic_steps`` sets it, each critic step on its own batch of real images).
* ``VAEGenerator`` - a Gaussian VAE (Kingma & Welling 2014), fixed-variance decoder, sampled
  by default from a Gaussian fitted to the training set's posterior means (ex-post density
  estimation, Ghosh et al. 2020) rather than from N(0, I): see the class.
* ``DiffusionGenerator`` - DDPM (Ho et al. 2020: 1,000 linear-beta steps, epsilon
  prediction, sampling from an EMA of the weights), sampled with 50 deterministic DDIM
  steps (Song et al. 2021). Scaled for CPU: EMA decay 0.995 instead of 0.9999.
* ``AutoregressiveGenerator`` - PixelCNN++ (Salimans et al. 2017; PixelCNN: van den Oord et al.
  2016) with categorical sub-pixels, sampled pixel by pixel in raster order.

Every family exposes ``sample(n, seed)`` returning uint8 images, deterministic in the seed.
Each takes ``network``: keyword settings for its main network's constructor (the GAN's
generator, the VAE's decoder, the U-Net, the PixelCNN), from the recipe's architecture entry,
so that a recipe can size a network (the tests' tiny zoo uses a narrow PixelCNN) without code.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from datamodules.zoo import architectures as arch
from datamodules.zoo.resume import SamplingProgress

GAN_LOSSES = ("non_saturating", "hinge", "least_squares", "wgan_gp")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class ZooGenerator(L.LightningModule):
    """Common parts: a running average of each loss (reported in the manifest) and sampling."""

    family: str = ""

    @property
    def optimizer_steps_per_iteration(self) -> int:
        """Lightning's ``max_steps`` counts optimiser steps; an iteration may take several."""
        return 1

    @property
    def real_batches_per_iteration(self) -> int:
        """How many batches of real images one iteration reads (the loader hands them together)."""
        return 1

    def __init__(self) -> None:
        super().__init__()
        self.final_losses: dict[str, float] = {}
        self.iterations = 0

    def track(self, **losses: torch.Tensor) -> None:
        """Record one training iteration's losses (call once per ``training_step``)."""
        self.iterations += 1
        for name, value in losses.items():
            v = float(value.detach())
            self.final_losses[name] = (
                v if name not in self.final_losses else 0.98 * self.final_losses[name] + 0.02 * v
            )
            self.log(name, v, on_step=True, prog_bar=False)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning restores weights, optimisers and the step count; the iteration count and
        # the running losses (the manifest's final_losses) are this module's own progress.
        checkpoint["zoo_progress"] = {"iterations": self.iterations, "final_losses": dict(self.final_losses)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        progress = checkpoint["zoo_progress"]
        self.iterations, self.final_losses = progress["iterations"], dict(progress["final_losses"])

    @torch.no_grad()
    def sample(
        self, n: int, seed: int, batch_size: int = 100, progress: SamplingProgress | None = None
    ) -> torch.Tensor:
        """``n`` uint8 images drawn in batches from one generator seeded with ``seed``. With
        ``progress``, each finished batch is kept there and a sampling killed part way goes on
        from its last kept batch to the same images."""
        if progress and (progress.seed, progress.batch_size) != (seed, batch_size):
            raise ValueError(
                f"sampling progress of {progress.seed=}, {progress.batch_size=} for {seed=}, {batch_size=}"
            )
        self.eval()
        gen = torch.Generator().manual_seed(seed)
        batches = progress.restore(gen) if progress else []
        start = time.perf_counter()
        for i in range(sum(len(b) for b in batches), n, batch_size):
            batches.append(to_uint8(self._sample(min(batch_size, n - i), gen)).cpu())
            if progress:
                progress.save(batches, gen, time.perf_counter() - start)
        return torch.cat(batches)

    def noise(self, *shape: int, gen: torch.Generator) -> torch.Tensor:
        """Seeded noise drawn on the CPU (the same numbers on any device), moved to the model's."""
        return torch.randn(*shape, generator=gen).to(self.device)

    def _sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError


GAN_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "dcgan": arch.DCGANGenerator,
    "upconv_nearest": functools.partial(arch.UpsampleConvGenerator, mode="nearest"),
    "upconv_bilinear": functools.partial(arch.UpsampleConvGenerator, mode="bilinear"),
    "pixelshuffle": arch.PixelShuffleGenerator,
    "residual": arch.ResidualGenerator,
    "stylegan2_lite": arch.StyleGenerator,
}


class GANGenerator(ZooGenerator):
    family = "gan"

    def __init__(
        self,
        architecture: str,
        loss: str,
        resolution: int = 32,
        lr: float = 2e-4,
        critic_steps: int = 1,
        network: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if loss not in GAN_LOSSES:
            raise ValueError(f"unknown GAN loss {loss!r}; valid: {GAN_LOSSES}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = GAN_ARCHITECTURES[architecture](resolution, **(network or {}))
        self.critic = arch.ConvDiscriminator(resolution, spectral_norm=loss != "wgan_gp")

    @property
    def optimizer_steps_per_iteration(self) -> int:
        return self.hparams.critic_steps + 1

    @property
    def real_batches_per_iteration(self) -> int:
        return self.hparams.critic_steps  # a fresh real batch for each critic step

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = (0.0, 0.9) if self.hparams.loss == "wgan_gp" else (0.5, 0.999)
        # a generator from a paper with its own optimiser settings (StyleGAN2's equalised-lr
        # weights) declares them; both networks then use its betas, the generator its lr scale
        betas = getattr(self.generator, "adam_betas", betas)
        generator_lr = self.hparams.lr * getattr(self.generator, "lr_multiplier", 1.0)
        return [
            torch.optim.Adam(self.generator.parameters(), lr=generator_lr, betas=betas),
            torch.optim.Adam(self.critic.parameters(), lr=self.hparams.lr, betas=betas),
        ]

    def _critic_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        d_real, d_fake = self.critic(real), self.critic(fake)
        loss = self.hparams.loss
        if loss == "non_saturating":
            return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        if loss == "hinge":
            return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        if loss == "least_squares":
            return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mixed).sum(), mixed, create_graph=True)
        penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        return d_fake.mean() - d_real.mean() + 10.0 * penalty

    def _generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        d_fake = self.critic(fake)
        loss = self.hparams.loss
        if loss == "non_saturating":
            return F.softplus(-d_fake).mean()
        if loss == "least_squares":
            return 0.5 * ((d_fake - 1) ** 2).mean()
        return -d_fake.mean()  # hinge and WGAN-GP

    def training_step(self, batch: tuple[torch.Tensor], _: int) -> None:
        (reals,) = batch
        opt_g, opt_d = self.optimizers()
        # each critic step sees its own real batch, as WGAN-GP's algorithm 1 samples one per step
        for real in reals.chunk(self.hparams.critic_steps):
            z = torch.randn(real.shape[0], arch.Z_DIM, device=real.device)
            d_loss = self._critic_loss(real, self.generator(z).detach())
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            opt_d.step()
        g_loss = self._generator_loss(self.generator(z))
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.track(loss_critic=d_loss, loss_generator=g_loss)

    def _sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.generator(self.noise(n, arch.Z_DIM, gen=gen))


VAE_DECODERS: dict[str, Callable[..., nn.Module]] = {
    "vae_deconv": arch.DCGANGenerator,
    "vae_pixelshuffle": arch.PixelShuffleGenerator,
}


VAE_PRIORS = ("fitted", "standard")


class VAEGenerator(ZooGenerator):
    """A Gaussian VAE. ``prior`` says where sampling draws its latents from:

    * ``"standard"`` - N(0, I), the prior of the ELBO (Kingma & Welling 2014). With the zoo's
      sharp decoder (``decoder_sigma`` 0.1) the posterior means spread wider than the prior
      (on the shapes set, a standard deviation of about 2 a dimension, posterior variances
      about 0.007), so prior draws land between the codes of real images and decode to
      averages of them: blurred blobs of mixed colours (zoo builds 1-3).
    * ``"fitted"`` (revision 2, the default) - a full-covariance Gaussian fitted, once training
      ends, to the posterior means of the training set: the ex-post density estimation of
      Ghosh et al. (ICLR 2020), its simplest (one-component) form. Training is unchanged.
    """

    family = "vae"

    def __init__(
        self,
        architecture: str,
        loss: str = "elbo",
        resolution: int = 32,
        lr: float = 1e-3,
        decoder_sigma: float = 0.1,
        prior: str = "fitted",
        network: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if prior not in VAE_PRIORS:
            raise ValueError(f"unknown VAE prior {prior!r}; valid: {', '.join(VAE_PRIORS)}")
        self.save_hyperparameters()
        self.encoder = arch.ConvEncoder(resolution)
        self.decoder = VAE_DECODERS[architecture](resolution, **(network or {}))
        # the sampling prior, N(prior_mean, L L^T) with L = prior_scale_tril; N(0, I) until fitted
        self.register_buffer("prior_mean", torch.zeros(arch.Z_DIM))
        self.register_buffer("prior_scale_tril", torch.eye(arch.Z_DIM))

    def on_train_end(self) -> None:
        if self.hparams.prior == "fitted":
            self.fit_prior(self.trainer.train_dataloader)

    @torch.no_grad()
    def fit_prior(self, batches: Iterable[tuple[torch.Tensor]]) -> None:
        """Fit the sampling prior to the posterior means of the images in ``batches``."""
        self.eval()
        means = torch.cat([self.encoder(x.to(self.device))[0].float() for (x,) in batches])
        covariance = torch.cov(means.T) + 1e-4 * torch.eye(means.shape[1], device=means.device)
        self.prior_mean.copy_(means.mean(0))
        self.prior_scale_tril.copy_(torch.linalg.cholesky(covariance))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def training_step(self, batch: tuple[torch.Tensor], _: int) -> torch.Tensor:
        (x,) = batch
        mean, log_var = self.encoder(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        recon = ((self.decoder(z) - x) ** 2).flatten(1).sum(1).mean() / (2 * self.hparams.decoder_sigma**2)
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1).mean()
        self.track(loss_reconstruction=recon, loss_kl=kl)
        return recon + kl

    def _sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.decoder(self.prior_mean + self.noise(n, arch.Z_DIM, gen=gen) @ self.prior_scale_tril.T)


class DiffusionGenerator(ZooGenerator):
    family = "diffusion"

    def __init__(
        self,
        architecture: str = "ddpm_unet",
        loss: str = "epsilon_mse",
        resolution: int = 32,
        lr: float = 2e-4,
        timesteps: int = 1000,
        sampling_steps: int = 50,
        ema_decay: float = 0.995,
        network: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.unet = arch.UNet(resolution, **(network or {}))
        # Ho et al. sample from an exponential moving average of the weights (0.9999 over
        # 800k steps); 0.995 suits the zoo's short CPU runs.
        self.ema = torch.optim.swa_utils.AveragedModel(
            self.unet, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay)
        )
        betas = torch.linspace(1e-4, 0.02, timesteps)
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas, 0))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.unet.parameters(), lr=self.hparams.lr)

    def training_step(self, batch: tuple[torch.Tensor], _: int) -> torch.Tensor:
        (x,) = batch
        t = torch.randint(0, self.hparams.timesteps, (x.shape[0],), device=x.device)
        noise = torch.randn_like(x)
        a = self.alpha_bar[t].view(-1, 1, 1, 1)
        loss = F.mse_loss(self.unet(a.sqrt() * x + (1 - a).sqrt() * noise, t), noise)
        self.track(loss_epsilon=loss)
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        # The EMA follows each optimiser step here rather than in on_train_batch_end, which runs
        # after the callbacks' hook of the same name: a resume checkpoint taken there would
        # miss the batch's EMA update.
        super().optimizer_step(*args, **kwargs)
        self.ema.update_parameters(self.unet)

    def _sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        res = self.hparams.resolution
        x = self.noise(n, 3, res, res, gen=gen)
        steps = torch.linspace(self.hparams.timesteps - 1, 0, self.hparams.sampling_steps).long()
        for i, t in enumerate(steps):
            a = self.alpha_bar[t]
            a_prev = self.alpha_bar[steps[i + 1]] if i + 1 < len(steps) else torch.ones_like(a)
            eps = self.ema.module(x, t.repeat(n).to(self.device))
            x0 = ((x - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x


class AutoregressiveGenerator(ZooGenerator):
    family = "autoregressive"

    def __init__(
        self,
        architecture: str = "pixelcnn",
        loss: str = "categorical_nll",
        resolution: int = 32,
        lr: float = 1e-3,
        levels: int = 16,
        network: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = arch.PixelCNN(resolution, levels=levels, **(network or {}))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def _quantise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2 * self.hparams.levels).floor().clamp(0, self.hparams.levels - 1).long()

    def _level_value(self, level: torch.Tensor) -> torch.Tensor:
        return (level.float() + 0.5) / self.hparams.levels * 2 - 1

    def training_step(self, batch: tuple[torch.Tensor], _: int) -> torch.Tensor:
        (x,) = batch
        target = self._quantise(x)
        logits = self.net(self._level_value(target))
        loss = F.cross_entropy(logits.permute(0, 2, 1, 3, 4), target)
        self.track(loss_nll=loss)
        return loss

    def _sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        res, multiple = self.hparams.resolution, self.net.row_multiple
        x = torch.zeros(n, 3, res, res, device=self.device)
        for i in range(res):
            rows = min(res, (i // multiple + 1) * multiple)  # row i depends on rows 0..i only
            for j in range(res):
                probs = self.net(x[:, :, :rows])[:, :, :, i, j].float().softmax(dim=2)
                level = torch.multinomial(probs.reshape(-1, self.hparams.levels).cpu(), 1, generator=gen)
                x[:, :, i, j] = self._level_value(level.view(n, 3)).to(self.device)
        return x


FAMILIES: dict[str, type[ZooGenerator]] = {
    "gan": GANGenerator,
    "vae": VAEGenerator,
    "diffusion": DiffusionGenerator,
    "autoregressive": AutoregressiveGenerator,
}


# Constructor keywords the recipe sets elsewhere (the architecture entry, the resolution).
_SET_BY_RECIPE = ("self", "architecture", "loss", "resolution", "network")


def family_settings(family: str) -> tuple[str, ...]:
    """The training settings of a family that a recipe override may set per generator (``lr``,
    the VAE's ``decoder_sigma``, the DDPM's ``ema_decay`` ...): its constructor's keywords, read
    from the signature so that a new setting needs no second list."""
    parameters = inspect.signature(_family_class(family).__init__).parameters
    return tuple(name for name in parameters if name not in _SET_BY_RECIPE)


def _family_class(family: str) -> type[ZooGenerator]:
    if family not in FAMILIES:
        raise KeyError(f"unknown zoo family {family!r}; valid: {', '.join(FAMILIES)}")
    return FAMILIES[family]


def create_zoo_generator(family: str, **kwargs: Any) -> ZooGenerator:
    family_class = _family_class(family)
    try:
        return family_class(**kwargs)
    except TypeError as error:  # most often a misspelt key under the recipe's ``network``
        name = kwargs.get("architecture", family)
        raise TypeError(f"zoo generator {name!r} with {kwargs}: {error}") from error
