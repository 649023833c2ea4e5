using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// StandardNormalLogDensity: log N(z; 0, I) per row:  y_r = sum_j -0.5 z_rj^2 - 0.5 log(2 pi)
//   z [R,C] -> y [R,1]
// Backward: dz += -dy z
// float32 runs the row-parallel kernels of Kernels/Gaussian.cs (StandardNormal); float64 (gradient checks) their reference
// there, GaussianNaive.StandardLogDensityRows (the kernel's sums are that loop's run in float, bit for bit).
public sealed partial class Tape<T>
{
    /// <summary>Standard normal log-density of each row of z (the prior p(z)). -> [R,1].</summary>
    public Var<T> StandardNormalLogDensity(Var<T> z)
    {
        Check(z);
        var zv = z.Value;
        var y = NewTensor(zv.Rows, 1);
        if (typeof(T) == typeof(float))
            StandardNormal.LogDensityRows(AsFloat(zv.Span), AsFloat(y.Span), zv.Cols, execution: Execution);
        else
            GaussianNaive.StandardLogDensityRows<T>(zv.Span, y.Span, zv.Cols);
        return Push(OpCode.StandardNormalLogDensity, y, AnyRequiresGrad(z), z.Id);
    }

    private void BackwardStandardNormalLogDensity(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var zv = _values[n.A]; var dy = _grads[id]; var dz = GradOf(n.A);
        if (typeof(T) == typeof(float))
            StandardNormal.Backward(AsFloat(zv.Span), AsFloat(dy.Span), AsFloat(dz.Span), zv.Cols, execution: Execution);
        else
            GaussianNaive.StandardBackward<T>(zv.Span, dy.Span, dz.Span, zv.Cols);
    }
}
