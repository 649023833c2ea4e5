using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Scale: y = s x       x [R,C] -> y [R,C], s a constant
// Backward: dx += s dy
public sealed partial class Tape<T>
{
    /// <summary>s * x for a constant s.</summary>
    public Var<T> Scale(Var<T> x, T s)
    {
        Check(x);
        var y = NewTensor(x.Rows, x.Cols);
        var xs = x.Value.Span; var ys = y.Span;
        for (int i = 0; i < xs.Length; i++) ys[i] = s * xs[i];
        return Push(OpCode.Scale, y, AnyRequiresGrad(x), x.Id, scalar: s);
    }

    /// <summary>-x.</summary>
    public Var<T> Neg(Var<T> x) => Scale(x, -T.One);

    private void BackwardScale(int id, in Node n)
    {
        if (Needs(n.A)) Gemm.Axpy<T>(n.Scalar, _grads[id].Span, GradOf(n.A).Span, Simd.Best);
    }
}
