using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// GaussianLogDensity: log N(z; mu, diag(sigma^2)) per row, with sigma = exp(logSigma):
//   u = (z - mu) exp(-logSigma);   y_r = sum_j -0.5 u_rj^2 - logSigma_rj - 0.5 log(2 pi)
//   z, mu, logSigma [R,C] -> y [R,1]
// Backward: dz += -dy u exp(-logSigma);  dmu += dy u exp(-logSigma);  dlogSigma += dy (u^2 - 1)
// float32 runs the fused, row-parallel kernels of Kernels/Gaussian.cs; float64 (gradient checks) their reference
// GaussianNaive there, the same loops the kernel tests compare against.
public sealed partial class Tape<T>
{
    /// <summary>Diagonal Gaussian log-density of z under (mu, exp(logSigma)), summed over columns. -> [R,1].</summary>
    public Var<T> GaussianLogDensity(Var<T> z, Var<T> mu, Var<T> logSigma)
    {
        Check(z); Check(mu); Check(logSigma);
        CheckSameShape("GaussianLogDensity", z, mu);
        CheckSameShape("GaussianLogDensity", z, logSigma);
        var zv = z.Value; var mv = mu.Value; var sv = logSigma.Value;
        var y = NewTensor(zv.Rows, 1);
        if (typeof(T) == typeof(float))
            Gaussian.LogDensityRows(AsFloat(zv.Span), AsFloat(mv.Span), AsFloat(sv.Span), AsFloat(y.Span), zv.Cols, execution: Execution);
        else
            GaussianNaive.LogDensityRows<T>(zv.Span, mv.Span, sv.Span, y.Span, zv.Cols);
        return Push(OpCode.GaussianLogDensity, y, AnyRequiresGrad(z, mu, logSigma), z.Id, mu.Id, logSigma.Id);
    }

    private void BackwardGaussianLogDensity(int id, in Node n)
    {
        var zv = _values[n.A]; var mv = _values[n.B]; var sv = _values[n.C]; var dy = _grads[id];
        bool nz = Needs(n.A), nm = Needs(n.B), ns = Needs(n.C);
        var dz = nz ? GradOf(n.A) : default;
        var dm = nm ? GradOf(n.B) : default;
        var ds = ns ? GradOf(n.C) : default;
        if (typeof(T) == typeof(float))
            Gaussian.Backward(AsFloat(zv.Span), AsFloat(mv.Span), AsFloat(sv.Span), AsFloat(dy.Span),
                nz ? AsFloat(dz.Span) : default, nm ? AsFloat(dm.Span) : default, ns ? AsFloat(ds.Span) : default, zv.Cols, execution: Execution);
        else
            GaussianNaive.Backward<T>(zv.Span, mv.Span, sv.Span, dy.Span, nz ? dz.Span : default, nm ? dm.Span : default, ns ? ds.Span : default, zv.Cols);
    }
}
