namespace Iwae.Cli.Plots;

/// <summary>A labelled row of images (grey levels in [0, 1], each side x side, row-major).</summary>
/// <param name="Label">Text left of the row ("" for none).</param>
/// <param name="Images">The images, left to right.</param>
public sealed record DigitRow(string Label, float[][] Images);

/// <summary>
/// Rows of digits with a label on the left: test digits over their reconstructions by each model, or samples
/// from the prior. Pixels are drawn as blocks (nearest neighbour), white on black like MNIST.
/// </summary>
public static class DigitRowsPlot
{
    /// <summary>Width of the label column, pixels.</summary>
    public const int LabelWidth = 130;
    /// <summary>Space between images in a row, pixels.</summary>
    public const int Gap = 2;
    /// <summary>Space between rows, pixels.</summary>
    public const int RowGap = 6;

    /// <summary>The PNG's size for <paramref name="rows"/> rows of at most <paramref name="columns"/> images.</summary>
    public static (int Width, int Height) Size(int rows, int columns, int side = 28, int scale = 2)
    {
        int cell = side * scale;
        return (2 * DigitCanvas.Padding + LabelWidth + columns * cell + Math.Max(0, columns - 1) * Gap,
                2 * DigitCanvas.Padding + rows * cell + Math.Max(0, rows - 1) * RowGap);
    }

    /// <summary>Writes the rows as a PNG of <see cref="Size"/>; returns that size.</summary>
    public static (int Width, int Height) Save(string path, IReadOnlyList<DigitRow> rows, int side = 28, int scale = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows.Count, 1);
        int columns = Math.Max(1, rows.Max(r => r.Images.Length)), cell = side * scale;
        var (width, height) = Size(rows.Count, columns, side, scale);
        using var surface = DigitCanvas.NewSurface(width, height);
        for (int r = 0; r < rows.Count; r++)
        {
            float y = DigitCanvas.Padding + r * (cell + RowGap);
            DigitCanvas.DrawText(surface.Canvas, rows[r].Label, DigitCanvas.Padding, y + cell / 2f + 5, 15, bold: true);
            for (int c = 0; c < rows[r].Images.Length; c++)
                DigitCanvas.DrawDigit(surface.Canvas, rows[r].Images[c], side, DigitCanvas.Padding + LabelWidth + c * (cell + Gap), y, scale);
        }
        Figure.SavePng(surface, path, grayscale: true);
        return (width, height);
    }
}
