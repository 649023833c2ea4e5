using ScottPlot;

namespace Iwae.Cli.Plots;

/// <summary>One panel of the latent-space figure: 2-D coordinates of test images and their digit labels.</summary>
/// <param name="Title">Panel title (e.g. "VAE").</param>
/// <param name="X">First coordinate per image.</param>
/// <param name="Y">Second coordinate per image.</param>
/// <param name="Labels">Label per image (the colour: up to 10 distinct labels get one colour each); empty for unlabelled data.</param>
/// <param name="XLabel">Axis label (e.g. "PC 1 (23% of variance)" or "z1").</param>
/// <param name="YLabel">Axis label.</param>
public sealed record LatentPanel(string Title, double[] X, double[] Y, byte[] Labels, string XLabel, string YLabel);

/// <summary>
/// The latent space: each test image's encoder mean as a point coloured by its digit, one panel per model side
/// by side (PCA to 2-D when the latent has more dimensions; the raw z when it has two).
/// </summary>
public static class LatentPlot
{
    /// <summary>Writes the panels left to right as one <paramref name="width"/> x <paramref name="height"/> PNG.</summary>
    public static void Save(string path, IReadOnlyList<LatentPanel> panels, int width = 1200, int height = 560)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var plots = new List<Plot>();
        foreach (var panel in panels)
        {
            if (panel.X.Length != panel.Y.Length || (panel.Labels.Length != 0 && panel.X.Length != panel.Labels.Length))
                throw new ArgumentException($"panel '{panel.Title}': {panel.X.Length} x, {panel.Y.Length} y and {panel.Labels.Length} labels");
            var plot = Figure.NewPlot(panel.Title, panel.XLabel, panel.YLabel);
            var classes = panel.Labels.Distinct().Order().ToArray();
            // One colour per label when there are few (digits); otherwise, or without labels, one colour for all.
            bool byLabel = classes.Length is > 0 and <= 10;
            var groups = byLabel
                ? classes.Select((label, c) => (Text: label.ToString(System.Globalization.CultureInfo.InvariantCulture), Colour: c,
                    Index: Enumerable.Range(0, panel.X.Length).Where(i => panel.Labels[i] == label).ToArray()))
                : [(Text: "", Colour: 0, Index: Enumerable.Range(0, panel.X.Length).ToArray())];
            foreach (var (text, colour, idx) in groups)
            {
                var points = plot.Add.ScatterPoints(idx.Select(i => panel.X[i]).ToArray(), idx.Select(i => panel.Y[i]).ToArray(),
                    palette.GetColor(colour));
                points.MarkerSize = panel.X.Length > 3000 ? 3 : 4;
                // Thousands of anti-aliased dots make a PNG several times larger for no visible gain at this size.
                points.MarkerStyle.FillStyle.AntiAlias = false;
                points.MarkerStyle.OutlineStyle.AntiAlias = false;
                if (byLabel) points.LegendText = text;
            }
            if (byLabel) plot.ShowLegend(Edge.Right);
            plot.Legend.FontSize = 12;
            plots.Add(plot);
        }
        Figure.SaveSideBySide(path, plots, width, height);
    }
}
