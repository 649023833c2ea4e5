#!/usr/bin/python3
"""The PyTorch peer of `Iwae.Bench quick step` and `quick eval`: the same model, training step and k = 5000
evaluation, timed the same way, one line per scenario in the same format, so the two sets of figures come from
one run on one machine (scripts/peer/compare.sh runs both and tabulates them).

    /usr/bin/python3 scripts/peer/torch_step.py [--seconds 2] [--images 40] [--threads 1,2] [--shapes 20x1,...] [--quick]

Needs Debian's python3-torch (the system interpreter; a pyenv `python3` on PATH usually has no torch).

What is mirrored (Iwae.Bench/Scenarios.cs, ScenarioQuick.cs; Iwae.Core Models/*.cs, Training/Trainer.cs, Evaluation.cs):
- the paper's 1-stochastic-layer model 784-200-200-50: q(z|x) two tanh layers then linear mu and log sigma heads;
  p(x|z) 50-200-200 tanh then linear to 784 Bernoulli logits; Glorot-uniform weights, zero biases, the output bias
  at logit(mean training pixel) as Runs.CreateModel does.
- a step (Trainer.Step): dynamic binarisation of the same B training rows, k samples stacked sample-major
  ([k*B, 50]), the decoder once on k*B rows, log w [k,B] = log p(x|z) + log p(z) - log q(z|x) with log q from
  ((z - mu) / sigma)^2 as GaussianLogDensity does (so the gradient takes the same paths), the loss
  -mean_b sum_s w~_s log w_s with w~ = softmax_s log w detached, the bound (logsumexp) read back and checked finite,
  then zero_grad, backward, Adam(lr 1e-3, betas (0.99, 0.999), eps 1e-4). Timing as ScenarioQuick.Step: 4 warm-up
  steps, then the best of 5 windows of seconds/5 each (0.4 s by default), ms per step.
  Not mirrored: Trainer's scan of every gradient for non-finite values (one pass over ~0.4M floats per step).
- the evaluation (Evaluation.LogLikelihoods): test images in groups of 20, each encoded once, samples drawn 50 per
  image at a time (the decoder on 20*50 = 1000 rows), per-chunk logsumexps merged in float64, L_k = lse - log k;
  forward only (inference_mode). A 2-image warm-up, then 40 images timed, ms per image.
  Ours spreads whole groups over its threads with serial GEMMs inside; here the threads go to torch's intra-op
  parallelism, its ordinary way of using them.
- GFLOP/s count GEMM work only, exactly as Scenarios.StepFlops / EvalFlops, so the figures compare directly.

Threads: OPENBLAS_NUM_THREADS=1 is set before torch is imported, then torch.set_num_threads(T) for each T. Debian's
torch does its GEMMs in OpenBLAS (pthreads build) and its elementwise ops in its own OpenMP pool; left alone, OpenBLAS
starts one thread per core in addition to torch's, and on a small machine the two pools fight for the same cores.
torch.set_num_threads does not reach OpenBLAS, so with the variable set the GEMMs run on one thread whatever T is.
For T > 1 the script therefore adds two lines per scenario, OpenBLAS set to T through ctypes
(openblas_set_num_threads): `torch_threads=1 blas_threads=T` (GEMMs on T threads, the rest on one) and
`torch_threads=T blas_threads=T` (both pools at T, taking turns); and once, for reference, k = 50 with everything
left at its defaults (a child process without the variable, torch.set_num_threads never called).
"""
import argparse
import ctypes
import gzip
import math
import os
import re
import subprocess
import sys
import time

# Must precede `import torch`: OpenBLAS reads it once, when the library is loaded.
DEFAULTS = "--defaults" in sys.argv
if not DEFAULTS:
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "mnist-subset")
D, H, Z = 784, 200, 50
LOG_2PI = math.log(2 * math.pi)
IMAGES_PER_GROUP, CHUNK, EVAL_K = 20, 50, 5000


def step_flops(batch, k):
    """Scenarios.StepFlops: forward plus backward at twice the forward (dX and dW), encoder on B rows, decoder on k*B."""
    enc = 784.0 * 200 + 200 * 200 + 2 * 200 * 50
    dec = 50.0 * 200 + 200 * 200 + 200 * 784
    return 2 * 3 * (batch * enc + k * batch * dec)


def eval_flops(samples):
    """Scenarios.EvalFlops: the decoder's forward GEMMs for that many samples."""
    return 2.0 * samples * (50 * 200 + 200 * 200 + 200 * 784)


def read_images(name):
    """An IDX image file (magic 0x803) as [N, rows*cols] float32 in [0, 1]."""
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic, n, r, c = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 0x803:
        raise ValueError(f"{name}: magic {magic:#x}, expected 0x803")
    return torch.frombuffer(bytearray(raw[16:16 + n * r * c]), dtype=torch.uint8).view(n, r * c).float() / 255


