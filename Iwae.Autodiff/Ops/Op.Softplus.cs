using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Softplus: y = log(1 + exp(x)) = max(x,0) + log1p(exp(-|x|))   x [R,C] -> y [R,C]
// Backward: dx += dy sigmoid(x)
public sealed partial class Tape<T>
{
    /// <summary>Elementwise softplus, finite for every finite x.</summary>
    public Var<T> Softplus(Var<T> x)
    {
        Check(x);
        var y = NewTensor(x.Rows, x.Cols);
        Activations.Softplus<T>(x.Value.Span, y.Span, execution: Execution);
        return Push(OpCode.Softplus, y, AnyRequiresGrad(x), x.Id);
    }

    private void BackwardSoftplus(int id, in Node n)
    {
        if (!Needs(n.A)) return;
        var x = _values[n.A].Span; var dy = _grads[id].Span; var dx = GradOf(n.A).Span;
        for (int i = 0; i < x.Length; i++) dx[i] += dy[i] * Activations.Sigmoid(x[i]);
    }
}
