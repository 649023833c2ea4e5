#!/usr/bin/env python3
"""The coefficients of FastMath.Log1pUnit: log1p(t) = t q(t) on [0, 1], q of degree 9.

Chebyshev least squares on log1p(t)/t, reweighted (Lawson) towards the minimax error, then rounded to float32 and
checked the way the C# code evaluates it: Horner's rule with fused multiply-adds in float32. Needs Debian's
python3-numpy (run with /usr/bin/python3). Prints the approximation error, the float32 error and the coefficients.
"""
import numpy as np
from numpy.polynomial import chebyshev as C, polynomial as P

t = np.linspace(0, 1, 400001)
f = np.where(t == 0, 1.0, np.log1p(t) / np.where(t == 0, 1, t))
x, w = 2 * t - 1, np.ones_like(t)
for _ in range(30):
    c = C.chebfit(x, f, 9, w=np.sqrt(w))
    e = np.abs(C.chebval(x, c) - f)
    w = w * (e / e.max() + 1e-3)
    w /= w.mean()
coef = P.Polynomial(C.cheb2poly(c))(P.Polynomial([-1, 2])).coef.astype(np.float32)
tt = t.astype(np.float32)
acc = np.full(tt.shape, coef[-1], dtype=np.float32)
for a in coef[-2::-1]:
    acc = (acc.astype(np.float64) * tt + np.float64(a)).astype(np.float32)   # one rounding per step, as an FMA
y = (acc.astype(np.float64) * tt).astype(np.float32)
ref = np.log1p(t)
rel = np.abs(y - ref)[1:] / ref[1:]
print(f"approximation error {np.abs(C.chebval(x, c) - f).max():.2e}, float32 relative error {rel.max():.2e}")
print(", ".join(f"Q{i} = {v!r}f" for i, v in enumerate(coef.tolist()) if i > 0))
