namespace Iwae.Autodiff;

// RepeatRows: y = x stacked k times, sample-major    x [B,C] -> y [k*B,C], row s*B + b = x[b]
// This is how k importance samples share one encoder output: the decoder then runs once on k*B rows.
// Backward: dx[b] += sum_s dy[s*B + b]
public sealed partial class Tape<T>
{
    /// <summary>Stacks <paramref name="k"/> copies of x: [B,C] -> [k*B,C], row s*B+b is x's row b.</summary>
    public Var<T> RepeatRows(Var<T> x, int k)
    {
        Check(x);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var xv = x.Value;
        var y = NewTensor(k * xv.Rows, xv.Cols);
        for (int s = 0; s < k; s++) xv.Span.CopyTo(y.Span.Slice(s * xv.Length, xv.Length));
        return Push(OpCode.RepeatRows, y, AnyRequiresGrad(x), x.Id, arg: k);
    }

    private void BackwardRepeatRows(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var dx = GradOf(n.A).Span;
        var dy = _grads[id].Span;
        for (int s = 0; s < n.Arg; s++) Kernels.Elementwise.AddInto<T>(dy.Slice(s * dx.Length, dx.Length), dx, execution: Execution);
    }
}
