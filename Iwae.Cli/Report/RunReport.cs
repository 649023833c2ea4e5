using System.Globalization;
using Iwae.Autodiff;
using Iwae.Cli.Plots;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Cli.Report;

/// <summary>
/// The figures and report.html of a run folder, recomputed from its files (results.json, the checkpoints, the
/// metrics and stage files) and the test data: what `iwae plot --run DIR` does and `iwae compare` ends with.
/// </summary>
public static class RunReport
{
    /// <summary>Test digits shown with their reconstructions.</summary>
    public const int ReconstructionCount = 16;

    /// <summary>Samples per model: two rows of 16.</summary>
    public const int SampleCount = 32;

    /// <summary>Side of the decoded manifold grid (2-D latent only).</summary>
    public const int ManifoldSide = 15;

    /// <summary>Seed of the prior samples; both models decode the same z.</summary>
    public const ulong SampleSeed = 0x5A3D1E;

    /// <summary>
    /// Writes the PNGs and report.html into <paramref name="runDir"/>; returns the files written.
    /// </summary>
    /// <param name="runDir">A folder written by `iwae compare --out`.</param>
    /// <param name="dataFolder">The data to use; null for the one results.json records (the embedded subset by default).</param>
    /// <param name="log">Progress lines.</param>
    public static IReadOnlyList<string> Write(string runDir, string? dataFolder = null, Action<string>? log = null)
    {
        var folder = new RunFolder(runDir);
        if (!folder.Exists) throw new DirectoryNotFoundException($"{runDir}: run folder not found");
        var results = folder.ReadResults();
        var written = new List<string>();
        var figures = new List<ReportFigure>();
        string P(string name) { var p = folder.File(name); written.Add(p); return p; }

        var curves = results.Models.Select(m => ReadCurve(folder, m.Model)).Where(c => c.Epochs.Length > 0 || c.StageEpochs.Length > 0).ToArray();
        if (curves.Length > 0)
        {
            string stageK = StageLabel(folder, results.Models[0].Model);
            LearningCurvesPlot.Save(P(RunFolder.Figures.LearningCurves), curves, testLabel: stageK);
            figures.Add(new ReportFigure("Learning curves",
                "Solid: minus the training bound L_k, averaged over each epoch's minibatches. Diamonds: " + stageK +
                " at the end of each stage of the schedule. Both in nats, lower is better.", written[^1]));
        }

        var data = Runs.LoadData(new RunSettings { Data = ResolveData(dataFolder ?? results.Data), TestFraction = results.TestFraction }, results.Config);
        var models = results.Models.Select(m => (Name: m.Model, Model: RunCheckpoint.LoadModel(folder.Checkpoint(m)))).ToArray();
        foreach (var (_, model) in models) data.CheckFits(model.Config);
        log?.Invoke($"plot: encoding {data.TestX.Rows} test images with {string.Join(" and ", models.Select(m => m.Name))}");

        int z = results.Config.Latent;
        var panels = new List<LatentPanel>();
        foreach (var (name, model) in models)
        {
            var mu = EncoderMeans(model, data.TestX);
            if (z == 2)
                panels.Add(new LatentPanel(Figure.Display(name), Column(mu, 2, 0), Column(mu, 2, 1), data.Test.Labels, "z1", "z2"));
            else
            {
                var (x, y, explained) = Pca.Project2(mu, data.TestX.Rows, z);
                panels.Add(new LatentPanel(Figure.Display(name), x, y, data.Test.Labels,
                    string.Create(CultureInfo.InvariantCulture, $"PC 1 ({100 * explained[0]:F0}% of variance)"),
                    string.Create(CultureInfo.InvariantCulture, $"PC 2 ({100 * explained[1]:F0}% of variance)")));
            }
        }
        LatentPlot.Save(P(RunFolder.Figures.Latent), panels);
        figures.Add(new ReportFigure("Latent space",
            (z == 2 ? "The encoder mean E[z|x] of every test example: the raw 2-D latent of each model"
                    : $"The encoder mean E[z|x] of every test example, projected on the first two principal axes of each model's {z}-D latent means")
            + (data.Test.HasLabels ? ", coloured by its label." : "."),
            written[^1]));

        ActiveUnitsPlot.Save(P(RunFolder.Figures.ActiveUnits), results.Models.Select(m => (m.Model, m.UnitVariances)).ToArray());
        figures.Add(new ReportFigure("Active units",
            "Variance over the test set of each latent dimension's encoder mean, sorted, log scale. Dimensions above the dashed " +
            "0.01 line are active (Burda et al. 2016, section 5.2); the legend counts them.", written[^1]));

        int side = (int)Math.Round(Math.Sqrt(data.TestX.Cols));
        if (side * side == data.TestX.Cols)
        {
            int n = Math.Min(ReconstructionCount, data.TestX.Rows);
            var input = data.TestX.RowSlice(0, n);
            var rows = new List<DigitRow> { new("test digit", Images(data.Test.Images.RowSlice(0, n))) };
            if (results.Config.Observation == Observation.Bernoulli) rows.Add(new DigitRow("binarised", Images(input)));
            foreach (var (name, model) in models) rows.Add(new DigitRow(Figure.Display(name), Images(Reconstruct(model, input))));
            DigitRowsPlot.Save(P(RunFolder.Figures.Reconstructions), rows, side);
            figures.Add(new ReportFigure("Reconstructions",
                "The first test digits, the binarised version the models saw, and each model's reconstruction: the decoder's pixel means at z = E[z|x].",
                written[^1]));

            var sampleRows = new List<DigitRow>();
            foreach (var (name, model) in models)
            {
                // h1 from the model's own prior: N(0, I) for one stochastic layer, p(h1|h2) p(h2) for two.
                var prior = Sampling.PriorSamples(model, SampleCount, new Rng(SampleSeed));
                var images = Images(Decode(model, prior));
                sampleRows.Add(new DigitRow(Figure.Display(name), images[..(SampleCount / 2)]));
                sampleRows.Add(new DigitRow("", images[(SampleCount / 2)..]));
            }
            DigitRowsPlot.Save(P(RunFolder.Figures.Samples), sampleRows, side);
            figures.Add(new ReportFigure("Samples from the prior",
                results.Config.Layers == 1
                    ? "Decoder pixel means for z ~ N(0, I); both models decode the same 32 draws."
                    : "Decoder pixel means for h1 ~ p(h1|h2), h2 ~ N(0, I); each model draws from its own prior with the same noise.", written[^1]));

            if (z == 2 && results.Config.Layers == 1)
            {
                var grid = Tensor<float>.FromArray(ManifoldSide * ManifoldSide, 2, ManifoldPlot.GridPoints(ManifoldSide));
                ManifoldPlot.Save(P(RunFolder.Figures.Manifold), models.Select(m => (Figure.Display(m.Name), Images(Decode(m.Model, grid)))).ToArray(), ManifoldSide, side);
                figures.Add(new ReportFigure("Learned manifold",
                    $"Decoder pixel means on a {ManifoldSide}x{ManifoldSide} grid of z at the standard normal's quantiles 0.05..0.95 (z1 left to right, z2 bottom to top).",
                    written[^1]));
            }
        }
        else
        {
            string why = $"Each example has {data.TestX.Cols} values, not a square number, so they are not drawn as images.";
            figures.Add(new ReportFigure("Reconstructions and samples", why + " The test NLL, bounds and active units above are computed as for images.", ""));
            log?.Invoke($"plot: {data.TestX.Cols} values per example are not a square image; reconstructions and samples are not drawn");
        }

        string title = $"VAE vs IWAE: {Path.GetFileName(Path.GetFullPath(runDir).TrimEnd(Path.DirectorySeparatorChar))}";
        string report = folder.Report;
        AtomicFile.WriteAllText(report, ReportHtml.Build(title, results, figures));
        written.Add(report);
        log?.Invoke($"report: {report}");
        return written;
    }

