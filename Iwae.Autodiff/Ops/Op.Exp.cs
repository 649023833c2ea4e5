using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

// Exp: y = exp(x)       x [R,C] -> y [R,C]
// Backward: dx += dy y
public sealed partial class Tape<T>
{
    /// <summary>Elementwise exp. For log-weights use <see cref="LogSumExp"/> or <see cref="Softmax"/> instead.</summary>
    public Var<T> Exp(Var<T> x)
    {
        Check(x);
        var y = NewTensor(x.Rows, x.Cols);
        Activations.Exp<T>(x.Value.Span, y.Span, execution: Execution);
        return Push(OpCode.Exp, y, AnyRequiresGrad(x), x.Id);
    }

    private void BackwardExp(int id, in Node n)
    {
        if (Needs(n.A)) Elementwise.Map<MultiplyOperator<T>, T>(_grads[id].Span, _values[id].Span, GradOf(n.A).Span, accumulate: true, execution: Execution);
    }
}
