using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// MatMul: c = a b            a [M,K], b [K,N] -> c [M,N]
// Backward: da += dc b^T (NT);  db += a^T dc (TN)
public sealed partial class Tape<T>
{
    /// <summary>Matrix product. a [M,K], b [K,N] -> [M,N].</summary>
    public Var<T> MatMul(Var<T> a, Var<T> b)
    {
        Check(a); Check(b);
        var av = a.Value; var bv = b.Value;
        if (av.Cols != bv.Rows) throw new ArgumentException($"MatMul: {av.ShapeString} x {bv.ShapeString} do not chain");
        var c = NewTensor(av.Rows, bv.Cols);
        Gemm.NN<T>(av.Span, bv.Span, c.Span, av.Rows, bv.Cols, av.Cols, accumulate: false, execution: Execution);
        return Push(OpCode.MatMul, c, AnyRequiresGrad(a, b), a.Id, b.Id);
    }

    private void BackwardMatMul(int id, in Node n)
    {
        var dc = _grads[id];
        var a = _values[n.A]; var b = _values[n.B];
        int m = a.Rows, k = a.Cols, cols = b.Cols;
        if (Needs(n.A)) Gemm.NT<T>(dc.Span, b.Span, GradOf(n.A).Span, m, k, cols, accumulate: true, execution: Execution);
        if (Needs(n.B)) Gemm.TN<T>(a.Span, dc.Span, GradOf(n.B).Span, k, cols, m, accumulate: true, execution: Execution);
    }
}
