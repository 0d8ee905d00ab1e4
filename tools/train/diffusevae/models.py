"""The three networks: stage-1 VAE, stage-2 ε-prediction U-Net, and the FID-FMNIST classifier.

Upsampling is nearest-neighbour + conv everywhere: on the CPU torch build we train with,
ConvTranspose2d trains about 2x slower for no gain at this size.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- stage 1: VAE
class VAEEncoder(nn.Module):
    """x [B, C, H, W] in [-1, 1] -> (mu, logvar), each [B, z_dim]."""

    def __init__(self, channels=1, resolution=28, z_dim=32, width=32):
        super().__init__()
        assert resolution % 4 == 0, "resolution must be divisible by 4"
        self.conv = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1), nn.SiLU(),      # H/2
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width * 2, width * 2, 4, stride=2, padding=1), nn.SiLU(),  # H/4
        )
        feat = width * 2 * (resolution // 4) ** 2
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(feat, 256), nn.SiLU())
        self.mu = nn.Linear(256, z_dim)
        self.logvar = nn.Linear(256, z_dim)

    def forward(self, x):
        h = self.fc(self.conv(x))
        return self.mu(h), self.logvar(h)


class VAEDecoder(nn.Module):
    """z [B, z_dim] -> x̂ [B, C, H, W] in [-1, 1]."""

    def __init__(self, channels=1, resolution=28, z_dim=32, width=32):
        super().__init__()
        self.base = resolution // 4
        self.width = width
        self.fc = nn.Sequential(nn.Linear(z_dim, 256), nn.SiLU(), nn.Linear(256, width * 2 * self.base ** 2), nn.SiLU())
        self.conv = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(width * 2, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, z):
        h = self.fc(z).view(z.shape[0], self.width * 2, self.base, self.base)
        return torch.tanh(self.conv(h))


class VAE(nn.Module):
    def __init__(self, channels=1, resolution=28, z_dim=32, width=32):
        super().__init__()
        self.encoder = VAEEncoder(channels, resolution, z_dim, width)
        self.decoder = VAEDecoder(channels, resolution, z_dim, width)

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


# ----------------------------------------------------------------------------- stage 2: U-Net
def timestep_embedding(t, dim):
    """Sinusoidal embedding of integer timesteps (Ho et al. 2020, from the Transformer), [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class NoiseLevelTime(nn.Module):
    """Continuous noise conditioning: the noise level γ = √ᾱ (any value in (0, 1]) becomes a continuous time τ,
    the piecewise-linear inverse of -log ᾱ over the training schedule (τ(√ᾱ_t) = t exactly, τ(1) = -1, clamped
    at T-1 beyond the noisiest level). The sinusoidal embedding of τ is then what a discrete-timestep network
    sees, so a Formulation-1 network is the natural start for fine-tuning, and any inference schedule works."""

    def __init__(self, alpha_bars):
        super().__init__()
        levels = torch.cat([torch.zeros(1, dtype=torch.float64), -torch.log(torch.as_tensor(alpha_bars, dtype=torch.float64))])
        self.register_buffer("lo", levels[:-1].float()[None, :], persistent=False)
        self.register_buffer("inv_width", (1.0 / (levels[1:] - levels[:-1])).float()[None, :], persistent=False)

    def forward(self, gamma):
        level = -2.0 * torch.log(gamma.to(torch.float32))[:, None]
        return torch.clamp((level - self.lo) * self.inv_width, 0.0, 1.0).sum(dim=1) - 1.0


def _norm(ch):
    return nn.GroupNorm(min(8, ch), ch)


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, temb_dim, dropout=0.0):
        super().__init__()
        self.norm1 = _norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_ch)
        self.norm2 = _norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over spatial positions (used at the lowest resolution only)."""

    def __init__(self, ch):
        super().__init__()
        self.norm = _norm(ch)
        self.qkv = nn.Conv2d(ch, ch * 3, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c), dim=-1)  # [B, HW, HW]
        out = torch.bmm(v, attn.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.proj(out)


class UNet(nn.Module):
    """ε_θ(x_t, t, cond): the conditioning image is concatenated to x_t on the channel axis at the input."""

    def __init__(self, channels=1, base=32, mults=(1, 2, 2), num_res_blocks=2, attn_levels=(2,), dropout=0.0,
                 noise_levels=None):
        super().__init__()
        self.channels = channels
        self.base = base
        # discrete: the second input is the integer timestep t; continuous: the noise level √ᾱ (NoiseLevelTime)
        self.level_time = NoiseLevelTime(noise_levels) if noise_levels is not None else None
        temb_dim = base * 4
        self.temb = nn.Sequential(nn.Linear(base, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.conv_in = nn.Conv2d(channels * 2, base, 3, padding=1)

        self.down = nn.ModuleList()
        skip_chs = [base]
        ch = base
        for level, mult in enumerate(mults):
            for _ in range(num_res_blocks):
                out = base * mult
                self.down.append(nn.ModuleList([ResBlock(ch, out, temb_dim, dropout),
                                                AttnBlock(out) if level in attn_levels else nn.Identity()]))
                ch = out
                skip_chs.append(ch)
            if level != len(mults) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skip_chs.append(ch)

        self.mid1 = ResBlock(ch, ch, temb_dim, dropout)
        self.mid_attn = AttnBlock(ch)
        self.mid2 = ResBlock(ch, ch, temb_dim, dropout)

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(mults))):
            for _ in range(num_res_blocks + 1):
                out = base * mult
                self.up.append(nn.ModuleList([ResBlock(ch + skip_chs.pop(), out, temb_dim, dropout),
                                              AttnBlock(out) if level in attn_levels else nn.Identity()]))
                ch = out
            if level != 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
        self.norm_out = _norm(ch)
        self.conv_out = nn.Conv2d(ch, channels, 3, padding=1)

    def probe_level(self, batch):
        """A valid second input for tracing and cost counting."""
        if self.level_time is None:
            return torch.zeros(batch, dtype=torch.long)
        return torch.full((batch,), 0.5)

    def forward(self, x_t, t, cond):
        if self.level_time is not None:
            t = self.level_time(t)
        temb = self.temb(timestep_embedding(t, self.base))
        h = self.conv_in(torch.cat([x_t, cond], dim=1))
        hs = [h]
        for block in self.down:
            if isinstance(block, nn.ModuleList):
                h = block[1](block[0](h, temb))
            else:
                h = block(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for block in self.up:
            if isinstance(block, nn.ModuleList):
                h = block[1](block[0](torch.cat([h, hs.pop()], dim=1), temb))
            else:
                h = block(h)
        return self.conv_out(F.silu(self.norm_out(h)))


# ----------------------------------------------------------------------------- FID-FMNIST classifier
class Classifier(nn.Module):
    """A small CNN; its penultimate layer (feature_dim) defines the FID-FMNIST feature space."""

    def __init__(self, channels=1, resolution=28, width=32, feature_dim=128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, width * 2, 3, padding=1), nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(width * 2 * (resolution // 4) ** 2, feature_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, 10))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


class ClassifierFeatures(nn.Module):
    """Export wrapper: images [-1, 1] -> penultimate features."""

    def __init__(self, clf):
        super().__init__()
        self.clf = clf

    def forward(self, x):
        return self.clf.features(x)


# ----------------------------------------------------------------------------- cost
def count_flops(model, *inputs):
    """Multiply-adds x 2 of conv / linear / attention matmuls for one forward pass, per batch element."""
    total = [0]
    hooks = []

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += 2 * out.numel() * k

    def lin_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    def attn_hook(m, inp, out):
        b, c, h, w = inp[0].shape
        total[0] += 2 * 2 * b * (h * w) * (h * w) * c

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
        elif isinstance(mod, AttnBlock):
            hooks.append(mod.register_forward_hook(attn_hook))
    with torch.no_grad():
        model(*inputs)
    for h in hooks:
        h.remove()
    return total[0] / inputs[0].shape[0]


def param_count(model):
    return sum(p.numel() for p in model.parameters())
