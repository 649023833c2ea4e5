using Iwae.Experiments.Sweeps;
using ScottPlot;

namespace Iwae.Cli.Plots;

/// <summary>One VAE and IWAE pair of a sweep: both models' test NLL and active units.</summary>
/// <param name="Label">What tells the pair from the others, e.g. "784-200-200-50" or "k=50" (<see cref="SweepResults.Labels"/>).</param>
/// <param name="VaeNll">VAE test NLL, nats.</param>
/// <param name="IwaeNll">IWAE test NLL, nats.</param>
/// <param name="VaeActive">VAE active units.</param>
/// <param name="IwaeActive">IWAE active units.</param>
public sealed record SweepPoint(string Label, double VaeNll, double IwaeNll, int VaeActive, int IwaeActive);

/// <summary>
/// A sweep's VAE and IWAE pairs: test NLL (left) and active units (right) per pair (an encoder/decoder shape, a k,
/// an estimator...), VAE and IWAE as two series over the pairs in the order run.
/// </summary>
public static class SweepPlot
{
    /// <summary>Writes both panels as one <paramref name="width"/> x <paramref name="height"/> PNG.</summary>
    public static void Save(string path, IReadOnlyList<SweepPoint> points, int width = 1200, int height = 500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points.Count, 1);
        var xs = Enumerable.Range(0, points.Count).Select(i => (double)i).ToArray();
        var nll = Figure.NewPlot("Test NLL", "runs (what differs between the pairs)", "test NLL, nats (lower is better)");
        Series(nll, xs, points.Select(p => p.VaeNll).ToArray(), "vae");
        Series(nll, xs, points.Select(p => p.IwaeNll).ToArray(), "iwae");
        var active = Figure.NewPlot("Active units", "runs (what differs between the pairs)", "active units");
        Series(active, xs, points.Select(p => (double)p.VaeActive).ToArray(), "vae");
        Series(active, xs, points.Select(p => (double)p.IwaeActive).ToArray(), "iwae");
        active.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        int most = points.Max(p => Math.Max(p.VaeActive, p.IwaeActive)), least = points.Min(p => Math.Min(p.VaeActive, p.IwaeActive));
        active.Axes.SetLimitsY(Math.Max(0, least - 2), most + 2);
        foreach (var plot in new[] { nll, active })
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            for (int i = 0; i < points.Count; i++) ticks.AddMajor(i, points[i].Label);
            plot.Axes.Bottom.TickGenerator = ticks;
            plot.Axes.Bottom.TickLabelStyle.Rotation = points.Count > 4 ? 20 : 0;
            plot.Axes.Bottom.TickLabelStyle.Alignment = points.Count > 4 ? Alignment.MiddleLeft : Alignment.UpperCenter;
            plot.Axes.SetLimitsX(-0.5, points.Count - 0.5);
            plot.ShowLegend(Edge.Right);
        }
        Figure.SaveSideBySide(path, [nll, active], width, height);
    }

    private static void Series(Plot plot, double[] xs, double[] ys, string model)
    {
        var s = plot.Add.Scatter(xs, ys, Figure.ModelColor(model));
        s.LegendText = Figure.Display(model);
        s.MarkerSize = 10;
        s.LineWidth = 2;
    }
}
