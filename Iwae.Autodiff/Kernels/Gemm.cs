using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// Matrix products on row-major spans, in the three forms a dense layer needs:
/// NN (forward, Y = X W), NT (dX = dY W^T) and TN (dW = X^T dY). Each writes C, or adds into it when
/// <c>accumulate</c> is true. This is the straightforward version (row-axpy and dot loops on the widest
/// vectors); <see cref="GemmNaive"/> is its oracle.
/// </summary>
public static class Gemm
{
    /// <summary>C[m,n] (+)= A[m,k] * B[k,n].</summary>
    public static void NN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)k * n, (long)m * n);
        var p = path ?? Simd.Best;
        if (!accumulate) c[..(m * n)].Clear();
        for (int i = 0; i < m; i++)
        {
            var ci = c.Slice(i * n, n);
            var ai = a.Slice(i * k, k);
            for (int q = 0; q < k; q++)
                Axpy(ai[q], b.Slice(q * n, n), ci, p);
        }
    }

    /// <summary>C[m,n] (+)= A[m,k] * B[n,k]^T.</summary>
    public static void NT<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)n * k, (long)m * n);
        var p = path ?? Simd.Best;
        for (int i = 0; i < m; i++)
        {
            var ai = a.Slice(i * k, k);
            for (int j = 0; j < n; j++)
            {
                T d = Dot(ai, b.Slice(j * k, k), p);
                c[i * n + j] = accumulate ? c[i * n + j] + d : d;
            }
        }
    }

    /// <summary>C[m,n] (+)= A[k,m]^T * B[k,n].</summary>
    public static void TN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSizes(a.Length, b.Length, c.Length, (long)k * m, (long)k * n, (long)m * n);
        var p = path ?? Simd.Best;
        if (!accumulate) c[..(m * n)].Clear();
        for (int q = 0; q < k; q++)
        {
            var bq = b.Slice(q * n, n);
            var aq = a.Slice(q * m, m);
            for (int i = 0; i < m; i++)
                Axpy(aq[i], bq, c.Slice(i * n, n), p);
        }
    }

    /// <summary>y += alpha * x.</summary>
    public static void Axpy<T>(T alpha, ReadOnlySpan<T> x, Span<T> y, SimdPath path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length) throw new ArgumentException("axpy: lengths differ");
        int n = x.Length, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (path == SimdPath.Vector512 && n >= Vector512<T>.Count)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                (va * Vector512.LoadUnsafe(ref xr, (nuint)i) + Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        else if (path >= SimdPath.Vector256 && n >= Vector256<T>.Count)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (va * Vector256.LoadUnsafe(ref xr, (nuint)i) + Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) += alpha * Unsafe.Add(ref xr, i);
    }

    /// <summary>sum_i x_i y_i, summed in vector lanes then across them.</summary>
    public static T Dot<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, SimdPath path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length) throw new ArgumentException("dot: lengths differ");
        int n = x.Length, i = 0;
        T s = T.Zero;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (path == SimdPath.Vector512 && n >= Vector512<T>.Count)
        {
            var acc = Vector512<T>.Zero;
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                acc += Vector512.LoadUnsafe(ref xr, (nuint)i) * Vector512.LoadUnsafe(ref yr, (nuint)i);
            s = Vector512.Sum(acc);
        }
        else if (path >= SimdPath.Vector256 && n >= Vector256<T>.Count)
        {
            var acc = Vector256<T>.Zero;
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                acc += Vector256.LoadUnsafe(ref xr, (nuint)i) * Vector256.LoadUnsafe(ref yr, (nuint)i);
            s = Vector256.Sum(acc);
        }
        for (; i < n; i++) s += Unsafe.Add(ref xr, i) * Unsafe.Add(ref yr, i);
        return s;
    }

    internal static void CheckSizes(int la, int lb, int lc, long na, long nb, long nc)
    {
        if (la < na || lb < nb || lc < nc)
            throw new ArgumentException($"gemm: spans of {la}, {lb}, {lc} values are too short for {na}, {nb}, {nc}");
    }
}

/// <summary>The plain triple loops: the oracle every fast GEMM path is tested against.</summary>
public static class GemmNaive
{
    /// <summary>C[m,n] (+)= A[m,k] * B[k,n].</summary>
    public static void NN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)k * n, (long)m * n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int q = 0; q < k; q++) s += a[i * k + q] * b[q * n + j];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }

    /// <summary>C[m,n] (+)= A[m,k] * B[n,k]^T.</summary>
    public static void NT<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)n * k, (long)m * n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int q = 0; q < k; q++) s += a[i * k + q] * b[j * k + q];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }

    /// <summary>C[m,n] (+)= A[k,m]^T * B[k,n].</summary>
    public static void TN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.CheckSizes(a.Length, b.Length, c.Length, (long)k * m, (long)k * n, (long)m * n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int q = 0; q < k; q++) s += a[q * m + i] * b[q * n + j];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }
}
