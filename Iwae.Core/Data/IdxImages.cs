namespace Iwae.Core.Data;

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
}
