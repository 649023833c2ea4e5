using Iwae.Cli.Plots;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;

namespace Iwae.Cli.Report;

/// <summary>
/// A sweep folder's report: `iwae sweep collect` writes results.csv and results.json (<see cref="SweepResults"/>) and
/// this page, with Table 1's layout for that preset, the VAE and IWAE of each pair side by side with a chart
/// (sweep.png) when the sweep pairs them, and every run linked to its own page.
/// </summary>
public static class SweepReport
{
    /// <summary>The chart's file in the sweep folder.</summary>
    public const string ChartFile = "sweep.png";

    /// <summary>The default architectures of `compare --sweep`: width 100 and 200 at depth 1 and 2 (a 2 x 2 design).</summary>
    public const string DefaultSpec = "100x1,200x1,100x2,200x2";

    /// <summary>"WIDTHxDEPTH,..." (e.g. "100x1,200x2"; a bare width means depth 1) as encoder hidden widths.</summary>
    public static int[][] ParseSpec(string spec)
    {
        var items = spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0) throw new ArgumentException($"--sweep needs WIDTHxDEPTH items separated by commas (e.g. {DefaultSpec}), got '{spec}'");
        try { return items.Select(SweepPlanner.ParseShape).ToArray(); }
        catch (ArgumentException e) { throw new ArgumentException($"--sweep: {e.Message}"); }
    }

    /// <summary>
    /// Collects the sweep (results.csv, results.json), draws the chart and writes report.html; returns the files written.
    /// Works on a sweep that is partly done: the runs not done show their state.
    /// </summary>
    public static IReadOnlyList<string> Write(SweepFolder sweep, Action<string>? log = null)
    {
        var plan = sweep.ReadPlan();
        var rows = SweepResults.Collect(sweep);
        var (csv, json) = SweepResults.Write(sweep, rows);
        var written = new List<string> { csv, json };
        var figures = new List<ReportFigure>();
        var pairs = Pairs(plan, rows);
        var points = pairs.Where(p => p.Vae.TestNll is not null && p.Iwae.TestNll is not null)
            .Select(p => new SweepPoint(p.Label, p.Vae.TestNll!.Value, p.Iwae.TestNll!.Value, p.Vae.ActiveUnits ?? 0, p.Iwae.ActiveUnits ?? 0)).ToArray();
        if (points.Length > 0)
        {
            string png = sweep.File(ChartFile);
            SweepPlot.Save(png, points);
            written.Add(png);
            figures.Add(new ReportFigure("Test NLL and active units of each VAE and IWAE pair",
                "Each point is one run; the VAE and the IWAE of a pair differ only in the model, and the labels name what differs between pairs. Each run's own page has its learning curves, latent space and samples.", png));
        }
        var table1 = plan.Preset == SweepPlanner.BurdaTable1
            ? SweepResults.Table1(rows, mnist: plan.Runs[0].Options.Data is "mnist")
            : null;
        string title = $"Sweep: {Path.GetFileName(sweep.Path.TrimEnd(Path.DirectorySeparatorChar))}";
        string report = sweep.File(SweepFolder.ReportFile);
        AtomicFile.WriteAllText(report, ReportHtml.BuildSweep(title, rows, table1, pairs, r =>
            File.Exists(Path.Combine(sweep.RunsPath, r.Name, RunFolder.ReportFile)) ? $"runs/{r.Name}/{RunFolder.ReportFile}" : null, figures));
        written.Add(report);
        log?.Invoke($"sweep results: {csv}, {json}");
        log?.Invoke($"sweep report: {report}");
        return written;
    }

    /// <summary>
    /// The VAE and IWAE runs that differ only in the model (and the estimator, which a VAE does not use), each pair
    /// labelled by what tells it from the other pairs (<see cref="SweepResults.Labels"/>: its architecture, k, estimator...).
    /// </summary>
    public static IReadOnlyList<SweepPair> Pairs(SweepPlan plan, IReadOnlyList<SweepResultRow> rows)
    {
        string Key(SweepRun r) => IwaeJson.Serialize(r.Options with
        {
            Config = r.Options.Config with { Model = ModelKind.Iwae },
            Train = r.Options.Train with { Estimator = GradientEstimator.Iwae, Groups = 1, Beta = 0.5 },
        });
        var matched = new List<(SweepRun Vae, SweepRun Iwae)>();
        foreach (var vae in plan.Runs.Where(r => r.Options.Config.Model == ModelKind.Vae))
        {
            var iwae = plan.Runs.FirstOrDefault(r => r.Options.Config.Model == ModelKind.Iwae && Key(r) == Key(vae));
            if (iwae is not null) matched.Add((vae, iwae));
        }
        var labels = SweepResults.Labels([.. matched.Select(m => m.Iwae.Options)]);
        return [.. matched.Select((m, i) => new SweepPair(labels[i], rows[m.Vae.Index], rows[m.Iwae.Index]))];
    }
}
