using System.Globalization;
using Iwae.Autodiff;
using Iwae.Cli.Plots;
using Iwae.Core;
using Iwae.Experiments;

namespace Iwae.Cli.Report;

/// <summary>
/// The figures and report.html of a run folder, drawn from its <see cref="RunAnalysis"/>: what `iwae plot --run DIR`
/// does and `iwae compare` ends with. Nothing here computes; the numbers and images come from Iwae.Experiments.
/// </summary>
public static class RunReport
{
    /// <summary>
    /// The reports of <paramref name="folder"/>: each run's, then the sweep's when it is one (so that its page links the
    /// runs' pages); returns the files written.
    /// </summary>
    public static IReadOnlyList<string> Write(FolderAnalysis folder, Action<string>? log = null)
    {
        var written = new List<string>();
        foreach (var run in folder.Runs) written.AddRange(Write(run, log));
        if (folder.Sweep is { } sweep) written.AddRange(SweepReport.Write(sweep, log));
        return written;
    }

    /// <summary>Writes the PNGs and report.html into the run's folder; returns the files written.</summary>
    public static IReadOnlyList<string> Write(RunAnalysis run, Action<string>? log = null)
    {
        var folder = new RunFolder(run.Folder);
        var results = run.Results;
        var written = new List<string>();
        var figures = new List<ReportFigure>();
        string P(string name) { var p = folder.File(name); written.Add(p); return p; }

        if (run.Curves.Count > 0)
        {
            string stageK = run.FirstStage is { } first
                ? string.Create(CultureInfo.InvariantCulture, $"test NLL (k={first.K}, {first.Images} images)")
                : "test NLL";
            LearningCurvesPlot.Save(P(RunFolder.Figures.LearningCurves), run.Curves, testLabel: stageK);
            figures.Add(new ReportFigure("Learning curves",
                "Solid: minus the training bound L_k, averaged over each epoch's minibatches. Diamonds: " + stageK +
                " at the end of each stage of the schedule. Both in nats, lower is better.", written[^1]));
        }

        int z = results.Config.Latent;
        var panels = new List<LatentPanel>();
        foreach (var (name, analysis) in run.Models)
        {
            var latent = analysis.Latent;
            panels.Add(latent.Explained is { } explained
                ? new LatentPanel(Figure.Display(name), latent.X, latent.Y, run.Labels,
                    string.Create(CultureInfo.InvariantCulture, $"PC 1 ({100 * explained[0]:F0}% of variance)"),
                    string.Create(CultureInfo.InvariantCulture, $"PC 2 ({100 * explained[1]:F0}% of variance)"))
                : new LatentPanel(Figure.Display(name), latent.X, latent.Y, run.Labels, "z1", "z2"));
        }
        LatentPlot.Save(P(RunFolder.Figures.Latent), panels);
        figures.Add(new ReportFigure("Latent space",
            (z == 2 ? "The encoder mean E[z|x] of every test example: the raw 2-D latent of each model"
                    : $"The encoder mean E[z|x] of every test example, projected on the first two principal axes of each model's {z}-D latent means")
            + (run.HasLabels ? ", coloured by its label." : "."),
            written[^1]));

        ActiveUnitsPlot.Save(P(RunFolder.Figures.ActiveUnits), results.Models.Select(m => (m.Model, m.UnitVariances)).ToArray());
        figures.Add(new ReportFigure("Active units",
            "Variance over the test set of each latent dimension's encoder mean, sorted, log scale. Dimensions above the dashed " +
            "0.01 line are active (Burda et al. 2016, section 5.2); the legend counts them.", written[^1]));

        if (run.ImageSide is int side)
        {
            var rows = new List<DigitRow> { new("test digit", Images(run.TestImages)) };
            if (run.Binarized is { } binarized) rows.Add(new DigitRow("binarised", Images(binarized)));
            foreach (var (name, analysis) in run.Models) rows.Add(new DigitRow(Figure.Display(name), Images(analysis.Reconstructions)));
            DigitRowsPlot.Save(P(RunFolder.Figures.Reconstructions), rows, side);
            figures.Add(new ReportFigure("Reconstructions",
                "The first test digits, the binarised version the models saw, and each model's reconstruction: the decoder's pixel means at z = E[z|x].",
                written[^1]));

            var sampleRows = new List<DigitRow>();
            int count = 0;
            foreach (var (name, analysis) in run.Models)
            {
                var images = Images(analysis.PriorSamples);
                count = images.Length;
                sampleRows.Add(new DigitRow(Figure.Display(name), images[..(count / 2)]));
                sampleRows.Add(new DigitRow("", images[(count / 2)..]));
            }
            DigitRowsPlot.Save(P(RunFolder.Figures.Samples), sampleRows, side);
            figures.Add(new ReportFigure("Samples from the prior",
                results.Config.Layers == 1
                    ? $"Decoder pixel means for z ~ N(0, I); both models decode the same {count} draws."
                    : "Decoder pixel means for h1 ~ p(h1|h2), h2 ~ N(0, I); each model draws from its own prior with the same noise.", written[^1]));

            if (run.Models.All(m => m.Analysis.Manifold is not null) && run.Models.Count > 0)
            {
                int n = run.Models[0].Analysis.ManifoldSide;
                ManifoldPlot.Save(P(RunFolder.Figures.Manifold), run.Models.Select(m => (Figure.Display(m.Model), Images(m.Analysis.Manifold))).ToArray(), n, side);
                figures.Add(new ReportFigure("Learned manifold",
                    $"Decoder pixel means on a {n}x{n} grid of z at the standard normal's quantiles 0.05..0.95 (z1 left to right, z2 bottom to top).",
                    written[^1]));
            }
        }
        else
        {
            string why = $"Each example has {run.ValuesPerExample} values, not a square number, so they are not drawn as images.";
            figures.Add(new ReportFigure("Reconstructions and samples", why + " The test NLL, bounds and active units above are computed as for images.", ""));
        }

        string title = $"VAE vs IWAE: {Path.GetFileName(Path.GetFullPath(run.Folder).TrimEnd(Path.DirectorySeparatorChar))}";
        string report = folder.Report;
        AtomicFile.WriteAllText(report, ReportHtml.Build(title, results, figures));
        written.Add(report);
        log?.Invoke($"report: {report}");
        return written;
    }

    // Each row of x [N,D] as one image; none when x is absent.
    private static float[][] Images(Tensor<float>? x) => x is { } t ? [.. Enumerable.Range(0, t.Rows).Select(r => t.Row(r).ToArray())] : [];
}
