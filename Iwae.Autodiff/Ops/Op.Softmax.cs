namespace Iwae.Autodiff;

// Softmax along an axis, max-subtracted:  y_i = exp(x_i - m) / sum_j exp(x_j - m),  m = max_j x_j
//   x [R,C] -> y [R,C]; axis 0 normalises each column, axis 1 each row
// A lane that is all -inf (no mass anywhere) gives all zeros and no gradient, instead of NaN.
// Backward: dx_i += y_i (dy_i - sum_j dy_j y_j)
public sealed partial class Tape<T>
{
    /// <summary>Softmax along <paramref name="axis"/> (0: each column sums to 1; 1: each row does).</summary>
    public Var<T> Softmax(Var<T> x, int axis)
    {
        Check(x);
        CheckAxis(axis);
        var xv = x.Value;
        var lanes = new Lanes(xv, axis);
        var y = NewTensor(xv.Rows, xv.Cols);
        var xs = xv.Span; var ys = y.Span;
        for (int l = 0; l < lanes.Count; l++)
        {
            int start = lanes.Start(l);
            T m = T.NegativeInfinity;
            for (int i = 0; i < lanes.Length; i++) m = T.Max(m, xs[start + i * lanes.Step]);
            if (T.IsNegativeInfinity(m))
            {
                for (int i = 0; i < lanes.Length; i++) ys[start + i * lanes.Step] = T.Zero;
                continue;
            }
            T s = T.Zero;
            for (int i = 0; i < lanes.Length; i++)
            {
                int k = start + i * lanes.Step;
                ys[k] = T.Exp(xs[k] - m);
                s += ys[k];
            }
            T inv = T.One / s;
            for (int i = 0; i < lanes.Length; i++) ys[start + i * lanes.Step] *= inv;
        }
        return Push(OpCode.Softmax, y, AnyRequiresGrad(x), x.Id, arg: axis);
    }

    private void BackwardSoftmax(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var yv = _values[id];
        var lanes = new Lanes(yv, n.Arg);
        var ys = yv.Span; var dys = _grads[id].Span; var dxs = GradOf(n.A).Span;
        for (int l = 0; l < lanes.Count; l++)
        {
            int start = lanes.Start(l);
            T dot = T.Zero;
            for (int i = 0; i < lanes.Length; i++)
            {
                int k = start + i * lanes.Step;
                dot += dys[k] * ys[k];
            }
            for (int i = 0; i < lanes.Length; i++)
            {
                int k = start + i * lanes.Step;
                dxs[k] += ys[k] * (dys[k] - dot);
            }
        }
    }
}
