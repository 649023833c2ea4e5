using System.Runtime.InteropServices;
using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// BernoulliLogLik: log p(x | logits) per row, from logits (never log(sigmoid)):
//   y_r = sum_j x_rj l_rj - softplus(l_rj)          l [R,C], x [R,C] -> y [R,1]
// x may also be [B,C] with R a multiple of B: row r is scored against x's row r mod B. That is the layout of
// k samples stacked sample-major (see RepeatRows), so the k copies of the data are never made.
// softplus(l) = max(l,0) + log1p(exp(-|l|)) keeps every term finite for |l| up to 1e4 and beyond.
// Backward: dl_rj += dy_r (x_rj - sigmoid(l_rj));  dx_(r mod B)j += dy_r l_rj
// float32 runs the fused one-pass kernels of Kernels/Bernoulli.cs: when the logits will need a gradient, the
// forward pass also saves the residual x - sigmoid(l) (one exp serves softplus and sigmoid) as a constant node,
// and the backward pass only scales it. float64 (gradient checks) runs their reference there, BernoulliNaive, the same
// loops the kernel tests compare against.
public sealed partial class Tape<T>
{
    /// <summary>
    /// Sum over columns of x*l - softplus(l): the Bernoulli log-likelihood of x under logits l. -> [R,1].
    /// x is [R,C], or [B,C] with R a multiple of B (row r against x's row r mod B).
    /// </summary>
    public Var<T> BernoulliLogLik(Var<T> logits, Var<T> x)
    {
        Check(logits); Check(x);
        if (logits.Cols != x.Cols || logits.Rows % x.Rows != 0)
            throw new ArgumentException($"BernoulliLogLik: x {x.Value.ShapeString} neither matches logits {logits.Value.ShapeString} nor tiles its rows");
        var lv = logits.Value;
        var xv = x.Value;
        var y = NewTensor(lv.Rows, 1);
        int residual = -1;
        if (typeof(T) == typeof(float) && !NoGrad && _requiresGrad[logits.Id])
        {
            var res = NewTensor(lv.Rows, lv.Cols);
            Bernoulli.LogLikRowsWithResidual(AsFloat(lv.Span), AsFloat(xv.Span), AsFloat(y.Span), AsFloat(res.Span), lv.Cols, execution: Execution);
            residual = Constant(res).Id;
        }
        else if (typeof(T) == typeof(float))
            Bernoulli.LogLikRows(AsFloat(lv.Span), AsFloat(xv.Span), AsFloat(y.Span), lv.Cols, execution: Execution);
        else
            BernoulliNaive.LogLikRows<T>(lv.Span, xv.Span, y.Span, lv.Cols);
        return Push(OpCode.BernoulliLogLik, y, AnyRequiresGrad(logits, x), logits.Id, x.Id, residual);
    }

    private void BackwardBernoulliLogLik(int id, in Node n)
    {
        var lv = _values[n.A];
        var xv = _values[n.B];
        var dy = _grads[id];
        if (Needs(n.A) && n.C >= 0)
        {
            var dl = GradForOverwrite(n.A, out bool fresh);
            Bernoulli.BackwardFromResidual(AsFloat(_values[n.C].Span), AsFloat(dy.Span), AsFloat(dl.Span), lv.Cols, overwrite: fresh, execution: Execution);
        }
        else if (Needs(n.A))    // float64 only: a float forward pass saves the residual whenever the logits need a gradient
            BernoulliNaive.Backward<T>(lv.Span, xv.Span, dy.Span, GradOf(n.A).Span, lv.Cols);
        if (Needs(n.B))
        {
            var dx = GradOf(n.B);
            for (int r = 0; r < lv.Rows; r++) Gemm.Axpy<T>(dy[r, 0], lv.Row(r), dx.Row(r % xv.Rows), Simd.Best);
        }
    }

    /// <summary>The same memory as float; only called when T is float.</summary>
    private static Span<float> AsFloat(Span<T> s) => MemoryMarshal.Cast<T, float>(s);
}
