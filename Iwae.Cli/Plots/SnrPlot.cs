using Iwae.Core.Analysis;
using ScottPlot;

namespace Iwae.Cli.Plots;

/// <summary>
/// Gradient signal-to-noise ratio against k (Rainforth et al. 2018, figure 2; Tucker et al. 2019, figure 1): the
/// encoder's on the left, the decoder's on the right, log-log, one line per estimator.
/// </summary>
public static class SnrPlot
{
    /// <summary>Writes both panels as one <paramref name="width"/> x <paramref name="height"/> PNG.</summary>
    public static void Save(string path, IReadOnlyList<SnrPoint> points, int width = 1200, int height = 500)
    {
        var usable = points.Where(p => p.Encoder > 0 && p.Decoder > 0 && double.IsFinite(p.Encoder) && double.IsFinite(p.Decoder)).ToList();
        if (usable.Count == 0) throw new ArgumentException("no SNR point with finite positive values to plot");
        var encoder = Figure.NewPlot("Encoder gradient SNR", "k (samples per input)", "mean |E g| / std g");
        var decoder = Figure.NewPlot("Decoder gradient SNR", "k (samples per input)", "mean |E g| / std g");
        var names = usable.Select(p => p.Estimator).Distinct().ToList();
        for (int i = 0; i < names.Count; i++)
        {
            var series = usable.Where(p => p.Estimator == names[i]).OrderBy(p => p.K).ToList();
            double[] xs = [.. series.Select(p => Math.Log10(p.K))];
            Line(encoder, xs, [.. series.Select(p => Math.Log10(p.Encoder))], names[i], i);
            Line(decoder, xs, [.. series.Select(p => Math.Log10(p.Decoder))], names[i], i);
        }
        foreach (var (plot, pick) in new (Plot, Func<SnrPoint, double>)[] { (encoder, p => p.Encoder), (decoder, p => p.Decoder) })
        {
            double xLo = Math.Log10(usable.Min(p => p.K)), xHi = Math.Log10(usable.Max(p => p.K));
            double yLo = Math.Log10(usable.Min(pick)), yHi = Math.Log10(usable.Max(pick));
            double xPad = Math.Max(0.1, (xHi - xLo) * 0.05), yPad = Math.Max(0.1, (yHi - yLo) * 0.08);
            plot.Axes.SetLimits(xLo - xPad, xHi + xPad, yLo - yPad, yHi + yPad);
            plot.Axes.Bottom.TickGenerator = Figure.LogTicks(xLo - xPad, xHi + xPad);
            plot.Axes.Left.TickGenerator = LabelledLogTicks(yLo - yPad, yHi + yPad);
            plot.ShowLegend(Edge.Right);
        }
        Figure.SaveSideBySide(path, [encoder, decoder], width, height);
    }

    /// <summary>
    /// Log ticks that stay readable over less than a decade (SNRs often span one): labelled at 1, 2 and 5 times
    /// the powers of ten, and at every integer multiple when the axis spans under half a decade.
    /// </summary>
    private static ScottPlot.TickGenerators.NumericManual LabelledLogTicks(double lo, double hi)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        bool every = hi - lo < 0.5;
        for (int e = (int)Math.Floor(lo); e <= (int)Math.Ceiling(hi); e++)
            for (int m = 1; m <= 9; m++)
            {
                double p = e + Math.Log10(m);
                if (p < lo || p > hi) continue;
                if (every || m is 1 or 2 or 5) ticks.AddMajor(p, (m * Math.Pow(10, e)).ToString("G3", System.Globalization.CultureInfo.InvariantCulture));
                else ticks.AddMinor(p);
            }
        return ticks;
    }

    /// <summary>IWAE keeps its colour from the other figures; the estimators built on it get their own.</summary>
    private static Color EstimatorColor(string name, int index) => name switch
    {
        "iwae" => Figure.Iwae,
        "dreg" => Color.FromHex("#2ca02c"),
        "stl" => Color.FromHex("#9467bd"),
        "miwae" => Color.FromHex("#ff7f0e"),
        "ciwae" => Color.FromHex("#8c564b"),
        "piwae" => Color.FromHex("#17becf"),
        _ => new ScottPlot.Palettes.Category10().GetColor(index),
    };

    private static void Line(Plot plot, double[] xs, double[] ys, string name, int index)
    {
        var s = plot.Add.Scatter(xs, ys, EstimatorColor(name, index));
        s.LegendText = name.ToUpperInvariant();
        s.MarkerSize = 8;
        s.LineWidth = 2;
    }
}