    /// <summary>The embedded subset when <paramref name="folder"/> is its recorded relative name and not found from here.</summary>
    internal static string? ResolveData(string? folder)
        => folder is null || (folder == Mnist.SubsetFolder && !Directory.Exists(folder)) ? null : folder;

    /// <summary>Epoch bounds and stage NLLs from the folder's metrics and stage files (missing files: empty).</summary>
    internal static LearningCurve ReadCurve(RunFolder folder, string model)
    {
        var epochs = folder.ReadMetrics(model);
        var stages = folder.ReadStages(model);
        return new LearningCurve(model, [.. epochs.Select(e => (double)e.Epoch)], [.. epochs.Select(e => e.TrainBound)],
            [.. stages.Select(s => (double)s.Epoch)], [.. stages.Select(s => s.TestNll)]);
    }

    private static string StageLabel(RunFolder folder, string model)
        => folder.ReadStages(model) is [var first, ..]
            ? string.Create(CultureInfo.InvariantCulture, $"test NLL (k={first.K}, {first.Images} images)")
            : "test NLL";

    /// <summary>E[z|x] for every row of x: [N,D] -> [N*Z] row-major.</summary>
    internal static float[] EncoderMeans(Iwae<float> model, Tensor<float> x)
    {
        var mu = new float[x.Rows * model.Latent];
        var t = new Tape<float> { NoGrad = true };
        for (int r0 = 0; r0 < x.Rows; r0 += 500)
        {
            t.Reset();
            int b = Math.Min(500, x.Rows - r0);
            model.Encoder.Encode(t, t.Constant(x.RowSlice(r0, b))).Mu.Value.Span.CopyTo(mu.AsSpan(r0 * model.Latent, b * model.Latent));
        }
        return mu;
    }

    /// <summary>Decoder means at z = E[z|x]: [N,D] -> [N,D].</summary>
    internal static Tensor<float> Reconstruct(Iwae<float> model, Tensor<float> x)
        => Decode(model, Tensor<float>.FromArray(x.Rows, model.Latent, EncoderMeans(model, x)));

    /// <summary>Decoder pixel means E[x|z]: [N,Z] -> [N,D] (a copy).</summary>
    internal static Tensor<float> Decode(Iwae<float> model, Tensor<float> z) => Sampling.DecoderMeans(model, z);

    private static float[][] Images(Tensor<float> x) => Enumerable.Range(0, x.Rows).Select(r => x.Row(r).ToArray()).ToArray();

    private static double[] Column(float[] rowMajor, int cols, int c)
        => Enumerable.Range(0, rowMajor.Length / cols).Select(r => (double)rowMajor[r * cols + c]).ToArray();
}
