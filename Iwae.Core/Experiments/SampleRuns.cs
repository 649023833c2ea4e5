using System.Text.Json;
using Iwae.Autodiff;

namespace Iwae.Core;

/// <summary>
/// The calls behind `iwae sample`: draw latents from a model, decode them, and write both as JSON for the plots
/// (sample-major arrays: [image][draw][value]).
/// </summary>
public static class SampleRuns
{
    /// <summary>File name of <see cref="WritePosterior"/>'s output.</summary>
    public const string PosteriorFile = "posterior-samples.json";

    /// <summary>File name of <see cref="WritePrior"/>'s output.</summary>
    public const string PriorFile = "prior-samples.json";

    /// <summary>
    /// For the first <paramref name="images"/> rows of <paramref name="testX"/>: <paramref name="n"/> draws from q(z|x)
    /// and <paramref name="n"/> importance-resampled draws from q_IW(z|x) with <paramref name="k"/> proposals each
    /// (<see cref="Sampling.PosteriorSamples"/>), their decoder means E[x|z], and the effective sample sizes; written
    /// to <see cref="PosteriorFile"/> in <paramref name="outDir"/> (atomically). Returns the file's path.
    /// </summary>
    public static string WritePosterior(Iwae<float> model, Tensor<float> testX, int k, int n, int images, ulong seed, string outDir, string? checkpoint = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(images, testX.Rows);
        var x = testX.RowSlice(0, images);
        var rng = new Rng(seed);
        var q = Sampling.PosteriorSamples(model, x, 1, n, rng);       // k = 1: q itself
        var iw = Sampling.PosteriorSamples(model, x, k, n, rng);
        var doc = new
        {
            kind = "posterior",
            checkpoint,
            model = model.Config.Model.ToString().ToLowerInvariant(),
            architecture = model.Config.Architecture,
            layers = model.Layers,
            latent = model.Latent,
            k,
            n,
            seed,
            images = Enumerable.Range(0, images).ToArray(),
            x = Rows(x),
            q = new { z = PerImage(q.Z, images, n), mean = PerImage(Sampling.DecoderMeans(model, q.Z), images, n) },
            resampled = new
            {
                z = PerImage(iw.Z, images, n),
                mean = PerImage(Sampling.DecoderMeans(model, iw.Z), images, n),
                effective_sample_size = iw.EffectiveSampleSize,
            },
        };
        string path = Path.Combine(outDir, PosteriorFile);
        Runs.WriteAtomically(path, JsonSerializer.Serialize(doc, Runs.JsonOptions));
        return path;
    }

    /// <summary><paramref name="n"/> draws from the prior (<see cref="Sampling.PriorSamples"/>) and their decoder means, to <see cref="PriorFile"/>.</summary>
    public static string WritePrior(Iwae<float> model, int n, ulong seed, string outDir, string? checkpoint = null)
    {
        var z = Sampling.PriorSamples(model, n, new Rng(seed));
        var doc = new
        {
            kind = "prior",
            checkpoint,
            model = model.Config.Model.ToString().ToLowerInvariant(),
            architecture = model.Config.Architecture,
            layers = model.Layers,
            latent = model.Latent,
            n,
            seed,
            z = Rows(z),
            mean = Rows(Sampling.DecoderMeans(model, z)),
        };
        string path = Path.Combine(outDir, PriorFile);
        Runs.WriteAtomically(path, JsonSerializer.Serialize(doc, Runs.JsonOptions));
        return path;
    }

    private static float[][] Rows(Tensor<float> t) => Enumerable.Range(0, t.Rows).Select(r => t.Row(r).ToArray()).ToArray();

    /// <summary>Sample-major rows (s*B + b) regrouped as [image b][draw s][value].</summary>
    private static float[][][] PerImage(Tensor<float> t, int images, int n) =>
        Enumerable.Range(0, images).Select(b => Enumerable.Range(0, n).Select(s => t.Row(s * images + b).ToArray()).ToArray()).ToArray();
}
