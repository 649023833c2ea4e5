using Iwae.Cli.Plots;
using Iwae.Core;
using Iwae.Experiments.Sweeps;
using Iwae.Experiments;

namespace Iwae.Cli.Report;

/// <summary>
/// A sweep folder's report, drawn from its <see cref="SweepAnalysis"/> (which wrote results.csv and results.json): this
/// page, with Table 1's layout for that preset, the VAE and IWAE of each pair side by side with a chart (sweep.png) when
/// the sweep pairs them, and every run linked to its own page.
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

    /// <summary>Draws the chart (when a pair has both NLLs) and writes report.html from <paramref name="sweep"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Write(SweepAnalysis sweep, Action<string>? log = null)
    {
        var folder = sweep.Sweep;
        var written = new List<string>();
        var figures = new List<ReportFigure>();
        var points = sweep.Pairs.Where(p => p.Vae.TestNll is not null && p.Iwae.TestNll is not null)
            .Select(p => new SweepPoint(p.Label, p.Vae.TestNll!.Value, p.Iwae.TestNll!.Value, p.Vae.ActiveUnits ?? 0, p.Iwae.ActiveUnits ?? 0)).ToArray();
        if (points.Length > 0)
        {
            string png = folder.File(ChartFile);
            SweepPlot.Save(png, points);
            written.Add(png);
            figures.Add(new ReportFigure("Test NLL and active units of each VAE and IWAE pair",
                "Each point is one run; the VAE and the IWAE of a pair differ only in the model, and the labels name what differs between pairs. Each run's own page has its learning curves, latent space and samples.", png));
        }
        string title = $"Sweep: {Path.GetFileName(folder.Path.TrimEnd(Path.DirectorySeparatorChar))}";
        string report = folder.File(SweepFolder.ReportFile);
        AtomicFile.WriteAllText(report, ReportHtml.BuildSweep(title, sweep.Rows, sweep.Table1, sweep.Pairs, r =>
            File.Exists(Path.Combine(folder.RunsPath, r.Name, RunFolder.ReportFile)) ? $"runs/{r.Name}/{RunFolder.ReportFile}" : null, figures));
        written.Add(report);
        log?.Invoke($"sweep report: {report}");
        return written;
    }
}
