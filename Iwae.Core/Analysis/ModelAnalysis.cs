using Iwae.Autodiff;
using Iwae.Core.Models;

namespace Iwae.Core.Analysis;

/// <summary>What <see cref="ModelAnalysis.Of"/> computes besides the latent means; a count of 0 leaves that part out.</summary>
public sealed record AnalysisOptions
{
    /// <summary>The first inputs reconstructed.</summary>
    public int Reconstructions { get; init; } = 16;

    /// <summary>Draws from the prior, decoded.</summary>
    public int PriorSamples { get; init; } = 32;

    /// <summary>Seed of the prior draws: two models given the same seed decode the same z (one stochastic layer).</summary>
    public ulong PriorSeed { get; init; } = 0x5A3D1E;

    /// <summary>Side n of the decoded n x n grid of z (<see cref="ModelAnalysis.ManifoldGrid"/>); only a 2-D latent of one stochastic layer has one.</summary>
    public int ManifoldSide { get; init; } = 15;

    /// <summary>The options without the decoded images: the latent means and their projection only.</summary>
    public AnalysisOptions WithoutImages() => this with { Reconstructions = 0, PriorSamples = 0, ManifoldSide = 0 };
}

/// <summary>N points of the latent space on two axes: the raw z of a 2-D latent, or the first two principal axes.</summary>
/// <param name="X">First coordinate of each point, [N].</param>
/// <param name="Y">Second coordinate of each point, [N].</param>
/// <param name="Explained">With principal axes, the fraction of the total variance each explains, [2]; null for the raw 2-D latent.</param>
public sealed record LatentProjection(double[] X, double[] Y, double[]? Explained)
{
    /// <summary>Whether the axes are principal axes (the latent has other than 2 dimensions).</summary>
    public bool IsPrincipal => Explained is not null;
}

/// <summary>
/// A trained model seen through a set of inputs x [N,D]: where the encoder puts them (E[z|x], and those means on two
/// axes), what the decoder makes of them (reconstructions: the decoder's means at z = E[z|x]), what it makes of the
/// prior (decoded prior draws), and, for a 2-D latent of one stochastic layer, the decoded grid of z (Kingma and
/// Welling 2014, figure 4). Forward only, no gradient; the same model and inputs give the same bits.
/// </summary>
/// <param name="LatentMeans">E[z|x] of every input, [N,Z].</param>
/// <param name="Latent">The latent means on two axes (<see cref="Project"/>).</param>
/// <param name="Reconstructions">Decoder means at z = E[z|x] of the first <see cref="AnalysisOptions.Reconstructions"/> inputs, [n,D]; null when none are asked for.</param>
/// <param name="PriorSamples">Decoder means of <see cref="AnalysisOptions.PriorSamples"/> prior draws (<see cref="Sampling.PriorSamples"/>), [m,D]; null when none are asked for.</param>
/// <param name="Manifold">Decoder means on the <see cref="ManifoldGrid"/>, [side*side,D]; null unless the latent is 2-D with one stochastic layer and a side is asked for.</param>
public sealed record ModelAnalysis(Tensor<float> LatentMeans, LatentProjection Latent, Tensor<float>? Reconstructions, Tensor<float>? PriorSamples,
    Tensor<float>? Manifold)
{
    /// <summary>The side n of <see cref="Manifold"/>'s n x n grid; 0 without one.</summary>
    public int ManifoldSide => Manifold is { } grid ? (int)Math.Round(Math.Sqrt(grid.Rows)) : 0;

    /// <summary>Inputs encoded together: one tape's worth, whatever N is.</summary>
    public const int Chunk = 500;

    /// <summary>The analysis of <paramref name="model"/> on the inputs <paramref name="x"/> [N,D] (see the record's summary).</summary>
    public static ModelAnalysis Of(Iwae<float> model, Tensor<float> x, AnalysisOptions? options = null)
    {
        options ??= new AnalysisOptions();
        model.Config.CheckInput(x.Cols);
        var means = EncoderMeans(model, x);
        int n = Math.Min(options.Reconstructions, x.Rows);
        Tensor<float>? reconstructions = n > 0 ? Reconstruct(model, x.RowSlice(0, n)) : null;
        // h1 from the model's own prior: N(0, I) for one stochastic layer, p(h1|h2) p(h2) for two.
        Tensor<float>? prior = options.PriorSamples > 0
            ? Sampling.DecoderMeans(model, Sampling.PriorSamples(model, options.PriorSamples, new Rng(options.PriorSeed)))
            : null;
        Tensor<float>? manifold = options.ManifoldSide > 0 && model.Latent == 2 && model.Config.Layers == 1
            ? Sampling.DecoderMeans(model, ManifoldGrid(options.ManifoldSide))
            : null;
        return new ModelAnalysis(means, Project(means), reconstructions, prior, manifold);
    }

    /// <summary>E[z|x] for every row of x: [N,D] -> [N,Z], in chunks of <see cref="Chunk"/> inputs.</summary>
    public static Tensor<float> EncoderMeans(Iwae<float> model, Tensor<float> x)
    {
        model.Config.CheckInput(x.Cols);
        var mu = Tensor<float>.Zeros(x.Rows, model.Latent);
        var t = new Tape<float> { NoGrad = true };
        for (int r0 = 0; r0 < x.Rows; r0 += Chunk)
        {
            t.Reset();
            int b = Math.Min(Chunk, x.Rows - r0);
            model.Encode(t, t.Constant(x.RowSlice(r0, b))).Mu.Value.Span.CopyTo(mu.RowSlice(r0, b).Span);
        }
        t.Reset();
        return mu;
    }

    /// <summary>Decoder means at z = E[z|x] (pixel probabilities for the Bernoulli decoder): [N,D] -> [N,D].</summary>
    public static Tensor<float> Reconstruct(Iwae<float> model, Tensor<float> x) => Sampling.DecoderMeans(model, EncoderMeans(model, x));

    /// <summary>
    /// Latent means [N,Z] on two axes: z1 and z2 themselves when Z is 2, else the first two principal axes
    /// (<see cref="Pca.Project2"/>, each axis's sign fixed so the runs draw alike).
    /// </summary>
    public static LatentProjection Project(Tensor<float> means)
    {
        if (means.Cols == 2)
        {
            double[] Column(int c) => Enumerable.Range(0, means.Rows).Select(r => (double)means[r, c]).ToArray();
            return new LatentProjection(Column(0), Column(1), null);
        }
        var (x, y, explained) = Pca.Project2(means.Span, means.Rows, means.Cols);
        return new LatentProjection(x, y, explained);
    }

    /// <summary>
    /// The n x n grid of a 2-D latent, [n*n, 2]: the standard normal's quantiles at evenly spaced probabilities in
    /// [0.05, 0.95], row-major, z1 left to right and z2 from high (top row) to low (bottom row), as the figure reads.
    /// </summary>
    public static Tensor<float> ManifoldGrid(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var z = Tensor<float>.Zeros(n * n, 2);
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                z[r * n + c, 0] = (float)NormalQuantile(0.05 + 0.9 * c / Math.Max(1, n - 1));
                z[r * n + c, 1] = (float)NormalQuantile(0.95 - 0.9 * r / Math.Max(1, n - 1));
            }
        return z;
    }

    /// <summary>Inverse of the standard normal CDF (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in (0, 1)");
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) return -NormalQuantile(1 - p);
        double u = p - 0.5, r = u * u;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
}
