using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Iwae.Autodiff.Kernels;

/// <summary>A function of two values, written once per path (the TensorPrimitives operator-struct pattern).</summary>
public interface IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Scalar form.</summary>
    static abstract T Invoke(T x, T y);
    /// <summary>128-bit form.</summary>
    static abstract Vector128<T> Invoke(Vector128<T> x, Vector128<T> y);
    /// <summary>256-bit form.</summary>
    static abstract Vector256<T> Invoke(Vector256<T> x, Vector256<T> y);
    /// <summary>512-bit form.</summary>
    static abstract Vector512<T> Invoke(Vector512<T> x, Vector512<T> y);
}

/// <summary>A function of one value, written once per path.</summary>
public interface IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Scalar form.</summary>
    static abstract T Invoke(T x);
    /// <summary>128-bit form.</summary>
    static abstract Vector128<T> Invoke(Vector128<T> x);
    /// <summary>256-bit form.</summary>
    static abstract Vector256<T> Invoke(Vector256<T> x);
    /// <summary>512-bit form.</summary>
    static abstract Vector512<T> Invoke(Vector512<T> x);
}

/// <summary>tanh, float32 (<see cref="FastMath.Tanh(float)"/>).</summary>
public readonly struct TanhOperator : IUnaryOperator<float>
{
    /// <inheritdoc />
    public static float Invoke(float x) => FastMath.Tanh(x);
    /// <inheritdoc />
    public static Vector128<float> Invoke(Vector128<float> x) => FastMath.Tanh(x);
    /// <inheritdoc />
    public static Vector256<float> Invoke(Vector256<float> x) => FastMath.Tanh(x);
    /// <inheritdoc />
    public static Vector512<float> Invoke(Vector512<float> x) => FastMath.Tanh(x);
}

/// <summary>
/// exp(x) on <see cref="FastMath.Exp(float)"/>, with IEEE results at the edges: a vector holding x above 88 or a
/// NaN takes MathF.Exp lane by lane, so overflow gives infinity and NaN stays NaN. Below -87.3 the result is 0.
/// (TensorPrimitives' float Exp ran as a scalar loop here, which is why this operator exists; measured figures:
/// docs/performance.md.)
/// </summary>
public readonly struct ExpOperator : IUnaryOperator<float>
{
    private const float FastMax = 88f;

    /// <inheritdoc />
    public static float Invoke(float x) => x <= FastMax ? FastMath.Exp(x) : MathF.Exp(x);

    /// <inheritdoc />
    public static Vector128<float> Invoke(Vector128<float> x)
    {
        if (Vector128.LessThanOrEqualAll(x, Vector128.Create(FastMax))) return FastMath.Exp(x);
        Span<float> lanes = stackalloc float[Vector128<float>.Count];
        x.CopyTo(lanes);
        foreach (ref float v in lanes) v = Invoke(v);
        return Vector128.Create((ReadOnlySpan<float>)lanes);
    }

    // Past 88 each half takes the narrower form; FastMath's vector and scalar forms agree bit for bit.
    /// <inheritdoc />
    public static Vector256<float> Invoke(Vector256<float> x)
        => Vector256.LessThanOrEqualAll(x, Vector256.Create(FastMax)) ? FastMath.Exp(x) : Vector256.Create(Invoke(x.GetLower()), Invoke(x.GetUpper()));

    /// <inheritdoc />
    public static Vector512<float> Invoke(Vector512<float> x)
        => Vector512.LessThanOrEqualAll(x, Vector512.Create(FastMax)) ? FastMath.Exp(x) : Vector512.Create(Invoke(x.GetLower()), Invoke(x.GetUpper()));
}

/// <summary>softplus, float32 (<see cref="FastMath.Softplus(float)"/>).</summary>
public readonly struct SoftplusOperator : IUnaryOperator<float>
{
    /// <inheritdoc />
    public static float Invoke(float x) => FastMath.Softplus(x);
    /// <inheritdoc />
    public static Vector128<float> Invoke(Vector128<float> x) => FastMath.Softplus(x);
    /// <inheritdoc />
    public static Vector256<float> Invoke(Vector256<float> x) => FastMath.Softplus(x);
    /// <inheritdoc />
    public static Vector512<float> Invoke(Vector512<float> x) => FastMath.Softplus(x);
}