def glorot(inputs, outputs):
    """Dense.cs: U(-a, a) weights with a = sqrt(6 / (in + out)), zero bias."""
    layer = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Encoder(nn.Module):
    """q(z|x): x [N,784] -> mu, logSigma [N,50]."""

    def __init__(self):
        super().__init__()
        self.h1, self.h2 = glorot(D, H), glorot(H, H)
        self.mu, self.logsigma = glorot(H, Z), glorot(H, Z)

    def forward(self, x):
        h = torch.tanh(self.h2(torch.tanh(self.h1(x))))
        return self.mu(h), self.logsigma(h)


class Decoder(nn.Module):
    """p(x|z): z [N,50] -> Bernoulli logits [N,784]."""

    def __init__(self, mean_pixel):
        super().__init__()
        self.h1, self.h2, self.out = glorot(Z, H), glorot(H, H), glorot(H, D)
        p = mean_pixel.clamp(0.001, 0.999)
        with torch.no_grad():
            self.out.bias.copy_(torch.log(p / (1 - p)))

    def forward(self, z):
        return self.out(torch.tanh(self.h2(torch.tanh(self.h1(z)))))


def log_weights(dec, x, mu, log_sigma, k):
    """log w [k,B] for x [B,784] and q's parameters [B,50]: Iwae.LogWeights with one stochastic layer."""
    b = x.shape[0]
    mu_k, ls_k = mu.repeat(k, 1), log_sigma.repeat(k, 1)                 # [k*B,50], sample-major
    z = mu_k + torch.exp(ls_k) * torch.randn_like(mu_k)
    logits = dec(z)                                                     # [k*B,784]
    x_k = x.repeat(k, 1)
    log_px = (x_k * logits - F.softplus(logits)).sum(1)                 # Bernoulli from logits
    log_pz = -0.5 * (z * z).sum(1) - 0.5 * Z * LOG_2PI
    log_qz = (-0.5 * ((z - mu_k) * torch.exp(-ls_k)) ** 2 - ls_k).sum(1) - 0.5 * Z * LOG_2PI
    return (log_px + log_pz - log_qz).view(k, b)


class Model:
    def __init__(self, train):
        torch.manual_seed(1)
        self.enc, self.dec = Encoder(), Decoder(train.mean(0))
        self.params = list(self.enc.parameters()) + list(self.dec.parameters())
        self.adam = torch.optim.Adam(self.params, lr=1e-3, betas=(0.99, 0.999), eps=1e-4)

    def step(self, x_grey, k):
        """Trainer.Step: one IWAE gradient step on the rows x_grey [B,784] (grey levels); returns the bound."""
        x = torch.bernoulli(x_grey)
        mu, log_sigma = self.enc(x)
        log_w = log_weights(self.dec, x, mu, log_sigma, k)             # [k,B]
        w = torch.softmax(log_w, 0).detach()
        loss = -(w * log_w).sum(0).mean()
        bound = (torch.logsumexp(log_w, 0) - math.log(k)).mean().item()
        if not (math.isfinite(bound) and math.isfinite(loss.item())):
            raise FloatingPointError(f"the bound became {bound}")
        self.adam.zero_grad(set_to_none=True)
        loss.backward()
        self.adam.step()
        return bound

    @torch.inference_mode()
    def log_likelihoods(self, x, k=EVAL_K, chunk=CHUNK):
        """Evaluation.LogLikelihoods: L_k [N] (float64) for binarised x [N,784]."""
        out = []
        for g0 in range(0, x.shape[0], IMAGES_PER_GROUP):
            xs = x[g0:g0 + IMAGES_PER_GROUP]
            mu, log_sigma = self.enc(xs)
            running = torch.full((xs.shape[0],), -math.inf, dtype=torch.float64)
            for s0 in range(0, k, chunk):
                log_w = log_weights(self.dec, xs, mu, log_sigma, min(chunk, k - s0))
                running = torch.logaddexp(running, torch.logsumexp(log_w, 0).double())
            out.append(running - math.log(k))
        return torch.cat(out)


def time_steps(model, x_grey, k, seconds):
    for _ in range(4):                  # Scenarios.Step's 3 warm-up steps, then ScenarioQuick's allocation probe
        model.step(x_grey, k)
    best = math.inf
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 5:
            model.step(x_grey, k)
            n += 1
        best = min(best, (time.perf_counter() - t0) * 1e3 / n)
    return best


def blas():
    """The BLAS torch calls, as loaded in this process, e.g. 'OpenBLAS 0.3.21 ... Haswell (core Haswell), 1 thread'."""
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    info = m.group(1) if m else "?"
    lib = _openblas()
    if lib is None:
        return f"BLAS_INFO={info}"
    return (f"BLAS_INFO={info} -> {lib.openblas_get_config().decode()} (core {lib.openblas_get_corename().decode()},"
            f" OpenBLAS threads now {lib.openblas_get_num_threads()})")


_OPENBLAS = []


