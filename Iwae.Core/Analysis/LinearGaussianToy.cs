using System.Numerics;
using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Analysis;

/// <summary>
/// The linear Gaussian model on which Rainforth et al. (2018, section 4) measured the gradient SNR, written as an
/// <see cref="Iwae{T}"/> with no hidden layers:
///     z ~ N(0, I),   x | z ~ N(z + c, I),   both of dimension D (20 in the paper),
/// whose true posterior is p(z|x) = N((x - c) / 2, I / 2), and the encoder q(z|x) = N(x A + b, sigma_q^2 I), which
/// matches its mean at A = I/2, b = -c/2, with the paper's fixed sigma_q^2 = 2/3 instead of the true 1/2. (The paper
/// puts the offset in the prior, z ~ N(c, I); shifting z by c gives this form.) Every weight is then perturbed by
/// N(0, <c>perturb</c>^2) noise, as in the paper, so that the expected gradients are small but not zero.
/// Unlike MNIST's, this posterior is one q can nearly match: the importance weights stay spread over many samples
/// (mean effective sample size about 0.4 k at D = 20, measured), the regime in which Tucker et al. (2019) show DReG's
/// encoder SNR rising with k while the IWAE's falls.
/// </summary>
public static class LinearGaussianToy
{
    /// <summary>
    /// The model and <paramref name="count"/> data points drawn from it [count, D]. c ~ N(0, I); the decoder's weights
    /// are the true ones (W = I, bias c, sigma 1) and the encoder's the ones above, all plus N(0, perturb^2) noise.
    /// </summary>
    /// <param name="dim">D, the dimension of x and z.</param>
    /// <param name="count">Data points.</param>
    /// <param name="perturb">Standard deviation of the noise added to every weight (0.01 in the paper).</param>
    /// <param name="seed">Seeds c, the data and the perturbation (a stream apart from a <c>new Rng(seed)</c>).</param>
    public static (Iwae<T> Model, Tensor<T> X) Create<T>(int dim = 20, int count = 1, double perturb = 0.01, ulong seed = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (!(perturb >= 0)) throw new ArgumentOutOfRangeException(nameof(perturb), perturb, "must be >= 0");
        var config = new ModelConfig
        {
            InputSize = dim, Hidden = [], Latent = dim, Observation = Observation.Gaussian, DecoderSigma = 1, K = 1,
        };
        // Its own stream: callers often seed the gradient draws with the same number, and the draws must not
        // repeat the normals that made c, the data and the perturbation.
        var rng = new Rng(seed ^ StreamTag);
        var model = new Iwae<T>(config, rng);
        var c = new double[dim];
        for (int j = 0; j < dim; j++) c[j] = rng.NextNormal();

        var x = Tensor<T>.Zeros(count, dim);
        for (int n = 0; n < count; n++)
            for (int j = 0; j < dim; j++)
                x[n, j] = T.CreateTruncating(rng.NextNormal() + c[j] + rng.NextNormal());   // z + c + noise

        double logSigmaQ = 0.5 * Math.Log(2.0 / 3.0);
        Set(model, "encoder.mu.W", (i, j) => i == j ? 0.5 : 0);
        Set(model, "encoder.mu.b", (_, j) => -c[j] / 2);
        Set(model, "encoder.logsigma.W", (_, _) => 0);
        Set(model, "encoder.logsigma.b", (_, _) => logSigmaQ);
        Set(model, "decoder.out.W", (i, j) => i == j ? 1 : 0);
        Set(model, "decoder.out.b", (_, j) => c[j]);
        foreach (var p in model.Parameters)
        {
            var v = p.Value.Span;
            for (int i = 0; i < v.Length; i++) v[i] += T.CreateTruncating(perturb * rng.NextNormal());
        }
        return (model, x);
    }

    private const ulong StreamTag = 0x4C696E6561724761UL;      // "LinearGa"

    private static void Set<T>(Iwae<T> model, string name, Func<int, int, double> value) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var p = model.Parameters.Single(q => q.Name == name);
        for (int i = 0; i < p.Value.Rows; i++)
            for (int j = 0; j < p.Value.Cols; j++)
                p.Value[i, j] = T.CreateTruncating(value(i, j));
    }
}
