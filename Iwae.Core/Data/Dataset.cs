using Iwae.Autodiff;

namespace Iwae.Core.Data;

/// <summary>
/// One split of a data set in the layout the models consume: <see cref="Images"/> is [Count, D], one example per
/// row (for images: pixel intensities scaled to [0, 1], byte / 255, each image row-major); <see cref="Labels"/>
/// holds one byte per example, or none for unlabelled data. Data that are not images (a CSV of features, say)
/// have <see cref="Rows"/> = 1 and <see cref="Cols"/> = D. <see cref="Origin"/> says where each example sits in its
/// file, through any split. Immutable by convention: binarisation writes into other tensors.
/// </summary>
public sealed class Dataset
{
    /// <summary>[Count, D] values, one example per row (images row-major).</summary>
    public Tensor<float> Images { get; }

    /// <summary>One label per example (0..9 for MNIST; values are not checked), or empty for unlabelled data.</summary>
    public byte[] Labels { get; }

    /// <summary>Whether the examples carry labels.</summary>
    public bool HasLabels => Labels.Length > 0;

    /// <summary>Number of examples.</summary>
    public int Count => Images.Rows;

    /// <summary>Pixel rows per image (28 for MNIST); 1 for data that are not images.</summary>
    public int Rows { get; }

    /// <summary>Pixel columns per image (28 for MNIST); D for data that are not images.</summary>
    public int Cols { get; }

    /// <summary>D = Rows * Cols, the width of <see cref="Images"/> (784 for MNIST).</summary>
    public int PixelsPerImage => Rows * Cols;

    /// <summary>Whether the examples are images of a known shape (IDX, MAT and .npz image sets).</summary>
    public bool IsImage => Rows > 1;

    /// <summary>
    /// Examples of dimension D that are not images (or whose shape is not known): <see cref="Rows"/> = 1,
    /// <see cref="Cols"/> = D. <paramref name="labels"/> may be empty.
    /// </summary>
    public static Dataset Vectors(Tensor<float> values, byte[]? labels = null, string source = "", DataOrigin? origin = null)
        => new(values, labels ?? [], 1, values.Cols, source, origin);

