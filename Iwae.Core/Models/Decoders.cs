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

/// <summary>
/// p(x|z) = N(x; m(z), diag(sigma^2)) with the mean m from a tanh MLP and sigma fixed (<see cref="DecoderVariance.Fixed"/>),
/// or learned as sigma-VAE (Rybkin et al. 2021) advises: one sigma for every dimension (<see cref="DecoderVariance.Shared"/>)
/// or one per dimension (<see cref="DecoderVariance.PerDimension"/>). A learned sigma is the parameter
/// <see cref="LogSigma"/> ("decoder.log_sigma", [1,1] or [1,D]) r, read through a soft floor f:
///     log sigma = log f + softplus(r - log f)
/// (sigma-VAE's softclip), built from existing ops; a shared one is broadcast across the row, and the row repeated
/// down the N rows (RepeatRows, whose backward sums the rows: the column sums that dlogSigma needs).
/// </summary>
public sealed class GaussianDecoder<T> : IDecoder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Mlp<T> _body;
    private readonly Dense<T> _out;
    private readonly T _logSigma;
    private readonly T _logFloor;

    /// <param name="latent">Z.</param>
    /// <param name="hidden">Widths from the latent side.</param>
    /// <param name="output">D.</param>
    /// <param name="sigma">The fixed standard deviation (used with <see cref="DecoderVariance.Fixed"/>).</param>
    /// <param name="meanPixel">Mean of each pixel (length D) for the initial output bias, or empty.</param>
    /// <param name="rng">Initialisation noise.</param>
    /// <param name="variance">Fixed, or learned shared or per dimension; a learned log sigma starts at r = 0 (sigma about 1).</param>
    /// <param name="sigmaFloor">The floor f of a learned sigma (positive).</param>
    public GaussianDecoder(int latent, IReadOnlyList<int> hidden, int output, double sigma, ReadOnlySpan<float> meanPixel, Rng rng,
        DecoderVariance variance = DecoderVariance.Fixed, double sigmaFloor = ModelConfig.DefaultSigmaFloor)
    {
        _body = new Mlp<T>("decoder.hidden", latent, hidden, rng);
        _out = new Dense<T>("decoder.out", _body.Outputs, output, rng);
        _logSigma = T.CreateTruncating(Math.Log(sigma));
        if (!(sigmaFloor > 0)) throw new ArgumentOutOfRangeException(nameof(sigmaFloor), sigmaFloor, "the sigma floor must be positive");
        _logFloor = T.CreateTruncating(Math.Log(sigmaFloor));
        Variance = variance;
        if (variance != DecoderVariance.Fixed)
            LogSigma = new Parameter<T>(LogSigmaName, 1, variance == DecoderVariance.Shared ? 1 : output);   // zeros: drawn from no rng
        if (!meanPixel.IsEmpty)
        {
            if (meanPixel.Length != output) throw new ArgumentException($"mean pixel has {meanPixel.Length} values, the decoder outputs {output}");
            var b = _out.B.Value.Span;
            for (int j = 0; j < output; j++) b[j] = T.CreateTruncating(meanPixel[j]);
        }
    }

    /// <summary>The name of the learned log-sigma parameter in checkpoints and state_dicts.</summary>
    public const string LogSigmaName = "decoder.log_sigma";

    /// <summary>Fixed, shared or per dimension.</summary>
    public DecoderVariance Variance { get; }

    /// <summary>The learned parameter r of log sigma = log f + softplus(r - log f), [1,1] or [1,D]; null for a fixed sigma.</summary>
    public Parameter<T>? LogSigma { get; }

    /// <summary>
    /// The standard deviation of each of the D dimensions, as the likelihood uses it (after the floor), in the units the
    /// decoder sees (standardised ones when the model standardises).
    /// </summary>
    public double[] Sigma()
    {
        int d = _out.Outputs;
        var sigma = new double[d];
        if (LogSigma is null)
        {
            Array.Fill(sigma, Math.Exp(double.CreateTruncating(_logSigma)));
            return sigma;
        }
        double logFloor = double.CreateTruncating(_logFloor);
        var r = LogSigma.Value.Span;
        for (int j = 0; j < d; j++)
        {
            double u = double.CreateTruncating(r[LogSigma.Cols == 1 ? 0 : j]) - logFloor;
            sigma[j] = Math.Exp(logFloor + Math.Max(u, 0) + Math.Log(1 + Math.Exp(-Math.Abs(u))));
        }
        return sigma;
    }

    /// <inheritdoc />
    public Var<T> Mean(Tape<T> t, Var<T> z) => Mean(t, z, detachParameters: false);

    private Var<T> Mean(Tape<T> t, Var<T> z, bool detachParameters) => _out.Linear(t, _body.Forward(t, z, detachParameters), detachParameters);

    /// <inheritdoc />
    public Var<T> LogLikelihood(Tape<T> t, Var<T> z, Var<T> x, bool detachParameters = false)
    {
        var m = Mean(t, z, detachParameters);
        if (x.Rows != m.Rows) x = t.RepeatRows(x, m.Rows / x.Rows);
        return t.GaussianLogDensity(x, m, LogSigmas(t, m.Rows, m.Cols, detachParameters));
    }

    /// <summary>log sigma for every element, [N,D]: the fixed value, or the floored parameter broadcast.</summary>
    private Var<T> LogSigmas(Tape<T> t, int rows, int cols, bool detachParameters)
    {
        if (LogSigma is null) return t.Fill(rows, cols, _logSigma);
        var r = t.Param(LogSigma);
        if (detachParameters) r = t.StopGradient(r);
        var logFloor = t.Fill(1, 1, _logFloor);
        var row = t.Add(t.Softplus(t.Sub(r, logFloor)), logFloor);          // [1,1] or [1,D]
        if (row.Cols != cols) row = t.Add(t.Fill(1, cols, T.Zero), row);   // shared: [1,1] -> [1,D]
        return t.RepeatRows(row, rows);                                    // [N,D]
    }

    /// <inheritdoc />
    public IEnumerable<Parameter<T>> Parameters => LogSigma is null
        ? _body.Parameters.Concat(_out.Parameters)
        : _body.Parameters.Concat(_out.Parameters).Append(LogSigma);
}
