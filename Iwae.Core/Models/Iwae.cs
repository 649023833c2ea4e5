using System.Numerics;
using Iwae.Autodiff;

namespace Iwae.Core;

/// <summary>
/// The importance weighted autoencoder (Burda, Grosse and Salakhutdinov 2016, section 3).
/// With k samples z_s ~ q(z|x), the unnormalised importance weights are
///     w_s = p(x, z_s) / q(z_s | x),     log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x),
/// and the bound is  L_k = log (1/k) sum_s w_s, at most log p(x).
/// Its gradient is  sum_s w~_s grad log w_s  with the normalised weights w~_s = w_s / sum_s' w_s' held
/// constant (eq. 14): that is what <see cref="GetWeights"/> returns and what <see cref="Loss"/> weighs by.
/// </summary>
public class Iwae<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The settings this model was built from.</summary>
    public ModelConfig Config { get; }

    /// <summary>q(z|x).</summary>
    public GaussianEncoder<T> Encoder { get; }

    /// <summary>p(x|z); the prior p(z) is N(0, I).</summary>
    public IDecoder<T> Decoder { get; }

    /// <summary>Every trainable parameter: encoder, then decoder.</summary>
    public IReadOnlyList<Parameter<T>> Parameters { get; }

    /// <summary>k, the number of samples per input during training.</summary>
    public int K => Config.K;

    /// <summary>Latent dimension Z.</summary>
    public int Latent => Config.Latent;

    /// <summary>Builds the networks of <paramref name="config"/> with weights drawn from <paramref name="rng"/>.</summary>
    /// <param name="config">Architecture and k.</param>
    /// <param name="rng">Initialisation noise.</param>
    /// <param name="meanPixel">Training-set mean per pixel, for the decoder's output bias (empty: zero bias).</param>
    public Iwae(ModelConfig config, Rng rng, ReadOnlySpan<float> meanPixel = default)
    {
        Config = config.Validate();
        Encoder = new GaussianEncoder<T>(config.InputSize, config.Hidden, config.Latent, rng);
        var mirrored = config.Hidden.Reverse().ToArray();
        Decoder = config.Observation == Observation.Bernoulli
            ? new BernoulliDecoder<T>(config.Latent, mirrored, config.InputSize, meanPixel, rng)
            : new GaussianDecoder<T>(config.Latent, mirrored, config.InputSize, config.DecoderSigma, meanPixel, rng);
        Parameters = Encoder.Parameters.Concat(Decoder.Parameters).ToArray();
    }

    /// <summary>An <see cref="Iwae{T}"/> or a <see cref="Vae{T}"/>, as <paramref name="config"/> says.</summary>
    public static Iwae<T> Create(ModelConfig config, Rng rng, ReadOnlySpan<float> meanPixel = default)
        => config.Model == ModelKind.Vae ? new Vae<T>(config, rng, meanPixel) : new Iwae<T>(config, rng, meanPixel);

    /// <summary>
    /// log w for k samples of each input: x [B,D] -> [k,B], row s holding sample s of every input.
    /// The noise eps ~ N(0, I) comes from <paramref name="rng"/>.
    /// </summary>
    public Var<T> LogWeights(Tape<T> t, Var<T> x, int k, Rng rng)
    {
        var (mu, logSigma) = Encoder.Encode(t, x);
        return LogWeights(t, x, mu, logSigma, k, rng);
    }

    /// <summary>log w given the encoder's output (mu, logSigma) [B,Z] for x [B,D] -> [k,B].</summary>
    public Var<T> LogWeights(Tape<T> t, Var<T> x, Var<T> mu, Var<T> logSigma, int k, Rng rng)
    {
        int b = x.Rows;
        // The k samples are stacked sample-major, so the decoder runs once on k*B rows.
        var muK = t.RepeatRows(mu, k);                                        // [k*B,Z]
        var logSigmaK = t.RepeatRows(logSigma, k);                            // [k*B,Z]
        var eps = t.Arena.Allocate(k * b, Latent);
        rng.FillNormal(eps.Span);
        var z = t.Add(muK, t.Mul(t.Exp(logSigmaK), t.Constant(eps)));       // z = mu + sigma * eps

        var logPxGivenZ = Decoder.LogLikelihood(t, z, t.RepeatRows(x, k));   // [k*B,1]
        var logPz = t.StandardNormalLogDensity(z);                          // [k*B,1]
        var logQzGivenX = t.GaussianLogDensity(z, muK, logSigmaK);          // [k*B,1]
        var logW = t.Sub(t.Add(logPxGivenZ, logPz), logQzGivenX);
        return t.Reshape(logW, k, b);                                       // [k,B]
    }

    /// <summary>
    /// The normalised importance weights w~_s = exp(log w_s - logsumexp_s' log w_s'), held constant
    /// (StopGradient): [k,B] -> [k,B], each column summing to 1.
    /// </summary>
    protected virtual Var<T> GetWeights(Tape<T> t, Var<T> logW) => t.StopGradient(t.Softmax(logW, axis: 0));

    /// <summary>
    /// The surrogate loss -mean_b sum_s w~_bs log w_bs: its gradient is -grad L_k. Its value is not -L_k;
    /// report <see cref="Bound"/> instead.
    /// </summary>
    public Var<T> Loss(Tape<T> t, Var<T> logW)
        => t.Neg(t.Mean(t.Sum(t.Mul(GetWeights(t, logW), logW), axis: 0)));

    /// <summary>The bound mean_b L_k = mean_b (logsumexp_s log w_bs - log k), computed stably. [1,1].</summary>
    public static Var<T> Bound(Tape<T> t, Var<T> logW)
        => t.Mean(t.Sub(t.LogSumExp(logW, axis: 0), t.Fill(1, 1, T.CreateTruncating(Math.Log(logW.Rows)))));
}