    /// <summary>
    /// Examples from a matrix in memory, one per row: [N, D] values copied into a new data set (<see cref="Rows"/> = 1,
    /// <see cref="Cols"/> = D, no labels). Values in [0, 1] suit the Bernoulli observation model, any real values the
    /// Gaussian one.
    /// </summary>
    /// <exception cref="ArgumentException">No rows or no columns, or a NaN or infinite value (the message names its row and column, from 0).</exception>
    public static Dataset FromRows(float[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = values.GetLength(0), d = values.GetLength(1);
        CheckShape(n, d, nameof(values));
        var t = Tensor<float>.Zeros(n, d);
        for (int i = 0; i < n; i++)
        {
            var row = t.Row(i);
            for (int j = 0; j < d; j++) row[j] = values[i, j];
        }
        return FromChecked(t, nameof(values));
    }

    /// <summary>
    /// Examples from rows in memory: <paramref name="rows"/>[i] is example i, every row of the same length D; copied
    /// into a new [N, D] data set as <see cref="FromRows(float[,])"/> does.
    /// </summary>
    /// <exception cref="ArgumentException">No rows, a null or empty row, rows of different lengths (the message names the
    /// first that differs from row 0), or a NaN or infinite value (its row and column).</exception>
    public static Dataset FromRows(float[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Length == 0) throw new ArgumentException("there are no rows: a data set needs at least one example", nameof(rows));
        for (int i = 0; i < rows.Length; i++)
            if (rows[i] is null) throw new ArgumentException($"row {i} is null", nameof(rows));
        int n = rows.Length, d = rows[0].Length;
        CheckShape(n, d, nameof(rows));
        for (int i = 1; i < n; i++)
            if (rows[i].Length != d) throw new ArgumentException($"row {i} has {rows[i].Length} values, row 0 has {d}: every row must have the same length", nameof(rows));
        var t = Tensor<float>.Zeros(n, d);
        for (int i = 0; i < n; i++) rows[i].CopyTo(t.Row(i));
        return FromChecked(t, nameof(rows));
    }

    /// <summary>
    /// Examples from a flat row-major buffer: <paramref name="values"/> holds N rows of <paramref name="width"/> values each
    /// (N = length / width); copied into a new [N, width] data set as <see cref="FromRows(float[,])"/> does.
    /// </summary>
    /// <exception cref="ArgumentException">A width below 1, a length that is not a positive multiple of the width, or a NaN
    /// or infinite value (its row and column).</exception>
    public static Dataset FromRows(ReadOnlySpan<float> values, int width)
    {
        if (width < 1) throw new ArgumentException($"width must be at least 1, got {width}", nameof(width));
        if (values.Length % width != 0)
            throw new ArgumentException($"{values.Length} values are not a whole number of rows of width {width} ({values.Length % width} left over)", nameof(values));
        int n = values.Length / width;
        CheckShape(n, width, nameof(values));
        var t = Tensor<float>.Zeros(n, width);
        for (int i = 0; i < n; i++) values.Slice(i * width, width).CopyTo(t.Row(i));
        return FromChecked(t, nameof(values));
    }

    private static void CheckShape(int n, int d, string argument)
    {
        if (n == 0) throw new ArgumentException("there are no rows: a data set needs at least one example", argument);
        if (d == 0) throw new ArgumentException("the rows have no values: an example needs at least one", argument);
        Limits.CheckTensor("the data", n, d);
    }

    private static Dataset FromChecked(Tensor<float> t, string argument)
    {
        for (int i = 0; i < t.Rows; i++)
        {
            ReadOnlySpan<float> row = t.Row(i);
            for (int j = 0; j < row.Length; j++)
                if (!float.IsFinite(row[j])) throw new ArgumentException($"row {i}, column {j} is {row[j]}: every value must be a finite number", argument);
        }
        return Vectors(t);
    }

    /// <summary>The examples at <paramref name="indices"/>, in that order, as a new data set (values copied; each keeps its <see cref="Origin"/>).</summary>
    public Dataset Select(IReadOnlyList<int> indices, string? source = null)
    {
        var t = Tensor<float>.Zeros(indices.Count, PixelsPerImage);
        var labels = HasLabels ? new byte[indices.Count] : [];
        for (int i = 0; i < indices.Count; i++)
        {
            Images.Row(indices[i]).CopyTo(t.Row(i));
            if (HasLabels) labels[i] = Labels[indices[i]];
        }
        return new Dataset(t, labels, Rows, Cols, source ?? Source, Origin.Select(indices));
    }

    /// <summary>Where the images came from (a file path), or "" for data built in memory.</summary>
    public string Source { get; }

    /// <summary>Where each example sits in <see cref="Source"/> (its line, row, column or image, from 1).</summary>
    public DataOrigin Origin { get; }

    /// <summary>Wraps <paramref name="images"/> and <paramref name="labels"/> (not copied).</summary>
    /// <param name="images">[N, rows*cols] values, expected in [0, 1].</param>
    /// <param name="labels">N labels, or none.</param>
    /// <param name="rows">Pixel rows per image.</param>
    /// <param name="cols">Pixel columns per image.</param>
    /// <param name="source">A description of the origin, for messages.</param>
    /// <param name="origin">Each example's place in <paramref name="source"/>; default: examples 1..N of data built in memory.</param>
    public Dataset(Tensor<float> images, byte[] labels, int rows, int cols, string source = "", DataOrigin? origin = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (images.Cols != rows * cols)
            throw new ArgumentException($"images {images.ShapeString} do not have rows*cols = {rows}*{cols} columns", nameof(images));
        if (labels.Length != images.Rows && labels.Length != 0)
            throw new ArgumentException($"{labels.Length} labels for {images.Rows} images", nameof(labels));
        origin ??= DataOrigin.InMemory(images.Rows);
        if (origin.Rows.Length != images.Rows)
            throw new ArgumentException($"an origin of {origin.Rows.Length} examples for {images.Rows} images", nameof(origin));
        Images = images;
        Labels = labels;
        Rows = rows;
        Cols = cols;
        Source = source;
        Origin = origin;
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
