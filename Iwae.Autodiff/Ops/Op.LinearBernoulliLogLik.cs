using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// LinearBernoulliLogLik: an output layer and its Bernoulli log-likelihood as one op,
//   l = h W + b,   y_r = sum_j x_rj l_rj - softplus(l_rj)       h [R,In], W [In,C], b [1,C], x [R,C] or [B,C] tiled -> y [R,1]
// the same values and gradients as BernoulliLogLik(Linear(h, W, b), x), bit for bit. float32 runs Gemm.LinearBernoulli:
// each strip of logits (a row tile across a column block) is scored while it is in L1; when training, it is replaced by
// the residual x - sigmoid(l) (kept as this op's scratch), and in forward-only mode the logits are never written at all.
// Backward: dl = dy * residual (in place over the residual);  dh = dl W^T (NT);  dW += h^T dl (TN) with db += sum_rows dl.
// float64 (gradient checks), and targets that need a gradient, take the composition of the two ops.
public sealed partial class Tape<T>
{
    /// <summary>
    /// log p(x | l) under Bernoulli(sigmoid(l)) with logits l = h W + b, per row -> [R,1]. The same as
    /// <see cref="BernoulliLogLik"/> of <see cref="Linear(Var{T}, Var{T}, Var{T})"/>, fused: the [R,C] logits are
    /// consumed strip by strip as the GEMM makes them.
    /// </summary>
    public Var<T> LinearBernoulliLogLik(Var<T> h, Var<T> w, Var<T> b, Var<T> x)
    {
        Check(h); Check(w); Check(b); Check(x);
        if (typeof(T) != typeof(float) || _requiresGrad[x.Id]) return BernoulliLogLik(Linear(h, w, b), x);
        var hv = h.Value; var wv = w.Value; var bv = b.Value; var xv = x.Value;
        CheckLinear(OpCode.LinearBernoulliLogLik, hv, wv, bv);
        if (xv.Cols != wv.Cols || xv.Rows == 0 || hv.Rows % xv.Rows != 0)
            throw new ArgumentException($"LinearBernoulliLogLik: x {xv.ShapeString} neither matches the logits [{hv.Rows},{wv.Cols}] nor tiles their rows");
        int rows = hv.Rows, cols = wv.Cols, inner = hv.Cols;
        bool grad = !NoGrad && AnyRequiresGrad(h, w, b);
        var y = NewTensor(rows, 1);
        var c = grad || inner > Gemm.UnwrittenMaxK ? NewTensor(rows, cols) : default;
        Gemm.LinearBernoulli(AsFloat(hv.Span), AsFloat(wv.Span), AsFloat(bv.Span), AsFloat(xv.Span), AsFloat(y.Span),
            c.IsNull ? default : AsFloat(c.Span), rows, cols, inner, residual: grad, execution: Execution);
        int residual = grad ? Constant(c).Id : -1;
        return Push(OpCode.LinearBernoulliLogLik, y, grad, h.Id, w.Id, b.Id, arg: residual);
    }

    private void BackwardLinearBernoulliLogLik(int id, in Node n)
    {
        // The residual is this op's own scratch, read nowhere else: it becomes dl in place, row by row (each thread on
        // the rows it wrote in the forward pass).
        var dl = _values[n.Arg];
        Bernoulli.BackwardFromResidual(AsFloat(dl.Span), AsFloat(_grads[id].Span), AsFloat(dl.Span), dl.Cols, overwrite: true, execution: Execution);
        LinearBackwardCore(dl, n);
    }
}
