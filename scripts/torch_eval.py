#!/usr/bin/env python3
"""Evaluates a model exported by `iwae export --format torch` in PyTorch: test NLL = -mean_x L_k(x), k = 5000.

    iwae export --checkpoint run/iwae.safetensors --out model.safetensors --test-data-out test.safetensors
    python3 scripts/torch_eval.py model.safetensors test.safetensors [--k 5000]

The module mirrors Iwae.NET's (docs/interop.md): q(z|x) a tanh MLP with mu and logsigma heads, p(x|z) a tanh MLP giving
Bernoulli logits, p(z) = N(0, I); with two stochastic layers also q(h2|h1) and p(h1|h2). load_state_dict(strict=True)
checks every name and shape. The test set is the one `iwae eval` uses (binarised once, with our fixed seed), read from
the file `--test-data-out` wrote. The k samples are PyTorch's own draws, so the figure agrees with `iwae eval`'s
statistically, not bit for bit.
"""
import argparse
import json
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def read_metadata(path):
    """The __metadata__ strings of a safetensors file: u64 little-endian header length, then the JSON header."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)).get("__metadata__") or {}


try:
    from safetensors.torch import load_file
except ImportError:  # Debian 12 packages torch but not safetensors; the format is simple enough to read here.
    _DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}

    def load_file(path):
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            data = f.read()
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            flat = torch.frombuffer(bytearray(data[begin:end]), dtype=_DTYPES[info["dtype"]]) if end > begin else torch.empty(0, dtype=_DTYPES[info["dtype"]])
            tensors[name] = flat.reshape(info["shape"])
        return tensors


class Gaussian(nn.Module):
    """A tanh MLP with two linear heads: x -> (mu, log sigma). q(z|x), and with two layers q(h2|h1) and p(h1|h2)."""

    def __init__(self, inputs, hidden, latent):
        super().__init__()
        self.hidden = nn.ModuleList()
        for width in hidden:
            self.hidden.append(nn.Linear(inputs, width))
            inputs = width
        self.mu = nn.Linear(inputs, latent)
        self.logsigma = nn.Linear(inputs, latent)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.mu(x), self.logsigma(x)


class Bernoulli(nn.Module):
    """p(x|z): a tanh MLP giving one Bernoulli logit per pixel."""

    def __init__(self, latent, hidden, outputs):
        super().__init__()
        self.hidden = nn.ModuleList()
        for width in hidden:
            self.hidden.append(nn.Linear(latent, width))
            latent = width
        self.out = nn.Linear(latent, outputs)

    def forward(self, z):
        for layer in self.hidden:
            z = torch.tanh(layer(z))
        return self.out(z)


def log_normal(z, mu, logsigma):
    """log N(z; mu, exp(logsigma)^2), summed over the last axis."""
    return (-0.5 * ((z - mu) / torch.exp(logsigma)) ** 2 - logsigma - 0.5 * math.log(2 * math.pi)).sum(-1)


class Iwae(nn.Module):
    def __init__(self, config):
        super().__init__()
        if config.get("observation", "bernoulli") != "bernoulli":
            raise SystemExit(f"torch_eval.py: only the Bernoulli decoder is mirrored here, the model has {config['observation']}")
        d, hidden, latent = config["input_size"], config["hidden"], config["latent"]
        self.encoder = Gaussian(d, hidden, latent)
        self.decoder = Bernoulli(latent, hidden[::-1], d)
        self.layers = config["layers"]
        if self.layers == 2:
            self.encoder.h2 = Gaussian(latent, config["hidden2"], config["latent2"])
            self.decoder.h1 = Gaussian(config["latent2"], config["hidden2"][::-1], latent)

    def log_weights(self, x, k):
        """log w = log p(x, z) - log q(z|x) for k samples of each row of x [B, D] -> [k, B]."""
        mu, logsigma = self.encoder(x)
        h1 = mu + torch.exp(logsigma) * torch.randn(k, *mu.shape)             # [k, B, Z]
        log_q = log_normal(h1, mu, logsigma)
        logits = self.decoder(h1)
        log_w = (x * logits - F.softplus(logits)).sum(-1) - log_q             # Bernoulli log-likelihood from logits
        if self.layers == 1:
            return log_w + log_normal(h1, torch.zeros(()), torch.zeros(()))
        mu2, logsigma2 = self.encoder.h2(h1)
        h2 = mu2 + torch.exp(logsigma2) * torch.randn_like(mu2)
        p_mu, p_logsigma = self.decoder.h1(h2)
        return (log_w - log_normal(h2, mu2, logsigma2) + log_normal(h1, p_mu, p_logsigma)
                + log_normal(h2, torch.zeros(()), torch.zeros(())))


@torch.no_grad()
def log_likelihoods(model, x, k, batch, chunk):
    """L_k = logsumexp_s log w_s - log k per row of x, the samples drawn chunk by chunk, the logsumexps merged in float64."""
    out = []
    for b0 in range(0, x.shape[0], batch):
        xb = x[b0:b0 + batch]
        running = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64)
        for s0 in range(0, k, chunk):
            lw = model.log_weights(xb, min(chunk, k - s0)).double()
            running = torch.logaddexp(running, torch.logsumexp(lw, dim=0))
        out.append(running - math.log(k))
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="the .safetensors file `iwae export --format torch` wrote")
    ap.add_argument("test", help="the .safetensors file `iwae export --test-data-out` wrote (tensor x, [N, D])")
    ap.add_argument("--k", type=int, default=5000, help="samples per test image (default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed for the k samples")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--batch", type=int, default=20, help="images per forward pass")
    ap.add_argument("--chunk", type=int, default=500, help="samples per image per forward pass")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    meta = read_metadata(args.model)
    if "iwae.config" not in meta:
        sys.exit(f"torch_eval.py: {args.model} has no 'iwae.config' metadata (not written by `iwae export`)")
    config = json.loads(meta["iwae.config"])
    model = Iwae(config)
    model.load_state_dict(load_file(args.model), strict=True)
    x = load_file(args.test)["x"].float()

    start = time.time()
    ll = log_likelihoods(model, x, args.k, args.batch, args.chunk)
    print(f"torch {torch.__version__}: {config.get('architecture', '')} test NLL (k={args.k}, {x.shape[0]} images) "
          f"{-ll.mean().item():.4f} nats, in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