def _openblas():
    """The OpenBLAS library torch has loaded (through libblas.so.3), or None."""
    if not _OPENBLAS:
        lib = None
        with open("/proc/self/maps") as f:
            paths = sorted({ln.split()[-1] for ln in f if "openblas" in ln and ".so" in ln})
        for p in paths:
            try:
                cand = ctypes.CDLL(p)
                cand.openblas_get_config.restype = ctypes.c_char_p
                cand.openblas_get_corename.restype = ctypes.c_char_p
                lib = cand
                break
            except (OSError, AttributeError):
                continue
        _OPENBLAS.append(lib)
    return _OPENBLAS[0]


def set_blas_threads(n):
    lib = _openblas()
    if lib is None:
        return False
    lib.openblas_set_num_threads(n)
    return True


def configs(threads):
    """(torch threads, OpenBLAS threads, line suffix) to time for a thread count: first the plain torch.set_num_threads(T)
    with OpenBLAS held at 1, then, with T > 1 and OpenBLAS found, the GEMMs on T OpenBLAS threads and the elementwise
    ops on 1 torch thread (what the defaults give here), then both pools at T."""
    if threads == 1 or _openblas() is None:
        return [(threads, 1, "")]
    return [(threads, 1, ""), (1, threads, f" torch_threads=1 blas_threads={threads}"),
            (threads, threads, f" torch_threads={threads} blas_threads={threads}")]


def cpu():
    name = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                name = ln.split(":", 1)[1].strip()
                break
    fields = {}
    try:
        for ln in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            k, _, v = ln.partition(":")
            fields[k.strip()] = v.strip()
    except OSError:
        pass
    return f"cpu=\"{name}\" family={fields.get('CPU family', '?')} model={fields.get('Model', '?')} cpus={os.cpu_count()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="per step scenario: 5 windows of seconds/5 (ScenarioQuick's default 2)")
    ap.add_argument("--images", type=int, default=40, help="test images timed in the evaluation")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--shapes", default="20x1,20x5,20x50,100x50", help="BxK of the step scenarios")
    ap.add_argument("--quick", action="store_true", help="a fast check: 0.5 s per step scenario, 20 images")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--no-step", action="store_true")
    ap.add_argument("--defaults", action="store_true", help="(internal) the reference line, with every thread setting at its default")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.images = 0.5, 20
    train, test = read_images("train-images-idx3-ubyte.gz"), read_images("t10k-images-idx3-ubyte.gz")
    test = torch.bernoulli(test, generator=torch.Generator().manual_seed(42))    # binarised once, as Runs.LoadData

    if a.defaults:
        lib = _openblas()
        n = lib.openblas_get_num_threads() if lib is not None else "?"
        ms = time_steps(Model(train), train[:20], 50, a.seconds)
        print(f"torch step batch=20 k=50 threads=default ms={ms:.2f} gflops={step_flops(20, 50) / (ms * 1e6):.0f}"
              f" torch_threads={torch.get_num_threads()} blas_threads={n}", flush=True)
        return

    print(f"# torch {torch.__version__}, {blas()}, default torch threads {torch.get_num_threads()}, {cpu()}", flush=True)
    threads = [int(t) for t in a.threads.split(",")]
    shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",")]
    if not a.no_step:
        for batch, k in shapes:
            for th in threads:
                for torch_th, blas_th, tail in configs(th):
                    torch.set_num_threads(torch_th)
                    set_blas_threads(blas_th)
                    ms = time_steps(Model(train), train[:batch], k, a.seconds)
                    print(f"torch step batch={batch} k={k} threads={th} ms={ms:.2f} gflops={step_flops(batch, k) / (ms * 1e6):.0f}{tail}", flush=True)
        set_blas_threads(1)
        # The reference: a fresh process, OPENBLAS_NUM_THREADS unset, torch.set_num_threads never called.
        env = {key: v for key, v in os.environ.items() if key != "OPENBLAS_NUM_THREADS"}
        subprocess.run([sys.executable, os.path.abspath(__file__), "--defaults", "--seconds", str(a.seconds)], env=env, check=True)
    if not a.no_eval:
        model = Model(train)
        for th in threads:
            for torch_th, blas_th, tail in configs(th):
                torch.set_num_threads(torch_th)
                set_blas_threads(blas_th)
                model.log_likelihoods(test[:2])                          # warm-up
                t0 = time.perf_counter()
                ll = model.log_likelihoods(test[:a.images])
                ms = (time.perf_counter() - t0) * 1e3 / a.images
                if not torch.isfinite(ll).all():
                    raise FloatingPointError("non-finite L_k")
                print(f"torch eval k={EVAL_K} threads={th} ms_per_image={ms:.1f} gflops={eval_flops(EVAL_K) / (ms * 1e6):.0f}"
                      f" images={a.images}{tail}", flush=True)
        set_blas_threads(1)


if __name__ == "__main__":
    main()
