using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// The fused diagonal Gaussian log-density in float32 (the canonical order: fused multiply-adds, 16-lane row sums, the
/// same bits on every path), one pass per row, rows in parallel on
/// the threads of the <see cref="Execution"/> given: with u = (z - mu) exp(-s),
///     forward   y[r] = sum_j -u^2/2 - s_j - log(2 pi)/2,
///     backward  dz -= dy u exp(-s),  dmu += dy u exp(-s),  ds += dy (u^2 - 1).
/// <see cref="GaussianNaive"/> (float64 arithmetic) is the oracle.
/// </summary>
public static class Gaussian
{
    private const float HalfLog2Pi = 0.918938533f;

    /// <summary>y[r] = log N(z_r; mu_r, diag(exp(s_r))^2). z, mu, s: [rows, cols]; y: [rows].</summary>
    public static unsafe void LogDensityRows(ReadOnlySpan<float> z, ReadOnlySpan<float> mu, ReadOnlySpan<float> s, Span<float> y, int cols, SimdPath? path = null,
        Execution? execution = null)
    {
        int rows = y.Length;
        CheckLengths(rows * cols, z, mu, s);
        fixed (float* pz = z, pm = mu, ps = s, py = y)
            ParallelRange<ForwardBody>.For(new ForwardBody(pz, pm, ps, py, cols, path ?? Simd.Best), rows, 1, (long)rows * cols * 4, execution);
    }

