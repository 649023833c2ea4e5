using SkiaSharp;

namespace Iwae.Cli.Plots;

/// <summary>
/// The learned 2-D manifold (with a 2-D latent): the decoder's mean image at each point of an n x n grid of
/// z values, one square grid per model, side by side with a title above each (Kingma and Welling 2014, fig. 4).
/// </summary>
public static class ManifoldPlot
{
    /// <summary>Height of the title strip, pixels.</summary>
    public const int TitleHeight = 30;
    /// <summary>Space between panels, pixels.</summary>
    public const int PanelGap = 24;

    /// <summary>The n x n grid's z values: the standard normal's quantiles at evenly spaced probabilities in (0.05, 0.95),
    /// row-major, z1 left to right and z2 top (high) to bottom (low).</summary>
    public static float[] GridPoints(int n)
    {
        var z = new float[n * n * 2];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                int i = r * n + c;
                z[2 * i] = (float)NormalQuantile(0.05 + 0.9 * c / Math.Max(1, n - 1));
                z[2 * i + 1] = (float)NormalQuantile(0.95 - 0.9 * r / Math.Max(1, n - 1));
            }
        return z;
    }

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

    /// <summary>Inverse of the standard normal CDF (Acklam's rational approximation, relative error below 1.2e-9).</summary>
    public static double NormalQuantile(double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "must be in (0, 1)");
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        if (p < low)
        {
            double q = Math.Sqrt(-2 * Math.Log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) return -NormalQuantile(1 - p);
        double u = p - 0.5, r = u * u;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
}
