namespace Iwae.Autodiff;

// LogSumExp along an axis, max-subtracted:  m = max_i x_i;  y = m + log sum_i exp(x_i - m)
//   axis 0: x [R,C] -> y [1,C];  axis 1: x [R,C] -> y [R,1]
// A lane that is all -inf gives -inf (log 0) and sends no gradient; no NaN is produced.
// Backward: dx_i += dy * exp(x_i - y)   (the softmax of the lane)
public sealed partial class Tape<T>
{
    /// <summary>log sum exp along <paramref name="axis"/> (0: over rows -> [1,C]; 1: over columns -> [R,1]), stable for any spread of values.</summary>
    public Var<T> LogSumExp(Var<T> x, int axis)
    {
        Check(x);
        CheckAxis(axis);
        var xv = x.Value;
        var lanes = new Lanes(xv, axis);
        var y = axis == 0 ? NewTensor(1, xv.Cols) : NewTensor(xv.Rows, 1);
        var xs = xv.Span; var ys = y.Span;
        for (int l = 0; l < lanes.Count; l++)
        {
            int start = lanes.Start(l);
            T m = T.NegativeInfinity;
            for (int i = 0; i < lanes.Length; i++) m = T.Max(m, xs[start + i * lanes.Step]);
            if (!T.IsFinite(m)) { ys[l] = m; continue; }     // all -inf: log 0 = -inf; a +inf: +inf
            T s = T.Zero;
            for (int i = 0; i < lanes.Length; i++) s += T.Exp(xs[start + i * lanes.Step] - m);
            ys[l] = m + T.Log(s);
        }
        return Push(OpCode.LogSumExp, y, AnyRequiresGrad(x), x.Id, arg: axis);
    }

    private void BackwardLogSumExp(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var xv = _values[n.A];
        var lanes = new Lanes(xv, n.Arg);
        var xs = xv.Span; var ys = _values[id].Span; var dys = _grads[id].Span; var dxs = GradOf(n.A).Span;
        for (int l = 0; l < lanes.Count; l++)
        {
            if (!T.IsFinite(ys[l])) continue;
            int start = lanes.Start(l);
            for (int i = 0; i < lanes.Length; i++)
            {
                int k = start + i * lanes.Step;
                dxs[k] += dys[l] * T.Exp(xs[k] - ys[l]);
            }
        }
    }
}
