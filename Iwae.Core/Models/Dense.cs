using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core.Models;

/// <summary>A fully connected layer's parameters: W [In,Out] and b [1,Out], used as y = x W + b.</summary>
public sealed class Dense<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Weights [In,Out].</summary>
    public Parameter<T> W { get; }

    /// <summary>Bias [1,Out].</summary>
    public Parameter<T> B { get; }

    /// <summary>Glorot/Xavier-uniform weights, U(-a, a) with a = sqrt(6 / (in + out)), and zero bias (as Burda et al.).</summary>
    public Dense(string name, int inputs, int outputs, Rng rng)
    {
        W = new Parameter<T>(name + ".W", inputs, outputs);
        B = new Parameter<T>(name + ".b", 1, outputs);
        double a = Math.Sqrt(6.0 / (inputs + outputs));
        var w = W.Value.Span;
        for (int i = 0; i < w.Length; i++) w[i] = T.CreateTruncating(a * (2 * rng.NextDouble() - 1));
    }

    /// <summary>Input width.</summary>
    public int Inputs => W.Rows;

    /// <summary>Output width.</summary>
    public int Outputs => W.Cols;

    /// <summary>x W + b. With <paramref name="detach"/>, W and b enter through StopGradient: the gradient still
    /// flows to x but not to the layer's parameters (the estimators that split encoder and decoder gradients need this).</summary>
    public Var<T> Linear(Tape<T> t, Var<T> x, bool detach = false)
    {
        var (w, b) = Vars(t, detach);
        return t.Linear(x, w, b);
    }

    /// <summary>tanh(x W + b), fused; <paramref name="detach"/> as in <see cref="Linear"/>.</summary>
    public Var<T> LinearTanh(Tape<T> t, Var<T> x, bool detach = false)
    {
        var (w, b) = Vars(t, detach);
        return t.LinearTanh(x, w, b);
    }

    /// <summary>
    /// The Bernoulli log-likelihood of targets x under logits x W + b, per row, fused (<see cref="Tape{T}.LinearBernoulliLogLik"/>):
    /// the logits are scored as the GEMM makes them and never kept; <paramref name="detach"/> as in <see cref="Linear"/>.
    /// </summary>
    public Var<T> LinearBernoulliLogLik(Tape<T> t, Var<T> h, Var<T> x, bool detach = false)
    {
        var (w, b) = Vars(t, detach);
        return t.LinearBernoulliLogLik(h, w, b, x);
    }

    /// <summary>W and b on the tape, each through StopGradient when <paramref name="detach"/>.</summary>
    private (Var<T> W, Var<T> B) Vars(Tape<T> t, bool detach) => (Var(t, W, detach), Var(t, B, detach));

    private static Var<T> Var(Tape<T> t, Parameter<T> p, bool detach) => detach ? t.StopGradient(t.Param(p)) : t.Param(p);

    /// <summary>W then b.</summary>
    public IEnumerable<Parameter<T>> Parameters => [W, B];
}

/// <summary>A stack of tanh layers: x -> tanh(x W1 + b1) -> tanh(. W2 + b2) -> ...; with no widths, the identity.</summary>
public sealed class Mlp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dense<T>[] _layers;
    private readonly int _inputs;

    /// <summary>Layers named "{name}.{i}", widths input -> widths[0] -> widths[1] ...</summary>
    public Mlp(string name, int input, IReadOnlyList<int> widths, Rng rng)
    {
        _inputs = input;
        _layers = new Dense<T>[widths.Count];
        for (int i = 0; i < widths.Count; i++)
        {
            _layers[i] = new Dense<T>($"{name}.{i}", input, widths[i], rng);
            input = widths[i];
        }
    }

    /// <summary>Width of the last layer (the input's with no layers).</summary>
    public int Outputs => _layers.Length == 0 ? _inputs : _layers[^1].Outputs;

    /// <summary>The tanh stack applied to x [N,In] -> [N,Outputs]; <paramref name="detach"/>: the weights as constants.</summary>
    public Var<T> Forward(Tape<T> t, Var<T> x, bool detach = false)
    {
        foreach (var layer in _layers) x = layer.LinearTanh(t, x, detach);
        return x;
    }

    /// <summary>All weights and biases, layer by layer.</summary>
    public IEnumerable<Parameter<T>> Parameters => _layers.SelectMany(l => l.Parameters);
}
