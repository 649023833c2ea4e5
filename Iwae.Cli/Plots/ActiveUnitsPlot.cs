using ScottPlot;

namespace Iwae.Cli.Plots;

/// <summary>
/// Active units (Burda et al. 2016, section 5.2): Var_x E_q[z_i|x] for every latent dimension, sorted from
/// largest, on a log scale, one series per model, with the threshold (0.01) as a dashed line. Dimensions above
/// the line are active; the IWAE typically keeps more of them than the VAE.
/// </summary>
public static class ActiveUnitsPlot
{
    /// <summary>Variances below this are drawn at it (a collapsed unit's variance can be 0).</summary>
    public const double Floor = 1e-8;

    /// <summary>Writes the chart as a <paramref name="width"/> x <paramref name="height"/> PNG.</summary>
    /// <param name="path">PNG file.</param>
    /// <param name="series">Per model: its name and the variance of each latent dimension.</param>
    /// <param name="threshold">Activity threshold (0.01 in the paper).</param>
    /// <param name="width">Pixels.</param>
    /// <param name="height">Pixels.</param>
    public static void Save(string path, IReadOnlyList<(string Model, double[] Variances)> series, double threshold = 0.01, int width = 900, int height = 450)
    {
        var plot = Figure.NewPlot("Active units", "latent dimension, sorted by variance", "Var_x E[z_i | x] (log scale)");
        double lo = Math.Log10(threshold), hi = lo;
        int maxDims = 1;
        for (int i = 0; i < series.Count; i++)
        {
            var (model, variances) = series[i];
            var sorted = variances.Select(v => double.IsFinite(v) ? Math.Max(v, Floor) : Floor).OrderDescending().ToArray();
            if (sorted.Length == 0) continue;
            var ys = sorted.Select(Math.Log10).ToArray();
            var xs = Enumerable.Range(1, sorted.Length).Select(x => (double)x).ToArray();
            var s = plot.Add.Scatter(xs, ys, Figure.ModelColor(model, i));
            s.LegendText = $"{Figure.Display(model)}: {variances.Count(v => v > threshold)} of {variances.Length} active";
            s.LineWidth = 2;
            s.MarkerSize = sorted.Length > 100 ? 0 : 5;
            lo = Math.Min(lo, ys.Min());
            hi = Math.Max(hi, ys.Max());
            maxDims = Math.Max(maxDims, sorted.Length);
        }
        var line = plot.Add.HorizontalLine(Math.Log10(threshold), 1.5f, Colors.Black, LinePattern.Dashed);
        line.LegendText = $"threshold {threshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        lo = Math.Floor(lo - 0.1);
        hi = Math.Ceiling(hi + 0.1);
        plot.Axes.Left.TickGenerator = Figure.LogTicks(lo, hi);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.SetLimits(0, maxDims + 1, lo, hi);
        plot.ShowLegend(Alignment.UpperRight);
        Figure.Save(plot, path, width, height);
    }
}
