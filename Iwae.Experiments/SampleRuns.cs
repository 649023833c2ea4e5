using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core;

namespace Iwae.Experiments;

/// <summary>
/// The calls behind `iwae sample`: draw latents from a model, decode them, and write both as JSON for the plots
/// (sample-major arrays: [image][draw][value]).
/// </summary>
public static class SampleRuns
{
    /// <summary>
    /// `iwae sample`: checks the request and the paths (<see cref="OutputFiles.Check"/>: the file written into
    /// <paramref name="outDir"/> is not an input, and <paramref name="outDir"/> is no file), loads the checkpoint (and, for
    /// posterior draws, the test data), creates <paramref name="outDir"/> once the inputs are known to be good, and writes
    /// the draws there; returns the file.
    /// </summary>
    /// <param name="checkpoint">A checkpoint written by `iwae train` or `iwae compare`.</param>
    /// <param name="posterior">Importance-resampled posterior draws for test images; otherwise prior draws.</param>
    /// <param name="proposals">k, the proposals per posterior draw.</param>
    /// <param name="n">Draws per image, or from the prior.</param>
    /// <param name="images">Test images (the first ones), posterior only.</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="dataSpec">The test data (<see cref="RunSettings.Data"/>; null: the data the checkpoint was trained on).</param>
    /// <param name="outDir">Where the JSON goes.</param>
    /// <param name="execution">
    /// The threads the draws run on and the cancellation that stops posterior draws between chunks of proposals, before
    /// anything is written; null: <see cref="Execution.Serial"/>.
    /// </param>
    public static string Run(string checkpoint, bool posterior, int proposals, int n, int images, ulong seed, string? dataSpec, string outDir,
        Execution? execution = null)
    {
        Limits.EvalK.Check(proposals, "proposals");
        Limits.Draws.Check(n);
        Limits.Draws.Check(images, "images");
        // Every draw is written out with its decoded mean, so the draws in all have the limit one request has.
        if (posterior && !Limits.Draws.Allows((long)n * images))
            throw new SettingException("draws", $"times images must be at most {Limits.Draws.Max} (every draw is written out), got {n} x {images}");
        string file = System.IO.Path.Combine(outDir, posterior ? RunFolder.PosteriorSamplesFile : RunFolder.PriorSamplesFile);
        OutputFiles.Check(inputs: [("--checkpoint", checkpoint), ("--data", dataSpec)], files: [("--out", file)], folders: [("--out", outDir)]);
        var saved = RunCheckpoint.Read(checkpoint);
        var model = saved.Model();
        if (!posterior) return WritePrior(model, n, seed, outDir, checkpoint, execution);
        var data = Runs.LoadData(saved.Settings(data: dataSpec), model.Config);
        if (images > data.TestX.Rows) throw new SettingException("images", $"must be at most the {data.TestX.Rows} test images, got {images}");
        return WritePosterior(model, data.TestX, proposals, n, images, seed, outDir, checkpoint, execution);
    }

    /// <summary>
    /// For the first <paramref name="images"/> rows of <paramref name="testX"/>: <paramref name="n"/> draws from q(z|x)
    /// and <paramref name="n"/> importance-resampled draws from q_IW(z|x) with <paramref name="k"/> proposals each
    /// (<see cref="Sampling.PosteriorSamples"/>), their decoder means E[x|z], and the effective sample sizes; written
    /// to <see cref="RunFolder.PosteriorSamplesFile"/> in <paramref name="outDir"/> (atomically). Returns the file's path. The
    /// draws run on <paramref name="execution"/>, whose cancellation stops them between chunks, before anything is written.
    /// </summary>
    public static string WritePosterior(Iwae<float> model, Tensor<float> testX, int k, int n, int images, ulong seed, string outDir, string? checkpoint = null,
        Execution? execution = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(images, testX.Rows);
        var x = testX.RowSlice(0, images);
        var rng = new Rng(seed);
        var q = Sampling.PosteriorSamples(model, x, 1, n, rng, execution);       // k = 1: q itself
        var iw = Sampling.PosteriorSamples(model, x, k, n, rng, execution);
        var doc = Header("posterior", checkpoint, model);
        doc["k"] = k;
        doc["n"] = n;
        doc["seed"] = seed;
        doc["images"] = Enumerable.Range(0, images).ToArray();
        doc["x"] = Rows(x);
        doc["q"] = new { z = PerImage(q.Z, images, n), mean = PerImage(Sampling.DecoderMeans(model, q.Z, execution), images, n) };
        doc["resampled"] = new
        {
            z = PerImage(iw.Z, images, n),
            mean = PerImage(Sampling.DecoderMeans(model, iw.Z, execution), images, n),
            effective_sample_size = iw.EffectiveSampleSize,
        };
        return new RunFolder(outDir).Create().WriteJson(RunFolder.PosteriorSamplesFile, doc);
    }

    /// <summary>
    /// <paramref name="n"/> draws from the prior (<see cref="Sampling.PriorSamples"/>) and their decoder means, to
    /// <see cref="RunFolder.PriorSamplesFile"/>; the decoders run on <paramref name="execution"/>.
    /// </summary>
    public static string WritePrior(Iwae<float> model, int n, ulong seed, string outDir, string? checkpoint = null, Execution? execution = null)
    {
        var z = Sampling.PriorSamples(model, n, new Rng(seed), execution);
        var doc = Header("prior", checkpoint, model);
        doc["n"] = n;
        doc["seed"] = seed;
        doc["z"] = Rows(z);
        doc["mean"] = Rows(Sampling.DecoderMeans(model, z, execution));
        return new RunFolder(outDir).Create().WriteJson(RunFolder.PriorSamplesFile, doc);
    }

    /// <summary>The fields both sample files start with, in file order.</summary>
    private static Dictionary<string, object?> Header(string kind, string? checkpoint, Iwae<float> model) => new()
    {
        ["kind"] = kind,
        ["checkpoint"] = checkpoint,
        ["model"] = RunFolder.ModelName(model.Config.Model),
        ["architecture"] = model.Config.Architecture,
        ["layers"] = model.Layers,
        ["latent"] = model.Latent,
    };

    private static float[][] Rows(Tensor<float> t) => Enumerable.Range(0, t.Rows).Select(r => t.Row(r).ToArray()).ToArray();

    /// <summary>Sample-major rows (s*B + b) regrouped as [image b][draw s][value].</summary>
    private static float[][][] PerImage(Tensor<float> t, int images, int n) =>
        Enumerable.Range(0, images).Select(b => Enumerable.Range(0, n).Select(s => t.Row(s * images + b).ToArray()).ToArray()).ToArray();
}
