using SkiaSharp;

namespace Iwae.Cli.Plots;

/// <summary>
/// The learned 2-D manifold (with a 2-D latent): the decoder's mean image at each point of an n x n grid of z values
/// (<see cref="Iwae.Core.Analysis.ModelAnalysis.ManifoldGrid"/>), one square grid per model, side by side with a title
/// above each (Kingma and Welling 2014, fig. 4).
/// </summary>
public static class ManifoldPlot
{
    /// <summary>Height of the title strip, pixels.</summary>
    public const int TitleHeight = 30;
    /// <summary>Space between panels, pixels.</summary>
    public const int PanelGap = 24;

    /// <summary>The PNG's size for <paramref name="panels"/> grids of n x n images.</summary>
    public static (int Width, int Height) Size(int panels, int n, int side = 28, int scale = 1)
    {
        int grid = n * side * scale;
        return (2 * DigitCanvas.Padding + panels * grid + Math.Max(0, panels - 1) * PanelGap,
                2 * DigitCanvas.Padding + TitleHeight + grid);
    }

    /// <summary>Writes the panels (each n*n images, row-major) as one PNG of <see cref="Size"/>; returns that size.</summary>
    public static (int Width, int Height) Save(string path, IReadOnlyList<(string Title, float[][] Images)> panels, int n, int side = 28, int scale = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(panels.Count, 1);
        var (width, height) = Size(panels.Count, n, side, scale);
        int cell = side * scale, grid = n * cell;
        using var surface = DigitCanvas.NewSurface(width, height);
        for (int p = 0; p < panels.Count; p++)
        {
            var (title, images) = panels[p];
            if (images.Length != n * n) throw new ArgumentException($"panel '{title}' has {images.Length} images, an {n}x{n} grid needs {n * n}");
            float x0 = DigitCanvas.Padding + p * (grid + PanelGap), y0 = DigitCanvas.Padding + TitleHeight;
            DigitCanvas.DrawText(surface.Canvas, title, x0 + grid / 2f, DigitCanvas.Padding + 20, 16, SKTextAlign.Center, bold: true);
            for (int i = 0; i < images.Length; i++)
                DigitCanvas.DrawDigit(surface.Canvas, images[i], side, x0 + (i % n) * cell, y0 + (i / n) * cell, scale);
        }
        Figure.SavePng(surface, path, grayscale: true);
        return (width, height);
    }
}
