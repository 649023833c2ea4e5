using Iwae.Experiments;
using ScottPlot;

namespace Iwae.Cli.Plots;

/// <summary>
/// Learning curves of both models on one chart. Both quantities are drawn in nats with lower better: the
/// training bound as -L_k (a line) and the test NLL (markers), so the two models' gap reads off one axis.
/// Epochs go on a log axis when there are more than 10 of them: the Burda schedule's stages are geometric. The y axis
/// spans every point drawn, the first epoch's (far above the rest) included.
/// </summary>
public static class LearningCurvesPlot
{
    /// <summary>Writes the chart as a <paramref name="width"/> x <paramref name="height"/> PNG.</summary>
    public static void Save(string path, IReadOnlyList<LearningCurve> curves, int width = 900, int height = 500, string testLabel = "test NLL")
        => Figure.Save(Build(curves, testLabel), path, width, height);

    /// <summary>The chart, its axis limits set (what <see cref="Save"/> draws).</summary>
    internal static Plot Build(IReadOnlyList<LearningCurve> curves, string testLabel = "test NLL")
    {
        double maxEpoch = curves.SelectMany(c => c.Epochs.Concat(c.StageEpochs)).DefaultIfEmpty(1).Max();
        bool logX = maxEpoch > 10;
        double X(double epoch) => logX ? Math.Log10(epoch) : epoch;

        var plot = Figure.NewPlot("Learning curves", logX ? "epoch (log scale)" : "epoch", "nats (lower is better)");
        var shown = new List<double>();
        for (int i = 0; i < curves.Count; i++)
        {
            var c = curves[i];
            var color = Figure.ModelColor(c.Model, i);
            if (c.Epochs.Length > 0)
            {
                var line = plot.Add.Scatter(c.Epochs.Select(X).ToArray(), c.TrainBound.Select(b => -b).ToArray(), color);
                line.LegendText = $"{Figure.Display(c.Model)}: -train bound";
                line.LineWidth = 2;
                line.MarkerSize = c.Epochs.Length > 60 ? 0 : 4;
                shown.AddRange(c.TrainBound.Select(b => -b));
            }
            if (c.StageEpochs.Length > 0)
            {
                var test = plot.Add.Scatter(c.StageEpochs.Select(X).ToArray(), c.StageTestNll, color);
                test.LegendText = $"{Figure.Display(c.Model)}: {testLabel}";
                test.LinePattern = LinePattern.Dashed;
                test.LineWidth = 1.5f;
                test.MarkerShape = MarkerShape.FilledDiamond;
                test.MarkerSize = 10;
                shown.AddRange(c.StageTestNll);
            }
        }
        if (logX)
        {
            plot.Axes.Bottom.TickGenerator = EpochTicks(maxEpoch);
            plot.Axes.SetLimitsX(-0.05, Math.Log10(maxEpoch) + 0.05);
        }
        else plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        var finite = shown.Where(double.IsFinite).ToArray();
        if (finite.Length > 0)
        {
            double lo = finite.Min(), hi = finite.Max(), pad = Math.Max(0.5, 0.08 * (hi - lo));
            plot.Axes.SetLimitsY(lo - pad, hi + pad);
        }
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static ScottPlot.TickGenerators.NumericManual EpochTicks(double maxEpoch)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (double decade = 1; decade <= maxEpoch; decade *= 10)
            foreach (int m in new[] { 1, 2, 5 })
                if (m * decade <= maxEpoch) ticks.AddMajor(Math.Log10(m * decade), (m * decade).ToString("0", System.Globalization.CultureInfo.InvariantCulture));
        return ticks;
    }
}