/// <summary>sigmoid, float32 (<see cref="FastMath.Sigmoid(float)"/>).</summary>
public readonly struct SigmoidOperator : IUnaryOperator<float>
{
    /// <inheritdoc />
    public static float Invoke(float x) => FastMath.Sigmoid(x);
    /// <inheritdoc />
    public static Vector128<float> Invoke(Vector128<float> x) => FastMath.Sigmoid(x);
    /// <inheritdoc />
    public static Vector256<float> Invoke(Vector256<float> x) => FastMath.Sigmoid(x);
    /// <inheritdoc />
    public static Vector512<float> Invoke(Vector512<float> x) => FastMath.Sigmoid(x);
}

/// <summary>x + y.</summary>
public readonly struct AddOperator<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public static T Invoke(T x, T y) => x + y;
    /// <inheritdoc />
    public static Vector128<T> Invoke(Vector128<T> x, Vector128<T> y) => x + y;
    /// <inheritdoc />
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => x + y;
    /// <inheritdoc />
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> y) => x + y;
}

/// <summary>x - y.</summary>
public readonly struct SubtractOperator<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public static T Invoke(T x, T y) => x - y;
    /// <inheritdoc />
    public static Vector128<T> Invoke(Vector128<T> x, Vector128<T> y) => x - y;
    /// <inheritdoc />
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => x - y;
    /// <inheritdoc />
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> y) => x - y;
}

/// <summary>x * y.</summary>
public readonly struct MultiplyOperator<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public static T Invoke(T x, T y) => x * y;
    /// <inheritdoc />
    public static Vector128<T> Invoke(Vector128<T> x, Vector128<T> y) => x * y;
    /// <inheritdoc />
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => x * y;
    /// <inheritdoc />
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> y) => x * y;
}

/// <summary>Tanh backward from its output: (y, dy) -> dy * (1 - y^2), 1 - y^2 as one fused multiply-add. Reads y, never recomputes tanh.</summary>
public readonly struct TanhGradOperator<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public static T Invoke(T y, T dy) => dy * Fused.MultiplyAdd(-y, y, T.One);
    /// <inheritdoc />
    public static Vector128<T> Invoke(Vector128<T> y, Vector128<T> dy) => dy * Fused.MultiplyAdd(-y, y, Vector128<T>.One);
    /// <inheritdoc />
    public static Vector256<T> Invoke(Vector256<T> y, Vector256<T> dy) => dy * Fused.MultiplyAdd(-y, y, Vector256<T>.One);
    /// <inheritdoc />
    public static Vector512<T> Invoke(Vector512<T> y, Vector512<T> dy) => dy * Fused.MultiplyAdd(-y, y, Vector512<T>.One);
}

/// <summary>(x, y) -> y + max(x, 0): the last pass of the vectorised softplus.</summary>
public readonly struct AddReluOperator<T> : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc />
    public static T Invoke(T x, T y) => y + T.Max(x, T.Zero);
    /// <inheritdoc />
    public static Vector128<T> Invoke(Vector128<T> x, Vector128<T> y) => y + Vector128.Max(x, Vector128<T>.Zero);
    /// <inheritdoc />
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> y) => y + Vector256.Max(x, Vector256<T>.Zero);
    /// <inheritdoc />
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> y) => y + Vector512.Max(x, Vector512<T>.Zero);
}

