namespace Iwae.Autodiff;

// Broadcasting for the binary ops Add, Sub, Mul: the second operand b may have the shape of a, or [1,C]
// (one row, repeated down), [R,1] (one column, repeated across) or [1,1]. Backward sums the gradient over
// the repeated dimensions.
public sealed partial class Tape<T>
{
    private static void CheckBroadcast(string op, Tensor<T> a, Tensor<T> b)
    {
        bool rows = b.Rows == a.Rows || b.Rows == 1;
        bool cols = b.Cols == a.Cols || b.Cols == 1;
        if (!rows || !cols)
            throw new ArgumentException($"{op}: {b.ShapeString} does not broadcast to {a.ShapeString} (allowed: same shape, [1,{a.Cols}], [{a.Rows},1], [1,1])");
    }

    private static bool SameShape(Tensor<T> a, Tensor<T> b) => a.Rows == b.Rows && a.Cols == b.Cols;

    /// <summary>b's element that lines up with (i, j) of the full shape.</summary>
    private static T At(Tensor<T> b, int i, int j) => b[b.Rows == 1 ? 0 : i, b.Cols == 1 ? 0 : j];

    /// <summary>dst (b's shape) += sign * src (full shape), summed over the broadcast dimensions.</summary>
    private static void AccumulateReduced(Tensor<T> src, Tensor<T> dst, T sign)
    {
        for (int i = 0; i < src.Rows; i++)
        {
            var row = src.Row(i);
            for (int j = 0; j < src.Cols; j++)
                dst[dst.Rows == 1 ? 0 : i, dst.Cols == 1 ? 0 : j] += sign * row[j];
        }
    }
}
