#!/usr/bin/env python3
"""Writes data/digits/digits.csv from scikit-learn's bundled copy of the UCI optical digits (1797 images, 8x8, 0..16).

One line per image: the label, then the 64 grey levels (row-major), integers, with a header line. The rows keep
scikit-learn's order. Needs only python3-sklearn (Debian); nothing downloads.

    /usr/bin/python3 scripts/digits/make_fixture.py        # from the repository root
"""
import hashlib
import os
import sys

from sklearn.datasets import load_digits


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = os.path.join(root, "data", "digits", "digits.csv")
    digits = load_digits()
    x, y = digits.data.astype(int), digits.target.astype(int)
    assert x.shape == (1797, 64) and x.min() == 0 and x.max() == 16, x.shape
    lines = ["label," + ",".join(f"p{j}" for j in range(64))]
    lines += [f"{label}," + ",".join(str(v) for v in row) for label, row in zip(y, x)]
    text = "\n".join(lines) + "\n"
    with open(out, "w", newline="\n") as f:
        f.write(text)
    counts = [int((y == d).sum()) for d in range(10)]
    print(f"{out}: {len(y)} images, per digit {counts}, sha256 {hashlib.sha256(text.encode()).hexdigest()}", file=sys.stderr)


if __name__ == "__main__":
    main()
