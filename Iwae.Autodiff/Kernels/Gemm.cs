using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// Matrix products on row-major spans, in the three forms a dense layer needs:
/// NN (forward, Y = X W), NT (dX = dY W^T) and TN (dW = X^T dY). Each writes C, or adds into it when
/// <c>accumulate</c> is true. Packed B panels, a register-blocked micro-kernel per SIMD path and the threads of the
/// <see cref="Execution"/> given (the caller alone when none is; see Gemm.Driver.cs and Gemm.Kernels.cs);
/// <see cref="GemmNaive"/> is the oracle. Every result is bit-identical for any thread count.
/// </summary>
public static class Gemm
{
    /// <summary>C[m,n] (+)= A[m,k] * B[k,n], on <paramref name="execution"/>'s threads.</summary>
    public static void NN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null,
        Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)k * n, (long)m * n);
        GemmDriver.Run(a, k, 1, b, n, 1, c, m, n, k, accumulate, path ?? Simd.Best, execution);
    }

    /// <summary>
    /// A dense layer's forward pass in one sweep: C[m,n] = A[m,k] * B[k,n] + bias[n] in every row, then tanh(C) with
    /// <paramref name="tanh"/>. The same values as broadcasting the bias into C, <see cref="NN{T}"/> with accumulate and
    /// <see cref="Activations.Tanh{T}"/>, but C is written once, each tile finished while it is in L1.
    /// </summary>
    public static void Linear<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> bias, Span<T> c, int m, int n, int k, bool tanh,
        SimdPath? path = null, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)k * n, (long)m * n);
        if (bias.Length != n) throw new ArgumentException($"gemm: bias has {bias.Length} values, C has {n} columns");
        GemmDriver.Run(a, k, 1, b, n, 1, c, m, n, k, accumulate: false, path ?? Simd.Best, execution, bias, tanh);
    }

    /// <summary>The largest k for which <see cref="LinearBernoulli"/> can leave C unwritten (one k block).</summary>
    public const int UnwrittenMaxK = GemmDriver.Kc;

    /// <summary>
    /// An output layer and its Bernoulli log-likelihood in one sweep: with logits l = A[m,k] * B[k,n] + bias[n],
    /// y[i] = sum_j x[i mod b, j] l[i,j] - softplus(l[i,j]) for targets x [b,n] (m a multiple of b), each strip of
    /// tiles scored while it is in L1. c [m,n] receives the residual x - sigmoid(l) for the backward pass when
    /// <paramref name="residual"/>, else the logits; when c is empty (k at most <see cref="UnwrittenMaxK"/>, no residual)
    /// the logits are never written. y is bit for bit <see cref="Linear{T}"/> followed by <see cref="Bernoulli.LogLikRows"/>
    /// on the same path, and the residual <see cref="Bernoulli.LogLikRowsWithResidual"/>'s; any thread count.
    /// </summary>
    public static void LinearBernoulli(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, ReadOnlySpan<float> x,
        Span<float> y, Span<float> c, int m, int n, int k, bool residual, SimdPath? path = null, Execution? execution = null)
        => GemmDriver.LinearBernoulli(a, b, bias, x, y, c, m, n, k, residual, path ?? Simd.Best, execution);

    /// <summary>C[m,n] (+)= A[m,k] * B[n,k]^T, on <paramref name="execution"/>'s threads.</summary>
    public static void NT<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null,
        Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckNT(a.Length, b.Length, c.Length, m, n, k);
        GemmDriver.Run(a, k, 1, b, 1, k, c, m, n, k, accumulate, path ?? Simd.Best, execution);
    }

    /// <summary>
    /// C[m,n] (+)= A[k,m]^T * B[k,n], on <paramref name="execution"/>'s threads. With
    /// <paramref name="columnSums"/> [n], also columnSums[j] += sum over q of B[q,j], B's rows added in order (the bits of
    /// <see cref="Elementwise.SumRowsInto{T}"/>) while its panels are in cache: a dense layer's bias gradient beside its
    /// weight gradient, with no pass of its own over dY.
    /// </summary>
    public static void TN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate, SimdPath? path = null,
        Span<T> columnSums = default, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckTN(a.Length, b.Length, c.Length, columnSums.Length, m, n, k);
        GemmDriver.Run(a, 1, m, b, n, 1, c, m, n, k, accumulate, path ?? Simd.Best, execution, colSums: columnSums);
    }

    /// <summary>
    /// A dense layer's backward GEMMs in one call: dx [rows,in] (+)= dz [rows,out] w [in,out]^T (NT, as <see cref="NT{T}"/>;
    /// skipped when dx is empty) and dw [in,out] += x [rows,in]^T dz (TN, as <see cref="TN{T}"/>, with db [out] += dz's
    /// column sums when db is given; dw empty: db alone). On a short dz and two threads or more the two GEMMs run side by
    /// side, one per thread; the bits are those of the two calls.
    /// </summary>
    public static void LinearBackward<T>(ReadOnlySpan<T> dz, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> dx, Span<T> dw, Span<T> db,
        int rows, int inF, int outF, bool dxAccumulate, SimdPath? path = null, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
        => GemmDriver.LinearBackward(dz, x, w, dx, dw, db, rows, inF, outF, dxAccumulate, path ?? Simd.Best, execution);

    /// <summary>y[i] = fma(alpha, x[i], y[i]): one fused multiply-add per element on every path, so the same bits on each.</summary>
    public static void Axpy<T>(T alpha, ReadOnlySpan<T> x, Span<T> y, SimdPath path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length) throw new ArgumentException("axpy: lengths differ");
        int n = x.Length, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double)) path = SimdPath.Scalar;
        if (path == SimdPath.Vector512 && n >= Vector512<T>.Count)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                Fused.MultiplyAdd(va, Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        if (path >= SimdPath.Vector256 && n - i >= Vector256<T>.Count)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                Fused.MultiplyAdd(va, Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        if (path >= SimdPath.Vector128 && n - i >= Vector128<T>.Count)
        {
            var va = Vector128.Create(alpha);
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                Fused.MultiplyAdd(va, Vector128.LoadUnsafe(ref xr, (nuint)i), Vector128.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref yr, i) = Fused.MultiplyAdd(alpha, Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
    }

    /// <summary>NT's operands: A [m,k], B [n,k], C [m,n].</summary>
    internal static void CheckNT(int la, int lb, int lc, int m, int n, int k)
        => CheckSizes(la, lb, lc, (long)m * k, (long)n * k, (long)m * n);

    /// <summary>TN's operands: A [k,m], B [k,n], C [m,n], and column sums [n] when there are any.</summary>
    internal static void CheckTN(int la, int lb, int lc, int lsums, int m, int n, int k)
    {
        CheckSizes(la, lb, lc, (long)k * m, (long)k * n, (long)m * n);
        if (lsums != 0 && lsums != n) throw new ArgumentException($"gemm: {lsums} column sums for {n} columns");
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
        Loops(a, k, 1, b, n, 1, c, m, n, k, accumulate);
    }

    /// <summary>C[m,n] (+)= A[m,k] * B[n,k]^T.</summary>
    public static void NT<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.CheckSizes(a.Length, b.Length, c.Length, (long)m * k, (long)n * k, (long)m * n);
        Loops(a, k, 1, b, 1, k, c, m, n, k, accumulate);
    }

    /// <summary>C[m,n] (+)= A[k,m]^T * B[k,n].</summary>
    public static void TN<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Gemm.CheckSizes(a.Length, b.Length, c.Length, (long)k * m, (long)k * n, (long)m * n);
        Loops(a, 1, m, b, n, 1, c, m, n, k, accumulate);
    }

    // op(A)(i, q) = A[i*rsA + q*csA], op(B)(q, j) = B[q*rsB + j*csB]: the three forms differ only in these strides.
    private static void Loops<T>(ReadOnlySpan<T> a, int rsA, int csA, ReadOnlySpan<T> b, int rsB, int csB, Span<T> c,
        int m, int n, int k, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int q = 0; q < k; q++) s += a[i * rsA + q * csA] * b[q * rsB + j * csB];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }
}
