using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core.Models;

/// <summary>The generative model's observation part p(x|z).</summary>
public interface IDecoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// log p(x|z) per row: z [N,Z], x [N,D] -> [N,1]. x may also be [B,D] with N a multiple of B: row n of z is
    /// then scored against x's row n mod B, the layout of k samples stacked sample-major. With <paramref name="detachParameters"/> the weights enter as
    /// constants (StopGradient): the gradient reaches z but not the decoder's parameters.
    /// </summary>
    Var<T> LogLikelihood(Tape<T> t, Var<T> z, Var<T> x, bool detachParameters = false);

    /// <summary>E[x|z]: z [N,Z] -> pixel means [N,D] in data space (for reconstructions and samples).</summary>
    Var<T> Mean(Tape<T> t, Var<T> z);

    /// <summary>Trainable parameters.</summary>
    IEnumerable<Parameter<T>> Parameters { get; }
}

/// <summary>
/// p(x|z) = prod_j Bernoulli(x_j; sigmoid(l_j(z))) with logits l from a tanh MLP. The likelihood is computed
/// from logits (x l - softplus(l)), never from log(sigmoid). The output bias starts at logit(mean pixel).
/// </summary>
public sealed class BernoulliDecoder<T> : IDecoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _body;
    private readonly Dense<T> _out;

    /// <param name="latent">Z.</param>
    /// <param name="hidden">Widths from the latent side (the encoder's, reversed).</param>
    /// <param name="output">D.</param>
    /// <param name="meanPixel">Training-set mean of each pixel (length D), or empty for a zero bias.</param>
    /// <param name="rng">Initialisation noise.</param>
    public BernoulliDecoder(int latent, IReadOnlyList<int> hidden, int output, ReadOnlySpan<float> meanPixel, Rng rng)
    {
        _body = new Mlp<T>("decoder.hidden", latent, hidden, rng);
        _out = new Dense<T>("decoder.out", _body.Outputs, output, rng);
        if (!meanPixel.IsEmpty)
        {
            if (meanPixel.Length != output) throw new ArgumentException($"mean pixel has {meanPixel.Length} values, the decoder outputs {output}");
            var b = _out.B.Value.Span;
            for (int j = 0; j < output; j++)
            {
                double p = Math.Clamp(meanPixel[j], 0.001, 0.999);
                b[j] = T.CreateTruncating(Math.Log(p / (1 - p)));
            }
        }
    }

    /// <summary>Logits l(z): [N,Z] -> [N,D]; <paramref name="detachParameters"/>: the weights as constants.</summary>
    public Var<T> Logits(Tape<T> t, Var<T> z, bool detachParameters = false)
        => _out.Linear(t, _body.Forward(t, z, detachParameters), detachParameters);

    /// <inheritdoc />
    public Var<T> LogLikelihood(Tape<T> t, Var<T> z, Var<T> x, bool detachParameters = false)
        => _out.LinearBernoulliLogLik(t, _body.Forward(t, z, detachParameters), x, detachParameters);

    /// <inheritdoc />
    public Var<T> Mean(Tape<T> t, Var<T> z)
    {
        // sigmoid(l) = exp(-softplus(-l)): stable composition of existing ops.
        return t.Exp(t.Neg(t.Softplus(t.Neg(Logits(t, z)))));
    }

    /// <inheritdoc />
    public IEnumerable<Parameter<T>> Parameters => _body.Parameters.Concat(_out.Parameters);
}

/// <summary>p(x|z) = N(x; m(z), sigma^2 I) with a fixed sigma: the second observation model, for grey levels.</summary>
public sealed class GaussianDecoder<T> : IDecoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _body;
    private readonly Dense<T> _out;
    private readonly T _logSigma;

    /// <param name="latent">Z.</param>
    /// <param name="hidden">Widths from the latent side.</param>
    /// <param name="output">D.</param>
    /// <param name="sigma">The fixed standard deviation.</param>
    /// <param name="meanPixel">Mean of each pixel (length D) for the initial output bias, or empty.</param>
    /// <param name="rng">Initialisation noise.</param>
    public GaussianDecoder(int latent, IReadOnlyList<int> hidden, int output, double sigma, ReadOnlySpan<float> meanPixel, Rng rng)
    {
        _body = new Mlp<T>("decoder.hidden", latent, hidden, rng);
        _out = new Dense<T>("decoder.out", _body.Outputs, output, rng);
        _logSigma = T.CreateTruncating(Math.Log(sigma));
        if (!meanPixel.IsEmpty)
        {
            if (meanPixel.Length != output) throw new ArgumentException($"mean pixel has {meanPixel.Length} values, the decoder outputs {output}");
            var b = _out.B.Value.Span;
            for (int j = 0; j < output; j++) b[j] = T.CreateTruncating(meanPixel[j]);
        }
    }

    /// <inheritdoc />
    public Var<T> Mean(Tape<T> t, Var<T> z) => Mean(t, z, detachParameters: false);

    private Var<T> Mean(Tape<T> t, Var<T> z, bool detachParameters) => _out.Linear(t, _body.Forward(t, z, detachParameters), detachParameters);

    /// <inheritdoc />
    public Var<T> LogLikelihood(Tape<T> t, Var<T> z, Var<T> x, bool detachParameters = false)
    {
        var m = Mean(t, z, detachParameters);
        if (x.Rows != m.Rows) x = t.RepeatRows(x, m.Rows / x.Rows);
        return t.GaussianLogDensity(x, m, t.Fill(m.Rows, m.Cols, _logSigma));
    }

    /// <inheritdoc />
    public IEnumerable<Parameter<T>> Parameters => _body.Parameters.Concat(_out.Parameters);
}
