using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Mul: c = a * b (elementwise)   a [R,C], b [R,C] | [1,C] | [R,1] | [1,1] -> c [R,C]
// Backward: da += dc * b;  db += (dc * a) summed over broadcast dimensions
public sealed partial class Tape<T>
{
    /// <summary>Elementwise a * b, with b broadcast (see Op.Broadcast.cs). -> a's shape.</summary>
    public Var<T> Mul(Var<T> a, Var<T> b)
    {
        Check(a); Check(b);
        var av = a.Value; var bv = b.Value;
        CheckBroadcast("Mul", av, bv);
        var c = NewTensor(av.Rows, av.Cols);
        if (SameShape(av, bv)) Elementwise.Map<MultiplyOperator<T>, T>(av.Span, bv.Span, c.Span, execution: Execution);
        else
            for (int i = 0; i < av.Rows; i++)
                for (int j = 0; j < av.Cols; j++) c[i, j] = av[i, j] * At(bv, i, j);
        return Push(OpCode.Mul, c, AnyRequiresGrad(a, b), a.Id, b.Id);
    }

    private void BackwardMul(int id, in Node n)
    {
        var dc = _grads[id];
        var a = _values[n.A]; var b = _values[n.B];
        bool same = SameShape(a, b);
        if (Needs(n.A))
        {
            var da = GradOf(n.A);
            if (same) Elementwise.Map<MultiplyOperator<T>, T>(dc.Span, b.Span, da.Span, accumulate: true, execution: Execution);
            else
                for (int i = 0; i < a.Rows; i++)
                    for (int j = 0; j < a.Cols; j++) da[i, j] += dc[i, j] * At(b, i, j);
        }
        if (Needs(n.B))
        {
            var db = GradOf(n.B);
            if (same) Elementwise.Map<MultiplyOperator<T>, T>(dc.Span, a.Span, db.Span, accumulate: true, execution: Execution);
            else
            {
                var tmp = NewTensor(a.Rows, a.Cols);
                Elementwise.Map<MultiplyOperator<T>, T>(dc.Span, a.Span, tmp.Span, execution: Execution);
                AccumulateReduced(tmp, db, T.One);
            }
        }
    }
}
