using Iwae.Autodiff;

namespace Iwae.Core.Data;

/// <summary>
/// One split of an image data set in the layout the models consume: <see cref="Images"/> is
/// [Count, Rows*Cols], one image per row, pixel intensities scaled to [0, 1] (byte / 255); <see cref="Labels"/>
/// holds one byte per image. Immutable by convention: binarisation writes into other tensors.
/// </summary>
public sealed class Dataset
{
    /// <summary>[Count, Rows*Cols] grey levels in [0, 1], one image per row, each row-major.</summary>
    public Tensor<float> Images { get; }

    /// <summary>One label per image (0..9 for MNIST; values are not checked).</summary>
    public byte[] Labels { get; }

    /// <summary>Number of images.</summary>
    public int Count => Images.Rows;

    /// <summary>Pixel rows per image (28 for MNIST).</summary>
    public int Rows { get; }

    /// <summary>Pixel columns per image (28 for MNIST).</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols, the width of <see cref="Images"/> (784 for MNIST).</summary>
    public int PixelsPerImage => Rows * Cols;

    /// <summary>Where the images came from (a file path), or "" for data built in memory.</summary>
    public string Source { get; }

    /// <summary>Wraps <paramref name="images"/> and <paramref name="labels"/> (not copied).</summary>
    /// <param name="images">[N, rows*cols] values, expected in [0, 1].</param>
    /// <param name="labels">N labels.</param>
    /// <param name="rows">Pixel rows per image.</param>
    /// <param name="cols">Pixel columns per image.</param>
    /// <param name="source">A description of the origin, for messages.</param>
    public Dataset(Tensor<float> images, byte[] labels, int rows, int cols, string source = "")
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (images.Cols != rows * cols)
            throw new ArgumentException($"images {images.ShapeString} do not have rows*cols = {rows}*{cols} columns", nameof(images));
        if (labels.Length != images.Rows)
            throw new ArgumentException($"{labels.Length} labels for {images.Rows} images", nameof(labels));
        Images = images;
        Labels = labels;
        Rows = rows;
        Cols = cols;
        Source = source;
    }

    /// <summary>
    /// Converts raw IDX images (bytes 0..255) to a data set with pixels byte / 255f in [0, 1].
    /// </summary>
    /// <exception cref="ArgumentException">The label count differs from the image count.</exception>
    public static Dataset FromIdx(IdxImages images, byte[] labels, string source = "")
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Length != images.Count)
            throw new ArgumentException($"{labels.Length} labels for {images.Count} images", nameof(labels));

        // A 256-entry table gives exactly b / 255f for every byte without a division per pixel.
        Span<float> scale = stackalloc float[256];
        for (int b = 0; b < 256; b++) scale[b] = b / 255f;

        var t = Tensor<float>.Zeros(images.Count, images.PixelsPerImage);
        Span<float> dst = t.Span;
        ReadOnlySpan<byte> src = images.Pixels;
        for (int i = 0; i < src.Length; i++) dst[i] = scale[src[i]];
        return new Dataset(t, labels, images.Rows, images.Cols, source);
    }

    /// <summary>
    /// The mean of each pixel over all images: length Rows*Cols. The decoder's output bias starts at
    /// logit(clip(mean, 0.001, 0.999)) of these (Burda et al.'s initialisation).
    /// </summary>
    /// <exception cref="InvalidOperationException">The data set is empty.</exception>
    public float[] MeanPerPixel()
    {
        if (Count == 0) throw new InvalidOperationException("the mean pixel of an empty data set is undefined");
        // Accumulate in double: 60k float additions per pixel would lose digits in float.
        var sum = new double[PixelsPerImage];
        for (int r = 0; r < Count; r++)
        {
            ReadOnlySpan<float> row = Images.Row(r);
            for (int j = 0; j < row.Length; j++) sum[j] += row[j];
        }
        var mean = new float[sum.Length];
        for (int j = 0; j < mean.Length; j++) mean[j] = (float)(sum[j] / Count);
        return mean;
    }
}