/// <summary>
/// The driver for elementwise kernels: loops over whole vectors on the chosen path, then a scalar tail.
/// With <c>accumulate</c> the result is added into <c>dst</c> (the backward pattern: dx += f(...)).
/// </summary>
public static class Elementwise
{
    /// <summary>
    /// dst (+)= TOp(x, y), elementwise. Large spans are cut across <paramref name="execution"/>'s threads at multiples of 64
    /// elements, so every element takes the same path as on one thread.
    /// </summary>
    public static unsafe void Map<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst, bool accumulate = false, SimdPath? path = null,
        Execution? execution = null) where TOp : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != y.Length || x.Length != dst.Length) throw new ArgumentException($"elementwise: lengths {x.Length}, {y.Length}, {dst.Length} differ");
        var p = path ?? Simd.Best;
        fixed (T* px = x, py = y, pd = dst)
            ParallelRange<BinaryBody<TOp, T>>.For(new BinaryBody<TOp, T>(px, py, pd, accumulate, p), x.Length, 64, x.Length, execution);
    }

    private readonly unsafe struct BinaryBody<TOp, T>(T* x, T* y, T* dst, bool accumulate, SimdPath path) : IRangeBody
        where TOp : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end) =>
            MapRange<TOp, T>(new ReadOnlySpan<T>(x + start, end - start), new ReadOnlySpan<T>(y + start, end - start),
                new Span<T>(dst + start, end - start), accumulate, path);
    }

    private static void MapRange<TOp, T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst, bool accumulate, SimdPath p)
        where TOp : IBinaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        // Every width computes an element's bits alike, so each path runs its widest vectors and then the narrower
        // ones on what is left (a 256-bit path ends with one 128-bit step where 4 to 7 elements remain).
        if (p == SimdPath.Vector512)
        {
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var r = TOp.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i), Vector512.LoadUnsafe(ref yr, (nuint)i));
                if (accumulate) r += Vector512.LoadUnsafe(ref dr, (nuint)i);
                r.StoreUnsafe(ref dr, (nuint)i);
            }
        }
        if (p >= SimdPath.Vector256)
        {
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var r = TOp.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i), Vector256.LoadUnsafe(ref yr, (nuint)i));
                if (accumulate) r += Vector256.LoadUnsafe(ref dr, (nuint)i);
                r.StoreUnsafe(ref dr, (nuint)i);
            }
        }
        if (p >= SimdPath.Vector128)
        {
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
            {
                var r = TOp.Invoke(Vector128.LoadUnsafe(ref xr, (nuint)i), Vector128.LoadUnsafe(ref yr, (nuint)i));
                if (accumulate) r += Vector128.LoadUnsafe(ref dr, (nuint)i);
                r.StoreUnsafe(ref dr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            var r = TOp.Invoke(Unsafe.Add(ref xr, i), Unsafe.Add(ref yr, i));
            Unsafe.Add(ref dr, i) = accumulate ? Unsafe.Add(ref dr, i) + r : r;
        }
    }

    /// <summary>dst = TOp(x), elementwise; x and dst may be the same span. Large spans run on <paramref name="execution"/>'s threads.</summary>
    public static unsafe void Map<TOp, T>(ReadOnlySpan<T> x, Span<T> dst, SimdPath? path = null, Execution? execution = null)
        where TOp : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != dst.Length) throw new ArgumentException($"elementwise: lengths {x.Length} and {dst.Length} differ");
        var p = path ?? Simd.Best;
        // Work counts a transcendental as four cheap element-ops: parallel from a quarter of the binary size.
        fixed (T* px = x, pd = dst)
            ParallelRange<UnaryBody<TOp, T>>.For(new UnaryBody<TOp, T>(px, pd, p), x.Length, 64, x.Length * 4L, execution);
    }

    private readonly unsafe struct UnaryBody<TOp, T>(T* x, T* dst, SimdPath path) : IRangeBody
        where TOp : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end) =>
            MapRange<TOp, T>(new ReadOnlySpan<T>(x + start, end - start), new Span<T>(dst + start, end - start), path);
    }

    private static void MapRange<TOp, T>(ReadOnlySpan<T> x, Span<T> dst, SimdPath p)
        where TOp : IUnaryOperator<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dr = ref MemoryMarshal.GetReference(dst);
        if (p == SimdPath.Vector512)
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                TOp.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        if (p >= SimdPath.Vector256)
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                TOp.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        if (p >= SimdPath.Vector128)
            for (; i <= n - Vector128<T>.Count; i += Vector128<T>.Count)
                TOp.Invoke(Vector128.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref dr, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref dr, i) = TOp.Invoke(Unsafe.Add(ref xr, i));
    }

    /// <summary>dst += x.</summary>
    public static void AddInto<T>(ReadOnlySpan<T> x, Span<T> dst, SimdPath? path = null, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
        => Map<AddOperator<T>, T>(x, dst, dst, accumulate: false, path, execution);

    /// <summary>Sets every value of <paramref name="x"/> to zero; large spans are cleared on <paramref name="execution"/>'s threads.</summary>
    public static unsafe void Clear<T>(Span<T> x, Execution? execution = null) where T : unmanaged
    {
        fixed (T* p = x)
            ParallelRange<ClearBody<T>>.For(new ClearBody<T>(p), x.Length, 64, x.Length, execution);
    }

    private readonly unsafe struct ClearBody<T>(T* x) : IRangeBody where T : unmanaged
    {
        public void Run(int start, int end) => new Span<T>(x + start, end - start).Clear();
    }

    /// <summary>
    /// y[r, j] = fma(a[r], x[r, j], overwrite ? 0 : y[r, j]), with a = -alpha when <paramref name="negate"/> (the bits of
    /// y - alpha x, fused), for x, y [rows, cols]: the backward pass of a row-summed term. With overwrite y's old contents are
    /// ignored and the result is the bits of adding into zeros. Rows run on <paramref name="execution"/>'s threads; the caller checks lengths.
    /// </summary>
    internal static unsafe void AxpyRows(ReadOnlySpan<float> alpha, ReadOnlySpan<float> x, Span<float> y, int cols, bool negate, bool overwrite, SimdPath path,
        Execution? execution)
    {
        int rows = alpha.Length;
        long work = (long)rows * cols * 2;
        fixed (float* pa = alpha, px = x, py = y)
        {
            if (overwrite) ParallelRange<AxpyRowsBody<Yes>>.For(new AxpyRowsBody<Yes>(pa, px, py, cols, negate, path), rows, 1, work, execution);
            else ParallelRange<AxpyRowsBody<No>>.For(new AxpyRowsBody<No>(pa, px, py, cols, negate, path), rows, 1, work, execution);
        }
    }

    private readonly unsafe struct AxpyRowsBody<TOverwrite>(float* alpha, float* x, float* y, int cols, bool negate, SimdPath path) : IRangeBody
        where TOverwrite : IFlag
    {
        public void Run(int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                float* xr = x + (nint)r * cols, yr = y + (nint)r * cols;
                float a = negate ? -alpha[r] : alpha[r];
                int j = 0;
                if (path == SimdPath.Vector512)
                {
                    var va = Vector512.Create(a);
                    for (; j <= cols - 16; j += 16)
                        Vector512.FusedMultiplyAdd(va, Vector512.Load(xr + j), TOverwrite.On ? Vector512<float>.Zero : Vector512.Load(yr + j)).Store(yr + j);
                }
                if (path >= SimdPath.Vector256)
                {
                    var va = Vector256.Create(a);
                    for (; j <= cols - 8; j += 8)
                        Vector256.FusedMultiplyAdd(va, Vector256.Load(xr + j), TOverwrite.On ? Vector256<float>.Zero : Vector256.Load(yr + j)).Store(yr + j);
                }
                if (path >= SimdPath.Vector128)
                {
                    var va = Vector128.Create(a);
                    for (; j <= cols - 4; j += 4)
                        Fused.MultiplyAdd(va, Vector128.Load(xr + j), TOverwrite.On ? Vector128<float>.Zero : Vector128.Load(yr + j)).Store(yr + j);
                }
                for (; j < cols; j++) yr[j] = Fused.MultiplyAdd(a, xr[j], TOverwrite.On ? 0f : yr[j]);
            }
        }
    }

    /// <summary>
    /// sum[j] += sum over r of x[r, j] for x [rows, sum.Length] (a bias gradient). Threads take blocks of
    /// columns, and every column adds its rows in order, so the result is the same on any thread count.
    /// </summary>
    public static unsafe void SumRowsInto<T>(ReadOnlySpan<T> x, Span<T> sum, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = sum.Length, rows = cols == 0 ? 0 : x.Length / cols;
        if (rows * cols != x.Length) throw new ArgumentException($"sum rows: {x.Length} values are not rows of {cols}");
        fixed (T* px = x, ps = sum)
            ParallelRange<SumRowsBody<T>>.For(new SumRowsBody<T>(px, ps, rows, cols), cols, 64, x.Length, execution);
    }

    private readonly unsafe struct SumRowsBody<T>(T* x, T* sum, int rows, int cols) : IRangeBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Run(int start, int end)
        {
            var dst = new Span<T>(sum + start, end - start);
            for (int r = 0; r < rows; r++) MapRange<AddOperator<T>, T>(new ReadOnlySpan<T>(x + (nint)r * cols + start, end - start), dst, dst, false, Simd.Best);
        }
    }
}