    /// <summary>
    /// Accumulates the gradients of <see cref="LogDensityRows"/> given dy [rows]; an empty dz, dmu or ds is
    /// skipped (that input needs no gradient).
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> z, ReadOnlySpan<float> mu, ReadOnlySpan<float> s, ReadOnlySpan<float> dy,
        Span<float> dz, Span<float> dmu, Span<float> ds, int cols, SimdPath? path = null, Execution? execution = null)
    {
        int rows = dy.Length, n = rows * cols;
        CheckLengths(n, z, mu, s);
        if ((!dz.IsEmpty && dz.Length < n) || (!dmu.IsEmpty && dmu.Length < n) || (!ds.IsEmpty && ds.Length < n))
            throw new ArgumentException($"gaussian: gradient spans too short for {rows}x{cols}");
        fixed (float* pz = z, pm = mu, ps = s, pdy = dy, pdz = dz, pdm = dmu, pds = ds)
            ParallelRange<BackwardBody>.For(new BackwardBody(pz, pm, ps, pdy, pdz, pdm, pds, cols, path ?? Simd.Best), rows, 1, (long)rows * cols * 6, execution);
    }

    private static void CheckLengths(int n, ReadOnlySpan<float> z, ReadOnlySpan<float> mu, ReadOnlySpan<float> s)
    {
        if (z.Length < n || mu.Length < n || s.Length < n) throw new ArgumentException($"gaussian: spans too short for {n} values");
    }

    private readonly unsafe struct ForwardBody(float* z, float* mu, float* s, float* y, int cols, SimdPath path) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                nint o = (nint)r * cols;
                y[r] = Row(z + o, mu + o, s + o, cols, path);
            }
        }
    }

    // Each term is fma(-u/2, u, -s); a row sums its terms in the canonical order (Lanes16), so every path gives the same
    // bits: lanes in one Vector512 accumulator, two Vector256 or four Vector128 ones, or sixteen floats, and the columns
    // past the last whole 16 added one by one into their lanes.
    private static unsafe float Row(float* z, float* mu, float* s, int cols, SimdPath p)
    {
        float* lanes = stackalloc float[Lanes16.Count];
        new Span<float>(lanes, Lanes16.Count).Clear();
        int j = 0, full = cols / Lanes16.Count * Lanes16.Count;
        if (p == SimdPath.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (; j < full; j += 16) acc += Term(Vector512.Load(z + j), Vector512.Load(mu + j), Vector512.Load(s + j));
            acc.Store(lanes);
        }
        else if (p == SimdPath.Vector256)
        {
            var (acc0, acc1) = (Vector256<float>.Zero, Vector256<float>.Zero);
            for (; j < full; j += 16)
            {
                acc0 += Term(Vector256.Load(z + j), Vector256.Load(mu + j), Vector256.Load(s + j));
                acc1 += Term(Vector256.Load(z + j + 8), Vector256.Load(mu + j + 8), Vector256.Load(s + j + 8));
            }
            acc0.Store(lanes);
            acc1.Store(lanes + 8);
        }
        else if (p == SimdPath.Vector128)
        {
            var (acc0, acc1, acc2, acc3) = (Vector128<float>.Zero, Vector128<float>.Zero, Vector128<float>.Zero, Vector128<float>.Zero);
            for (; j < full; j += 16)
            {
                acc0 += Term(Vector128.Load(z + j), Vector128.Load(mu + j), Vector128.Load(s + j));
                acc1 += Term(Vector128.Load(z + j + 4), Vector128.Load(mu + j + 4), Vector128.Load(s + j + 4));
                acc2 += Term(Vector128.Load(z + j + 8), Vector128.Load(mu + j + 8), Vector128.Load(s + j + 8));
                acc3 += Term(Vector128.Load(z + j + 12), Vector128.Load(mu + j + 12), Vector128.Load(s + j + 12));
            }
            acc0.Store(lanes);
            acc1.Store(lanes + 4);
            acc2.Store(lanes + 8);
            acc3.Store(lanes + 12);
        }
        for (; j < cols; j++) lanes[j % Lanes16.Count] += Term(z[j], mu[j], s[j]);
        return Lanes16.Combine(lanes) - cols * HalfLog2Pi;
    }

    /// <summary>-u^2/2 - s with u = (z - mu) exp(-s), as fma(-u/2, u, -s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Term(float z, float mu, float s)
    {
        float u = (z - mu) * FastMath.Exp(-s);
        return Fused.MultiplyAdd(-0.5f * u, u, -s);
    }

    /// <inheritdoc cref="Term(float, float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Term(Vector512<float> z, Vector512<float> mu, Vector512<float> s)
    {
        var u = (z - mu) * FastMath.Exp(-s);
        return Vector512.FusedMultiplyAdd(Vector512.Create(-0.5f) * u, u, -s);
    }

    /// <inheritdoc cref="Term(float, float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Term(Vector256<float> z, Vector256<float> mu, Vector256<float> s)
    {
        var u = (z - mu) * FastMath.Exp(-s);
        return Vector256.FusedMultiplyAdd(Vector256.Create(-0.5f) * u, u, -s);
    }

    /// <inheritdoc cref="Term(float, float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Term(Vector128<float> z, Vector128<float> mu, Vector128<float> s)
    {
        var u = (z - mu) * FastMath.Exp(-s);
        return Fused.MultiplyAdd(Vector128.Create(-0.5f) * u, u, -s);
    }

    private readonly unsafe struct BackwardBody(float* z, float* mu, float* s, float* dy, float* dz, float* dmu, float* ds, int cols, SimdPath path) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                nint o = (nint)r * cols;
                RowBackward(z + o, mu + o, s + o, dy[r], dz == null ? null : dz + o, dmu == null ? null : dmu + o, ds == null ? null : ds + o, cols, path);
            }
        }
    }

    // Per element, with inv = exp(-s), u = (z - mu) inv and gu = dy u: dz = fma(-gu, inv, dz), dmu = fma(gu, inv, dmu),
    // ds = fma(dy, fma(u, u, -1), ds); the same operations on every width.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RowBackward(float* z, float* mu, float* s, float g, float* dz, float* dmu, float* ds, int cols, SimdPath p)
    {
        int j = 0;
        if (p == SimdPath.Vector512)
        {
            var vg = Vector512.Create(g);
            for (; j <= cols - 16; j += 16)
            {
                var inv = FastMath.Exp(-Vector512.Load(s + j));
                var u = (Vector512.Load(z + j) - Vector512.Load(mu + j)) * inv;
                var gu = vg * u;
                if (dz != null) Vector512.FusedMultiplyAdd(-gu, inv, Vector512.Load(dz + j)).Store(dz + j);
                if (dmu != null) Vector512.FusedMultiplyAdd(gu, inv, Vector512.Load(dmu + j)).Store(dmu + j);
                if (ds != null) Vector512.FusedMultiplyAdd(vg, Vector512.FusedMultiplyAdd(u, u, -Vector512<float>.One), Vector512.Load(ds + j)).Store(ds + j);
            }
        }
        if (p >= SimdPath.Vector256)
        {
            var vg = Vector256.Create(g);
            for (; j <= cols - 8; j += 8)
            {
                var inv = FastMath.Exp(-Vector256.Load(s + j));
                var u = (Vector256.Load(z + j) - Vector256.Load(mu + j)) * inv;
                var gu = vg * u;
                if (dz != null) Vector256.FusedMultiplyAdd(-gu, inv, Vector256.Load(dz + j)).Store(dz + j);
                if (dmu != null) Vector256.FusedMultiplyAdd(gu, inv, Vector256.Load(dmu + j)).Store(dmu + j);
                if (ds != null) Vector256.FusedMultiplyAdd(vg, Vector256.FusedMultiplyAdd(u, u, -Vector256<float>.One), Vector256.Load(ds + j)).Store(ds + j);
            }
        }
        if (p >= SimdPath.Vector128)
        {
            var vg = Vector128.Create(g);
            for (; j <= cols - 4; j += 4)
            {
                var inv = FastMath.Exp(-Vector128.Load(s + j));
                var u = (Vector128.Load(z + j) - Vector128.Load(mu + j)) * inv;
                var gu = vg * u;
                if (dz != null) Fused.MultiplyAdd(-gu, inv, Vector128.Load(dz + j)).Store(dz + j);
                if (dmu != null) Fused.MultiplyAdd(gu, inv, Vector128.Load(dmu + j)).Store(dmu + j);
                if (ds != null) Fused.MultiplyAdd(vg, Fused.MultiplyAdd(u, u, -Vector128<float>.One), Vector128.Load(ds + j)).Store(ds + j);
            }
        }
        for (; j < cols; j++)
        {
            float inv = FastMath.Exp(-s[j]);
            float u = (z[j] - mu[j]) * inv;
            float gu = g * u;
            if (dz != null) dz[j] = Fused.MultiplyAdd(-gu, inv, dz[j]);
            if (dmu != null) dmu[j] = Fused.MultiplyAdd(gu, inv, dmu[j]);
            if (ds != null) ds[j] = Fused.MultiplyAdd(g, Fused.MultiplyAdd(u, u, -1f), ds[j]);
        }
    }
}

