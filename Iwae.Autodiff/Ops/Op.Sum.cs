namespace Iwae.Autodiff;

// Sum / Mean over the whole tensor or one axis (numpy/PyTorch convention):
//   Sum(x)          x [R,C] -> [1,1]
//   Sum(x, axis 0)  x [R,C] -> [1,C]   (over rows: per column)
//   Sum(x, axis 1)  x [R,C] -> [R,1]   (over columns: per row)
// Mean is Sum times 1/count, recorded as the same node with its factor.
// Backward: dx[i,j] += factor * dy[reduced index of (i,j)]
public sealed partial class Tape<T>
{
    /// <summary>Sum of all elements -> [1,1].</summary>
    public Var<T> Sum(Var<T> x) => SumCore(x, -1, T.One);

    /// <summary>Sum along <paramref name="axis"/>: 0 over rows -> [1,C]; 1 over columns -> [R,1].</summary>
    public Var<T> Sum(Var<T> x, int axis) => SumCore(x, CheckAxis(axis), T.One);

    /// <summary>Mean of all elements -> [1,1].</summary>
    public Var<T> Mean(Var<T> x) => SumCore(x, -1, T.One / T.CreateTruncating(Math.Max(1, x.Value.Length)));

    /// <summary>Mean along <paramref name="axis"/>: 0 over rows -> [1,C]; 1 over columns -> [R,1].</summary>
    public Var<T> Mean(Var<T> x, int axis)
    {
        int count = CheckAxis(axis) == 0 ? x.Rows : x.Cols;
        return SumCore(x, axis, T.One / T.CreateTruncating(Math.Max(1, count)));
    }

    private static int CheckAxis(int axis) =>
        axis is 0 or 1 ? axis : throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0 (over rows) or 1 (over columns)");

    private Var<T> SumCore(Var<T> x, int axis, T factor)
    {
        Check(x);
        var xv = x.Value;
        var y = axis switch { -1 => NewTensor(1, 1), 0 => NewTensor(1, xv.Cols), _ => NewTensor(xv.Rows, 1) };
        var ys = y.Span;
        ys.Clear();
        for (int i = 0; i < xv.Rows; i++)
        {
            var row = xv.Row(i);
            for (int j = 0; j < row.Length; j++)
                ys[axis switch { -1 => 0, 0 => j, _ => i }] += row[j];
        }
        for (int i = 0; i < ys.Length; i++) ys[i] *= factor;
        return Push(OpCode.Sum, y, AnyRequiresGrad(x), x.Id, scalar: factor, arg: axis);
    }

    private void BackwardSum(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var dy = _grads[id].Span;
        var dx = GradOf(n.A);
        for (int i = 0; i < dx.Rows; i++)
        {
            var row = dx.Row(i);
            for (int j = 0; j < row.Length; j++)
                row[j] += n.Scalar * dy[n.Arg switch { -1 => 0, 0 => j, _ => i }];
        }
    }
}