/// <summary>
/// The canonical order of a float reduction (issue 26): 16 lanes, lane l summing, in increasing j, the values with
/// j mod 16 == l from 0; then one fixed tree, s8[i] = lane[i] + lane[i+8], s4[i] = s8[i] + s8[i+4],
/// s2[i] = s4[i] + s4[i+2], s = s2[0] + s2[1]. A Vector512 path keeps the lanes in one accumulator, Vector256 in two
/// (lanes 0-7 and 8-15), Vector128 in four, scalar code in sixteen floats; all store them here and combine them alike,
/// so a sum has the same bits on every path.
/// </summary>
internal static class Lanes16
{
    /// <summary>The number of lanes.</summary>
    public const int Count = 16;

    /// <summary>The fixed tree over lanes[0..16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Combine(float* lanes)
    {
        float s0 = lanes[0] + lanes[8], s1 = lanes[1] + lanes[9], s2 = lanes[2] + lanes[10], s3 = lanes[3] + lanes[11];
        float s4 = lanes[4] + lanes[12], s5 = lanes[5] + lanes[13], s6 = lanes[6] + lanes[14], s7 = lanes[7] + lanes[15];
        float t0 = s0 + s4, t1 = s1 + s5, t2 = s2 + s6, t3 = s3 + s7;
        return (t0 + t2) + (t1 + t3);
    }
}

