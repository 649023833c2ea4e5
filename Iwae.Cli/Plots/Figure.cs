using ScottPlot;
using SkiaSharp;

namespace Iwae.Cli.Plots;

/// <summary>What the figures share: the two models' colours, log-scale ticks, and side-by-side panels in one PNG.</summary>
public static class Figure
{
    /// <summary>The VAE's colour in every figure (blue).</summary>
    public static readonly Color Vae = Color.FromHex("#1f77b4");

    /// <summary>The IWAE's colour in every figure (red).</summary>
    public static readonly Color Iwae = Color.FromHex("#d62728");

    /// <summary>Colour of a model by name ("vae", "iwae"); others cycle through Category10.</summary>
    public static Color ModelColor(string model, int index = 0) => model.ToLowerInvariant() switch
    {
        "vae" => Vae,
        "iwae" => Iwae,
        _ => new ScottPlot.Palettes.Category10().GetColor(index + 2),
    };

    /// <summary>"VAE" for "vae", "IWAE" for "iwae".</summary>
    public static string Display(string model) => model.ToUpperInvariant();

    /// <summary>The sans-serif face every figure uses (ScottPlot falls back to a serif one otherwise).</summary>
    public const string FontName = "DejaVu Sans";

    /// <summary>A plot with the project's look: white background, readable fonts.</summary>
    public static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Title(title, size: 16);
        plot.XLabel(xLabel, size: 13);
        plot.YLabel(yLabel, size: 13);
        return plot;
    }

    /// <summary>
    /// Ticks for an axis whose coordinates are log10 of the values (ScottPlot draws linear axes): major ticks
    /// at the powers of ten in [lo, hi], labelled 10^n as plain numbers, minor ticks at 2..9 times them.
    /// </summary>
    public static ScottPlot.TickGenerators.NumericManual LogTicks(double lo, double hi)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int e = (int)Math.Floor(lo); e <= (int)Math.Ceiling(hi); e++)
        {
            if (e >= lo - 1e-9 && e <= hi + 1e-9) ticks.AddMajor(e, PowerLabel(e));
            for (int m = 2; m <= 9; m++)
            {
                double p = e + Math.Log10(m);
                if (p >= lo && p <= hi) ticks.AddMinor(p);
            }
        }
        return ticks;
    }

    private static string PowerLabel(int e) => e switch
    {
        >= 0 and <= 4 => Math.Pow(10, e).ToString("0", System.Globalization.CultureInfo.InvariantCulture),
        -1 => "0.1",
        -2 => "0.01",
        -3 => "0.001",
        _ => $"1e{e}",
    };

    /// <summary>Renders <paramref name="plots"/> left to right, equal widths, into one PNG of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static void SaveSideBySide(string path, IReadOnlyList<Plot> plots, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(plots.Count, 1);
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"cannot create a {width}x{height} drawing surface");
        surface.Canvas.Clear(SKColors.White);
        // Each panel gets its own surface: a plot clears the whole canvas it renders on.
        for (int i = 0; i < plots.Count; i++)
        {
            int left = width * i / plots.Count, right = width * (i + 1) / plots.Count;
            using var panel = SKSurface.Create(new SKImageInfo(right - left, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"cannot create a {right - left}x{height} drawing surface");
            plots[i].Render(panel.Canvas, right - left, height);
            using var image = panel.Snapshot();
            surface.Canvas.DrawImage(image, left, 0);
        }
        SavePng(surface, path);
    }

    /// <summary>Renders one plot as a <paramref name="width"/> x <paramref name="height"/> PNG (compressed harder than ScottPlot's own SavePng).</summary>
    public static void Save(Plot plot, string path, int width, int height) => SaveSideBySide(path, [plot], width, height);

    /// <summary>
    /// Encodes the surface as PNG at <paramref name="path"/>, with every filter and zlib level 9 (figures go into
    /// report.html as base64, and into the repository); <paramref name="grayscale"/> stores one channel.
    /// </summary>
    public static void SavePng(SKSurface surface, string path, bool grayscale = false)
    {
        var info = surface.Canvas.DeviceClipBounds;
        var target = new SKImageInfo(info.Width, info.Height, grayscale ? SKColorType.Gray8 : SKColorType.Rgba8888,
            grayscale ? SKAlphaType.Opaque : SKAlphaType.Premul);
        using var bitmap = new SKBitmap(target);
        if (!surface.ReadPixels(target, bitmap.GetPixels(), target.RowBytes, 0, 0))
            throw new InvalidOperationException($"cannot read back the {target.Width}x{target.Height} figure");
        using var pixmap = bitmap.PeekPixels();
        using var png = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 9))
            ?? throw new InvalidOperationException("PNG encoding failed");
        using var file = File.Create(path);
        png.SaveTo(file);
    }
}
