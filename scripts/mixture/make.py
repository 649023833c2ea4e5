#!/usr/bin/env python3
"""A 20-D Gaussian mixture with a known density, for checking Gaussian decoders on continuous data.

Five components, each a factor-analysis Gaussian N(mu_k, W_k W_k^T + Psi) with one diagonal Psi shared by the
components (per-dimension noise with a standard deviation from 0.05 to 1): the family a VAE with a learned
per-dimension sigma can represent.
The means lie in a plane A (mu_k = A u_k, u_k ~ N(0, 1.5^2 I)) along which every component also spreads, by its
own factor s_k ~ U(0.4, 0.8), and two more directions B are shared (W_k = [s_k A, B]): full covariances that differ
between the components, which overlap in the plane.
Each dimension is then scaled by 10^U(-1, 2) and shifted by N(0, 100^2), so raw units are far from 1. Writes train [N_train, 20] and test [N_test, 20] (float32) as named arrays of one .npz that `iwae train
--data` reads as its splits, and prints the true density's mean negative log-likelihood on each split, evaluated on
the float32 values written. Standard library only (no numpy): the .npz is a zip of .npy files.

    python3 scripts/mixture/make.py --out mixture.npz [--seed 1] [--train 10000] [--test 2000]
"""
import argparse
import io
import math
import random
import struct
import zipfile

D, COMPONENTS = 20, 5


def cholesky(a):
    n = len(a)
    l = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(l[i][k] * l[j][k] for k in range(j))
            l[i][j] = math.sqrt(s) if i == j else s / l[j][j]
    return l


def solve_lower(l, b):
    y = []
    for i in range(len(b)):
        y.append((b[i] - sum(l[i][k] * y[k] for k in range(i))) / l[i][i])
    return y


def mixture(rng):
    weights = [rng.uniform(0.5, 1.5) for _ in range(COMPONENTS)]
    total = sum(weights)
    weights = [w / total for w in weights]
    psi = [rng.uniform(0.05, 1.0) ** 2 for _ in range(D)]
    plane = [[rng.gauss(0, 1) for _ in range(2)] for _ in range(D)]
    shared = [[rng.gauss(0, 0.5) for _ in range(2)] for _ in range(D)]
    comps = []
    for _ in range(COMPONENTS):
        u = [rng.gauss(0, 1.5) for _ in range(2)]
        s = rng.uniform(0.4, 0.8)
        mu = [plane[i][0] * u[0] + plane[i][1] * u[1] for i in range(D)]
        w = [[s * plane[i][0], s * plane[i][1], shared[i][0], shared[i][1]] for i in range(D)]
        cov = [[sum(w[i][r] * w[j][r] for r in range(4)) + (psi[i] if i == j else 0.0) for j in range(D)] for i in range(D)]
        l = cholesky(cov)
        comps.append((mu, l, sum(math.log(l[i][i]) for i in range(D))))
    scale = [10 ** rng.uniform(-1, 2) for _ in range(D)]
    shift = [rng.gauss(0, 100) for _ in range(D)]
    return weights, comps, scale, shift


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def draw(rng, weights, comps, scale, shift):
    k = rng.choices(range(COMPONENTS), weights)[0]
    mu, l, _ = comps[k]
    e = [rng.gauss(0, 1) for _ in range(D)]
    y = [mu[i] + sum(l[i][j] * e[j] for j in range(i + 1)) for i in range(D)]
    return [f32(scale[i] * y[i] + shift[i]) for i in range(D)]


def log_density(x, weights, comps, scale, shift):
    """log p(x) for the raw x: the mixture's density of y = (x - shift) / scale, minus sum log scale."""
    y = [(x[i] - shift[i]) / scale[i] for i in range(D)]
    terms = []
    for w, (mu, l, logdet) in zip(weights, comps):
        u = solve_lower(l, [y[i] - mu[i] for i in range(D)])
        terms.append(math.log(w) - 0.5 * sum(v * v for v in u) - logdet - 0.5 * D * math.log(2 * math.pi))
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms)) - sum(math.log(s) for s in scale)


def npy(rows):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (len(rows), D)
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    out = io.BytesIO()
    out.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
    for r in rows:
        out.write(struct.pack("<%df" % D, *r))
    return out.getvalue()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="mixture.npz")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=2000)
    a = p.parse_args()
    rng = random.Random(a.seed)
    params = mixture(rng)
    train = [draw(rng, *params) for _ in range(a.train)]
    test = [draw(rng, *params) for _ in range(a.test)]
    with zipfile.ZipFile(a.out, "w") as z:
        for name, rows in (("train", train), ("test", test)):      # a fixed date: the same seed gives the same bytes
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), npy(rows))
    for name, rows in (("train", train), ("test", test)):
        nll = -sum(log_density(x, *params) for x in rows) / len(rows)
        print(f"true {name} NLL: {nll:.3f} nats ({len(rows)} points, D = {D})")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