/// <summary>Transcendental activations. The fast forms use TensorPrimitives; the naive twins are plain loops.</summary>
public static class Activations
{
    /// <summary>y = tanh(y + bias) for every row of y [rows, bias.Length]: the fused Linear+Tanh epilogue.</summary>
    public static void BiasTanh<T>(Span<T> y, ReadOnlySpan<T> bias, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = bias.Length;
        for (int r = 0; r + n <= y.Length; r += n)
        {
            var row = y.Slice(r, n);
            TP.Add(row, bias, row);
        }
        Tanh<T>(y, y, execution);
    }

    /// <summary>
    /// y = tanh(x). float runs <see cref="TanhOperator"/>; double keeps
    /// TensorPrimitives' full precision (gradient checks). TensorPrimitives' generic Tanh&lt;T&gt; is a scalar loop,
    /// many times slower than its float overload, hence the dispatch on the concrete type (measured figures:
    /// docs/performance.md).
    /// </summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Elementwise.Map<TanhOperator, float>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), execution: execution);
        else if (typeof(T) == typeof(double)) TP.Tanh(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
        else TP.Tanh(x, y);
    }

    /// <summary>y = exp(x): float on <see cref="ExpOperator"/>, double on TensorPrimitives (full precision for gradient checks).</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Elementwise.Map<ExpOperator, float>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), execution: execution);
        else if (typeof(T) == typeof(double)) TP.Exp(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
        else TP.Exp(x, y);
    }

    /// <summary>
    /// y = softplus(x) = max(x, 0) + log1p(exp(-|x|)): no overflow for any finite x. Vectorised in passes over
    /// y (x and y must not overlap unless they are the same span).
    /// </summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> y, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            Elementwise.Map<SoftplusOperator, float>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), execution: execution);
            return;
        }
        TP.Abs(x, y);
        TP.Negate(y, y);
        TP.Exp(y, y);
        TP.LogP1(y, y);
        Elementwise.Map<AddReluOperator<T>, T>(x, y, y, execution: execution);
    }

    /// <summary>y = sigmoid(x) = 1 / (1 + exp(-x)), vectorised.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y, Execution? execution = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) Elementwise.Map<SigmoidOperator, float>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), execution: execution);
        else TP.Sigmoid(x, y);
    }

    /// <summary>Scalar softplus, stable for any finite x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Softplus<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
        => T.Max(x, T.Zero) + T.LogP1(T.Exp(-T.Abs(x)));

    /// <summary>Scalar logistic sigmoid, stable for any finite x (never exp of a large positive number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sigmoid<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x >= T.Zero) return T.One / (T.One + T.Exp(-x));
        T e = T.Exp(x);
        return e / (T.One + e);
    }
}

/// <summary>Plain loops: the oracles for <see cref="Activations"/> and <see cref="Elementwise"/>.</summary>
public static class ActivationsNaive
{
    /// <summary>y = tanh(y + bias) for every row of y [rows, bias.Length], one element at a time.</summary>
    public static void BiasTanh<T>(Span<T> y, ReadOnlySpan<T> bias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) y[i] = T.Tanh(y[i] + bias[i % bias.Length]);
    }

    /// <summary>y = tanh(x) elementwise, by <c>T.Tanh</c>.</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
    }

    /// <summary>y = exp(x) elementwise, by <c>T.Exp</c>.</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = T.Exp(x[i]);
    }

    /// <summary>y = softplus(x) elementwise, by the scalar <see cref="Activations.Softplus{T}(T)"/>.</summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = Activations.Softplus(x[i]);
    }

    /// <summary>y = sigmoid(x) elementwise, by the scalar <see cref="Activations.Sigmoid{T}(T)"/>.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = Activations.Sigmoid(x[i]);
    }

    /// <summary>Tanh backward from its output y: dx += dy (1 - y^2) elementwise (accumulates into dx).</summary>
    public static void TanhGrad<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) dx[i] += dy[i] * (T.One - y[i] * y[i]);
    }
}
