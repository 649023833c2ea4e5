using Iwae.Autodiff;
using Iwae.Core.Data;

namespace Iwae.Datasets;

/// <summary>
/// The contents of an IDX unsigned-byte image file: <see cref="Count"/> images of
/// <see cref="Rows"/> x <see cref="Cols"/> pixels, stored image after image, each row-major.
/// </summary>
public sealed class IdxImages
{
    /// <summary>The raw pixels, length Count * Rows * Cols; image i starts at i * Rows * Cols.</summary>
    public byte[] Pixels { get; }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Pixel rows per image (28 for MNIST).</summary>
    public int Rows { get; }

    /// <summary>Pixel columns per image (28 for MNIST).</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols.</summary>
    public int PixelsPerImage => Rows * Cols;

    /// <summary>Wraps <paramref name="pixels"/> (not copied) after checking its length against the shape.</summary>
    public IdxImages(byte[] pixels, int count, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if ((long)count * rows * cols != pixels.Length)
            throw new ArgumentException($"{pixels.Length} pixels do not make {count} images of {rows}x{cols}", nameof(pixels));
        Pixels = pixels;
        Count = count;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>
    /// These raw images (bytes 0..255) as a data set with pixels byte / 255f in [0, 1].
    /// </summary>
    /// <exception cref="ArgumentException">The label count differs from the image count.</exception>
    public Dataset ToDataset(byte[] labels, string source = "")
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != Count)
            throw new ArgumentException($"{labels.Length} labels for {Count} images", nameof(labels));

        // A 256-entry table gives exactly b / 255f for every byte without a division per pixel.
        Span<float> scale = stackalloc float[256];
        for (int b = 0; b < 256; b++) scale[b] = b / 255f;

        var t = Tensor<float>.Zeros(Count, PixelsPerImage);
        Span<float> dst = t.Span;
        ReadOnlySpan<byte> src = Pixels;
        for (int i = 0; i < src.Length; i++) dst[i] = scale[src[i]];
        return new Dataset(t, labels, Rows, Cols, source, DataOrigin.Counted(RowNumbering.Image, Count));
    }
}