/// <summary>
/// The standard normal log-density in float32, rows in parallel on the threads of the <see cref="Execution"/> given:
///     forward   y[r] = sum_j (-z_j/2 z_j - log(2 pi)/2), summed left to right one term at a time,
///     backward  dz -= dy z.
/// The forward sum keeps the order of the generic loop in <see cref="GaussianNaive"/> (one sequential chain per row),
/// so its bits are that loop's run in float; four rows run side by side so that their chains overlap instead of each
/// waiting on its own adds. The backward pass is <see cref="Elementwise.AxpyRows"/>.
/// <see cref="GaussianNaive"/> (float64 arithmetic) is the oracle.
/// </summary>
public static class StandardNormal
{
    private const float HalfLog2Pi = (float)0.91893853320467274178032973640562;     // the reference's constant, rounded the same way

    /// <summary>y[r] = log N(z_r; 0, I). z: [rows, cols]; y: [rows].</summary>
    public static unsafe void LogDensityRows(ReadOnlySpan<float> z, Span<float> y, int cols, Execution? execution = null)
    {
        int rows = y.Length;
        if (cols < 1 || z.Length < rows * cols) throw new ArgumentException($"standard normal: spans too short for {rows}x{cols}");
        fixed (float* pz = z, py = y)
            ParallelRange<ForwardBody>.For(new ForwardBody(pz, py, cols), rows, 1, (long)rows * cols * 4, execution);
    }

    /// <summary>dz[r, j] -= dy[r] z[r, j].</summary>
    public static void Backward(ReadOnlySpan<float> z, ReadOnlySpan<float> dy, Span<float> dz, int cols, SimdPath? path = null, Execution? execution = null)
    {
        int rows = dy.Length;
        if (cols < 1 || z.Length < rows * cols || dz.Length < rows * cols) throw new ArgumentException($"standard normal: spans too short for {rows}x{cols}");
        Elementwise.AxpyRows(dy, z, dz, cols, negate: true, overwrite: false, path ?? Simd.Best, execution);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Term(float z) => -0.5f * z * z - HalfLog2Pi;

    private readonly unsafe struct ForwardBody(float* z, float* y, int cols) : IRangeBody
    {
        public void Run(int start, int end)
        {
            int r = start;
            for (; r + 4 <= end; r += 4)
            {
                float* z0 = z + (nint)r * cols, z1 = z0 + cols, z2 = z1 + cols, z3 = z2 + cols;
                float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                for (int j = 0; j < cols; j++)
                {
                    a0 += Term(z0[j]); a1 += Term(z1[j]); a2 += Term(z2[j]); a3 += Term(z3[j]);
                }
                y[r] = a0; y[r + 1] = a1; y[r + 2] = a2; y[r + 3] = a3;
            }
            for (; r < end; r++)
            {
                float* zr = z + (nint)r * cols;
                float a = 0;
                for (int j = 0; j < cols; j++) a += Term(zr[j]);
                y[r] = a;
            }
        }
    }
}

/// <summary>
/// The reference for <see cref="Gaussian"/> and <see cref="StandardNormal"/>, written once and generic over the element
/// type: plain loops, each row summed one term at a time in column order. With u = (z - mu) exp(-s),
///     Gaussian          y[r] = sum_j -u^2/2 - s_j - log(2 pi)/2,
///                       dz -= dy u exp(-s),  dmu += dy u exp(-s),  ds += dy (u^2 - 1);
///     standard normal   y[r] = sum_j -z_j^2/2 - log(2 pi)/2,   dz -= dy z.
/// The tape runs these for float64 (so the gradient checks test this math); the float overloads, the kernels' oracles,
/// widen to double, run the same loops and round once at the end.
/// </summary>
public static class GaussianNaive
{
    private static T HalfLog2Pi<T>() where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(0.91893853320467274178032973640562);

