using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Sub: c = a - b       a [R,C], b [R,C] | [1,C] | [R,1] | [1,1] -> c [R,C]
// Backward: da += dc;  db -= dc summed over broadcast dimensions
public sealed partial class Tape<T>
{
    /// <summary>a - b, with b broadcast (see Op.Broadcast.cs). -> a's shape.</summary>
    public Var<T> Sub(Var<T> a, Var<T> b)
    {
        Check(a); Check(b);
        var av = a.Value; var bv = b.Value;
        CheckBroadcast("Sub", av, bv);
        var c = NewTensor(av.Rows, av.Cols);
        if (SameShape(av, bv)) Elementwise.Map<SubtractOperator<T>, T>(av.Span, bv.Span, c.Span, execution: Execution);
        else
            for (int i = 0; i < av.Rows; i++)
                for (int j = 0; j < av.Cols; j++) c[i, j] = av[i, j] - At(bv, i, j);
        return Push(OpCode.Sub, c, AnyRequiresGrad(a, b), a.Id, b.Id);
    }

    private void BackwardSub(int id, in Node n)
    {
        var dc = _grads[id];
        if (Needs(n.A)) Elementwise.AddInto<T>(dc.Span, GradOf(n.A).Span, execution: Execution);
        if (Needs(n.B))
        {
            var db = GradOf(n.B);
            if (SameShape(dc, db)) Elementwise.Map<SubtractOperator<T>, T>(db.Span, dc.Span, db.Span, execution: Execution);
            else AccumulateReduced(dc, db, -T.One);
        }
    }
}
