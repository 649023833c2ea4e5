#!/usr/bin/env python3
"""Checks ONNX graphs written by `iwae export --format onnx` with the onnx package alone (no runtime):
onnx.checker.check_model (full check), then strict shape inference, then prints each graph's inputs, outputs,
metadata and the shapes inferred for every intermediate value.

    python3 scripts/onnx/check.py model.encoder.onnx model.decoder.onnx

Needs the onnx package (Debian: python3-onnx). Exits 1 if a check fails.
"""
import sys

import onnx
from onnx import numpy_helper, shape_inference


def shape(value):
    dims = value.type.tensor_type.shape.dim
    return "[" + ",".join(d.dim_param or str(d.dim_value) for d in dims) + "]"


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    g = inferred.graph
    print(f"{path}: ir_version {model.ir_version}, opset {[(o.domain or 'ai.onnx', o.version) for o in model.opset_import]}, "
          f"{len(g.node)} nodes, {len(g.initializer)} initializers ({sum(numpy_helper.to_array(t).size for t in g.initializer)} values)")
    print("  inputs:  " + ", ".join(f"{v.name} {shape(v)}" for v in g.input))
    print("  outputs: " + ", ".join(f"{v.name} {shape(v)}" for v in g.output))
    print("  inferred: " + ", ".join(f"{v.name} {shape(v)}" for v in g.value_info))
    print("  ops: " + " ".join(n.op_type for n in g.node))
    print("  metadata: " + ", ".join(f"{p.key}={p.value[:60]}" for p in model.metadata_props))


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            check(path)
        except Exception as e:  # a failed check names the file and what onnx found
            print(f"{path}: FAILED: {e}", file=sys.stderr)
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
