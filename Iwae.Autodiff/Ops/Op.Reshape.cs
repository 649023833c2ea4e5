namespace Iwae.Autodiff;

// Reshape: the same row-major values seen with another shape (no copy)    x [R,C] -> y [R',C'], R*C = R'*C'
// The IWAE uses it to turn per-row log-densities [k*B,1] into log-weights [k,B] (row s holds sample s).
// Backward: dx += dy (flat)
public sealed partial class Tape<T>
{
    /// <summary>A view of x as [rows, cols]; shares x's storage.</summary>
    public Var<T> Reshape(Var<T> x, int rows, int cols)
    {
        Check(x);
        var xv = x.Value;
        if ((long)rows * cols != xv.Length) throw new ArgumentException($"Reshape: cannot view {xv.ShapeString} as [{rows},{cols}]");
        return Push(OpCode.Reshape, xv.Reshape(rows, cols), AnyRequiresGrad(x), x.Id);
    }

    private void BackwardReshape(int id, in Node n)
    {
        if (Needs(n.A)) Kernels.Elementwise.AddInto<T>(_grads[id].Span, GradOf(n.A).Span, execution: Execution);
    }
}
