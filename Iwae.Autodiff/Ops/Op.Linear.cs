using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Linear:      y = x W + b           x [N,In], W [In,Out], b [1,Out] -> y [N,Out]
// LinearTanh:  y = tanh(x W + b)     same shapes; backward reads y (tanh' = 1 - y^2), never recomputes tanh
// Backward:    dz = dy (or dy * (1 - y^2));  dx += dz W^T (NT);  dW += x^T dz (TN), with db += sum_rows dz in the same sweep
public sealed partial class Tape<T>
{
    /// <summary>y = x W + b. x [N,In], W [In,Out], b [1,Out] -> [N,Out]. One GEMM.</summary>
    public Var<T> Linear(Var<T> x, Var<T> w, Var<T> b) => LinearCore(OpCode.Linear, x, w, b);

    /// <summary>y = x W + b with W and b taken from parameters.</summary>
    public Var<T> Linear(Var<T> x, Parameter<T> w, Parameter<T> b) => Linear(x, Param(w), Param(b));

    /// <summary>y = tanh(x W + b), fused. x [N,In], W [In,Out], b [1,Out] -> [N,Out].</summary>
    public Var<T> LinearTanh(Var<T> x, Var<T> w, Var<T> b) => LinearCore(OpCode.LinearTanh, x, w, b);

    /// <summary>y = tanh(x W + b) with W and b taken from parameters.</summary>
    public Var<T> LinearTanh(Var<T> x, Parameter<T> w, Parameter<T> b) => LinearTanh(x, Param(w), Param(b));

    private Var<T> LinearCore(OpCode op, Var<T> x, Var<T> w, Var<T> b)
    {
        Check(x); Check(w); Check(b);
        var xv = x.Value; var wv = w.Value; var bv = b.Value;
        CheckLinear(op, xv, wv, bv);
        var y = NewTensor(xv.Rows, wv.Cols);
        Gemm.Linear<T>(xv.Span, wv.Span, bv.Span, y.Span, xv.Rows, wv.Cols, xv.Cols, tanh: op == OpCode.LinearTanh, execution: Execution);
        return Push(op, y, AnyRequiresGrad(x, w, b), x.Id, w.Id, b.Id);
    }

    /// <summary>x [N,In], W [In,Out] and b [1,Out] make a dense layer, or <paramref name="op"/> says which does not fit.</summary>
    private static void CheckLinear(OpCode op, Tensor<T> x, Tensor<T> w, Tensor<T> b)
    {
        if (x.Cols != w.Rows) throw new ArgumentException($"{op}: x {x.ShapeString} and W {w.ShapeString} do not chain (x.Cols != W.Rows)");
        if (b.Rows != 1 || b.Cols != w.Cols) throw new ArgumentException($"{op}: bias must be [1,{w.Cols}], got {b.ShapeString}");
    }

    private void BackwardLinear(int id, in Node n) => LinearBackwardCore(_grads[id], n);

    private void BackwardLinearTanh(int id, in Node n)
    {
        var y = _values[id];
        var dz = NewTensor(y.Rows, y.Cols);
        Elementwise.Map<TanhGradOperator<T>, T>(y.Span, _grads[id].Span, dz.Span, execution: Execution);
        LinearBackwardCore(dz, n);
    }

    private void LinearBackwardCore(Tensor<T> dz, in Node n)
    {
        var x = _values[n.A];
        var w = _values[n.B];
        // Overwriting a fresh dx runs the same FMA chains from +0 as adding into a zeroed one. The bias gradient (dz's
        // column sums) rides on the weight gradient's GEMM, which reads dz anyway.
        bool fresh = false;
        var dx = Needs(n.A) ? GradForOverwrite(n.A, out fresh).Span : default;
        var dw = Needs(n.B) ? GradOf(n.B).Span : default;
        var db = Needs(n.C) ? GradOf(n.C).Span : default;
        Gemm.LinearBackward<T>(dz.Span, x.Span, w.Span, dx, dw, db, x.Rows, w.Rows, w.Cols, dxAccumulate: !fresh, execution: Execution);
    }
}
