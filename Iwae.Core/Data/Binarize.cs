using Iwae.Autodiff;

namespace Iwae.Core.Data;

/// <summary>
/// Binarisation of grey-level images, x ~ Bernoulli(pixel) independently per pixel, as in Burda et al.:
/// training images are re-binarised for every minibatch (<see cref="Dynamic"/>), the test set once with a
/// fixed seed (<see cref="Fixed"/>). A pixel is 1 when <see cref="Rng.NextFloat"/> &lt; p, drawn in row-major
/// order, so p = 0 always gives 0, p = 1 always gives 1, and the same seed gives the same images.
/// </summary>
public static class Binarize
{
    /// <summary>
    /// Samples a binary minibatch: dst row i = Bernoulli(images row <paramref name="rowIndices"/>[i]).
    /// Allocates nothing; call it once per minibatch.
    /// </summary>
    /// <param name="images">[N, D] probabilities in [0, 1].</param>
    /// <param name="rowIndices">B row numbers into <paramref name="images"/> (the minibatch).</param>
    /// <param name="dst">[B, D] receives 0 or 1; for a short last batch pass <c>dst.RowSlice(0, B)</c>.</param>
    /// <param name="rng">The stream to draw from; it advances by B * D draws.</param>
    public static void Dynamic(Tensor<float> images, ReadOnlySpan<int> rowIndices, Tensor<float> dst, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (dst.Cols != images.Cols)
            throw new ArgumentException($"dst {dst.ShapeString} and images {images.ShapeString} differ in width", nameof(dst));
        if (dst.Rows != rowIndices.Length)
            throw new ArgumentException($"dst {dst.ShapeString} has room for {dst.Rows} rows, {rowIndices.Length} indices given", nameof(dst));
        for (int i = 0; i < rowIndices.Length; i++)
        {
            int r = rowIndices[i];
            if ((uint)r >= (uint)images.Rows) ThrowRow(r, images.Rows);
            Sample(images.Row(r), dst.Row(i), rng);
        }
    }

    /// <summary>
    /// A binarised copy of every image, drawn from <c>new Rng(seed)</c> in row-major order: the fixed
    /// binarisation used for the test set.
    /// </summary>
    /// <param name="images">[N, D] probabilities in [0, 1]; left unchanged.</param>
    /// <param name="seed">Seed of the generator; the same seed gives the same result.</param>
    /// <returns>A new [N, D] tensor of 0s and 1s.</returns>
    public static Tensor<float> Fixed(Tensor<float> images, ulong seed)
    {
        var rng = new Rng(seed);
        var dst = Tensor<float>.Zeros(images.Rows, images.Cols);
        for (int r = 0; r < images.Rows; r++) Sample(images.Row(r), dst.Row(r), rng);
        return dst;
    }

    private static void Sample(ReadOnlySpan<float> p, Span<float> x, Rng rng)
    {
        rng.FillBernoulli(p, x);
    }

    private static void ThrowRow(int r, int rows)
        => throw new ArgumentOutOfRangeException("rowIndices", $"row index {r} is outside [0,{rows})");
}
