using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// The fused Bernoulli log-likelihood in float32: one pass over the logits per row, forward
/// y_r = sum_j x_rj l_rj - softplus(l_rj), and backward dl_rj += dy_r (x_rj - sigmoid(l_rj)).
/// <see cref="BernoulliNaive"/> (float64 arithmetic) is the oracle.
/// </summary>
public static class Bernoulli
{
    /// <summary>y[r] = sum over the row of x l - softplus(l). l, x: [rows, cols]; y: [rows].</summary>
    public static void LogLikRows(ReadOnlySpan<float> l, ReadOnlySpan<float> x, Span<float> y, int cols, SimdPath? path = null)
    {
        var p = path ?? Simd.Best;
        int rows = y.Length;
        if (l.Length < rows * cols || x.Length < rows * cols) throw new ArgumentException("bernoulli: spans too short");
        for (int r = 0; r < rows; r++)
        {
            ref float lr = ref MemoryMarshal.GetReference(l.Slice(r * cols, cols));
            ref float xr = ref MemoryMarshal.GetReference(x.Slice(r * cols, cols));
            int j = 0;
            float sum = 0;
            if (p == SimdPath.Vector512)
            {
                var acc = Vector512<float>.Zero;
                for (; j <= cols - 16; j += 16)
                {
                    var lv = Vector512.LoadUnsafe(ref lr, (nuint)j);
                    acc += Vector512.LoadUnsafe(ref xr, (nuint)j) * lv - FastMath.Softplus(lv);
                }
                sum = Vector512.Sum(acc);
            }
            else if (p == SimdPath.Vector256)
            {
                var acc = Vector256<float>.Zero;
                for (; j <= cols - 8; j += 8)
                {
                    var lv = Vector256.LoadUnsafe(ref lr, (nuint)j);
                    acc += Vector256.LoadUnsafe(ref xr, (nuint)j) * lv - FastMath.Softplus(lv);
                }
                sum = Vector256.Sum(acc);
            }
            for (; j < cols; j++)
            {
                float lj = System.Runtime.CompilerServices.Unsafe.Add(ref lr, j);
                sum += System.Runtime.CompilerServices.Unsafe.Add(ref xr, j) * lj - FastMath.Softplus(lj);
            }
            y[r] = sum;
        }
    }

    /// <summary>dl[r,j] += dy[r] (x[r,j] - sigmoid(l[r,j])).</summary>
    public static void Backward(ReadOnlySpan<float> l, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dl, int cols, SimdPath? path = null)
    {
        var p = path ?? Simd.Best;
        int rows = dy.Length;
        if (l.Length < rows * cols || x.Length < rows * cols || dl.Length < rows * cols) throw new ArgumentException("bernoulli: spans too short");
        for (int r = 0; r < rows; r++)
        {
            ref float lr = ref MemoryMarshal.GetReference(l.Slice(r * cols, cols));
            ref float xr = ref MemoryMarshal.GetReference(x.Slice(r * cols, cols));
            ref float dr = ref MemoryMarshal.GetReference(dl.Slice(r * cols, cols));
            float g = dy[r];
            int j = 0;
            if (p == SimdPath.Vector512)
            {
                var vg = Vector512.Create(g);
                for (; j <= cols - 16; j += 16)
                {
                    var d = vg * (Vector512.LoadUnsafe(ref xr, (nuint)j) - FastMath.Sigmoid(Vector512.LoadUnsafe(ref lr, (nuint)j)));
                    (Vector512.LoadUnsafe(ref dr, (nuint)j) + d).StoreUnsafe(ref dr, (nuint)j);
                }
            }
            else if (p == SimdPath.Vector256)
            {
                var vg = Vector256.Create(g);
                for (; j <= cols - 8; j += 8)
                {
                    var d = vg * (Vector256.LoadUnsafe(ref xr, (nuint)j) - FastMath.Sigmoid(Vector256.LoadUnsafe(ref lr, (nuint)j)));
                    (Vector256.LoadUnsafe(ref dr, (nuint)j) + d).StoreUnsafe(ref dr, (nuint)j);
                }
            }
            for (; j < cols; j++)
                System.Runtime.CompilerServices.Unsafe.Add(ref dr, j) += g * (System.Runtime.CompilerServices.Unsafe.Add(ref xr, j) - FastMath.Sigmoid(System.Runtime.CompilerServices.Unsafe.Add(ref lr, j)));
        }
    }
}

/// <summary>The oracle for <see cref="Bernoulli"/>: plain loops in float64 arithmetic.</summary>
public static class BernoulliNaive
{
    private static double Softplus(double l) => Math.Max(l, 0) + Math.Log(1 + Math.Exp(-Math.Abs(l)));

    private static double Sigmoid(double l) => l >= 0 ? 1 / (1 + Math.Exp(-l)) : Math.Exp(l) / (1 + Math.Exp(l));

    public static void LogLikRows(ReadOnlySpan<float> l, ReadOnlySpan<float> x, Span<float> y, int cols)
    {
        for (int r = 0; r < y.Length; r++)
        {
            double s = 0;
            for (int j = 0; j < cols; j++) s += x[r * cols + j] * (double)l[r * cols + j] - Softplus(l[r * cols + j]);
            y[r] = (float)s;
        }
    }

    public static void Backward(ReadOnlySpan<float> l, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dl, int cols)
    {
        for (int r = 0; r < dy.Length; r++)
            for (int j = 0; j < cols; j++) dl[r * cols + j] += (float)(dy[r] * (x[r * cols + j] - Sigmoid(l[r * cols + j])));
    }

    public static void Softplus(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Softplus((double)x[i]);
    }

    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Sigmoid((double)x[i]);
    }
}