    /// <summary>y[r] = log N(z_r; 0, I). z: [rows, cols]; y: [rows].</summary>
    public static void StandardLogDensityRows<T>(ReadOnlySpan<T> z, Span<T> y, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5), c = HalfLog2Pi<T>();
        for (int r = 0; r < y.Length; r++)
        {
            T acc = T.Zero;
            for (int j = r * cols; j < (r + 1) * cols; j++) acc += -half * z[j] * z[j] - c;
            y[r] = acc;
        }
    }

    /// <summary>dz[r, j] -= dy[r] z[r, j]: the gradient of <see cref="StandardLogDensityRows{T}"/>. z, dz: [rows, cols]; dy: [rows].</summary>
    public static void StandardBackward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> dy, Span<T> dz, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < dy.Length; r++)
            for (int j = r * cols; j < (r + 1) * cols; j++) dz[j] -= dy[r] * z[j];
    }

    /// <summary>y[r] = log N(z_r; mu_r, diag(exp(s_r))^2). z, mu, s: [rows, cols]; y: [rows].</summary>
    public static void LogDensityRows<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> mu, ReadOnlySpan<T> s, Span<T> y, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5), c = HalfLog2Pi<T>();
        for (int r = 0; r < y.Length; r++)
        {
            T acc = T.Zero;
            for (int j = r * cols; j < (r + 1) * cols; j++)
            {
                T u = (z[j] - mu[j]) * T.Exp(-s[j]);
                acc += -half * u * u - s[j] - c;
            }
            y[r] = acc;
        }
    }

    /// <summary>
    /// Accumulates the gradients of <see cref="LogDensityRows{T}"/> given dy. z, mu, s, dz, dmu, ds: [rows, cols];
    /// dy: [rows]; an empty dz, dmu or ds is skipped.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> mu, ReadOnlySpan<T> s, ReadOnlySpan<T> dy,
        Span<T> dz, Span<T> dmu, Span<T> ds, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < dy.Length; r++)
            for (int j = r * cols; j < (r + 1) * cols; j++)
            {
                T inv = T.Exp(-s[j]), u = (z[j] - mu[j]) * inv, gu = dy[r] * u * inv;
                if (!dz.IsEmpty) dz[j] -= gu;
                if (!dmu.IsEmpty) dmu[j] += gu;
                if (!ds.IsEmpty) ds[j] += dy[r] * (u * u - T.One);
            }
    }

    /// <summary><see cref="StandardLogDensityRows{T}"/> of float z, summed in double.</summary>
    public static void StandardLogDensityRows(ReadOnlySpan<float> z, Span<float> y, int cols)
    {
        var yd = new double[y.Length];
        StandardLogDensityRows<double>(Float64.Widen(z), yd, cols);
        Float64.Narrow(yd, y);
    }

    /// <summary><see cref="LogDensityRows{T}"/> of float inputs, summed in double.</summary>
    public static void LogDensityRows(ReadOnlySpan<float> z, ReadOnlySpan<float> mu, ReadOnlySpan<float> s, Span<float> y, int cols)
    {
        var yd = new double[y.Length];
        LogDensityRows<double>(Float64.Widen(z), Float64.Widen(mu), Float64.Widen(s), yd, cols);
        Float64.Narrow(yd, y);
    }

    /// <summary><see cref="Backward{T}"/> of float inputs in double: each gradient element is rounded once, after its update.</summary>
    public static void Backward(ReadOnlySpan<float> z, ReadOnlySpan<float> mu, ReadOnlySpan<float> s, ReadOnlySpan<float> dy,
        Span<float> dz, Span<float> dmu, Span<float> ds, int cols)
    {
        double[] dzd = Float64.Widen(dz), dmd = Float64.Widen(dmu), dsd = Float64.Widen(ds);
        Backward<double>(Float64.Widen(z), Float64.Widen(mu), Float64.Widen(s), Float64.Widen(dy), dzd, dmd, dsd, cols);
        Float64.Narrow(dzd, dz);
        Float64.Narrow(dmd, dmu);
        Float64.Narrow(dsd, ds);
    }
}
