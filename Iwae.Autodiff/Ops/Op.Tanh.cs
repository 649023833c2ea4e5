using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Tanh: y = tanh(x)     x [R,C] -> y [R,C]
// Backward: dx += dy (1 - y^2), from the saved output
public sealed partial class Tape<T>
{
    /// <summary>Elementwise tanh.</summary>
    public Var<T> Tanh(Var<T> x)
    {
        Check(x);
        var y = NewTensor(x.Rows, x.Cols);
        Activations.Tanh<T>(x.Value.Span, y.Span, execution: Execution);
        return Push(OpCode.Tanh, y, AnyRequiresGrad(x), x.Id);
    }

    private void BackwardTanh(int id, in Node n)
    {
        if (Needs(n.A)) Elementwise.Map<TanhGradOperator<T>, T>(_values[id].Span, _grads[id].Span, GradOf(n.A).Span, accumulate: true, execution: Execution);
    }
}
