using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// The fused Bernoulli log-likelihood in float32: one pass over the logits per row, forward
/// y_r = sum_j x_rj l_rj - softplus(l_rj), and backward dl_rj += dy_r (x_rj - sigmoid(l_rj)).
/// When a gradient will follow, the forward pass also keeps the residual x - sigmoid(l) (<see cref="LogLikRowsWithResidual"/>):
/// softplus and sigmoid share one exp(-|l|) there, and the backward pass becomes dl = fma(dy, residual, dl)
/// (<see cref="BackwardFromResidual"/>), with the same bits as <see cref="Backward"/>. Each row sums its terms in the
/// canonical order (<see cref="Lanes16"/>), so every path and thread count gives the same bits.
/// <see cref="BernoulliNaive"/> (float64 arithmetic) is the oracle.
/// </summary>
public static class Bernoulli
{
    /// <summary>
    /// y[r] = sum over the row of x l - softplus(l). l: [rows, cols]; y: [rows]; x: [rows, cols], or [b, cols]
    /// with rows a multiple of b, row r then scored against x's row r mod b (k samples stacked sample-major
    /// share their input without a copy). Rows run in parallel on <paramref name="execution"/>'s threads; each row's sum is
    /// the same on any thread count.
    /// </summary>
    public static unsafe void LogLikRows(ReadOnlySpan<float> l, ReadOnlySpan<float> x, Span<float> y, int cols, SimdPath? path = null,
        Execution? execution = null)
    {
        int rows = y.Length, xRows = TargetRows(l, x, rows, cols, l.Length);
        fixed (float* pl = l, px = x, py = y)
            ParallelRange<ForwardBody<No>>.For(new ForwardBody<No>(pl, px, py, null, cols, xRows, path ?? Simd.Best), rows, 1, (long)rows * cols * 4, execution);
    }

    /// <summary>
    /// <see cref="LogLikRows"/>, and residual[r, j] = x[r mod b, j] - sigmoid(l[r, j]) for the backward pass
    /// (<see cref="BackwardFromResidual"/>). y is bit for bit LogLikRows's.
    /// </summary>
    public static unsafe void LogLikRowsWithResidual(ReadOnlySpan<float> l, ReadOnlySpan<float> x, Span<float> y, Span<float> residual, int cols,
        SimdPath? path = null, Execution? execution = null)
    {
        int rows = y.Length, xRows = TargetRows(l, x, rows, cols, residual.Length);
        fixed (float* pl = l, px = x, py = y, pr = residual)
            ParallelRange<ForwardBody<Yes>>.For(new ForwardBody<Yes>(pl, px, py, pr, cols, xRows, path ?? Simd.Best), rows, 1, (long)rows * cols * 8, execution);
    }

    /// <summary>
    /// dl[r, j] += dy[r] residual[r, j]: the same bits as <see cref="Backward"/> on the logits the residual came from.
    /// With <paramref name="overwrite"/>, dl's old contents are ignored and dl = 0 + dy residual, the bits of adding into zeros.
    /// </summary>
    public static void BackwardFromResidual(ReadOnlySpan<float> residual, ReadOnlySpan<float> dy, Span<float> dl, int cols, SimdPath? path = null,
        bool overwrite = false, Execution? execution = null)
    {
        int rows = dy.Length;
        if (cols < 1 || residual.Length < rows * cols || dl.Length < rows * cols) throw new ArgumentException($"bernoulli: spans too short for {rows}x{cols}");
        Elementwise.AxpyRows(dy, residual, dl, cols, negate: false, overwrite, path ?? Simd.Best, execution);
    }

    /// <summary>x's row count: rows itself or a divisor of it; throws on spans that do not match.</summary>
    private static int TargetRows(ReadOnlySpan<float> l, ReadOnlySpan<float> x, int rows, int cols, int need)
    {
        if (cols < 1 || l.Length < rows * cols || need < rows * cols) throw new ArgumentException($"bernoulli: spans too short for {rows}x{cols}");
        int xRows = x.Length / cols;
        if (x.Length % cols != 0 || xRows < 1 || xRows > rows || rows % xRows != 0)
            throw new ArgumentException($"bernoulli: x has {x.Length} values, not [{rows},{cols}] or a block of rows that tiles it");
        return xRows;
    }

    private readonly unsafe struct ForwardBody<TResidual>(float* l, float* x, float* y, float* residual, int cols, int xRows, SimdPath path)
        : IRangeBody where TResidual : IFlag
    {
        public void Run(int start, int end) => LogLikRange<TResidual>(l, x, y, residual, cols, xRows, path, start, end);
    }

    private static unsafe void LogLikRange<TResidual>(float* pl, float* px, float* py, float* pres, int cols, int xRows, SimdPath p, int r0, int r1)
        where TResidual : IFlag
    {
        float* lanes = stackalloc float[Lanes16.Count];
        for (int r = r0; r < r1; r++)
        {
            float* lr = pl + (nint)r * cols;
            float* xr = px + (nint)(r % xRows) * cols;
            float* res = TResidual.On ? pres + (nint)r * cols : null;
            new Span<float>(lanes, Lanes16.Count).Clear();
            int full = cols / Lanes16.Count * Lanes16.Count;
            Terms(p, lr, xr, res, full, lanes);
            for (int j = full; j < cols; j++) lanes[j % Lanes16.Count] += Term(lr, xr, res, j);
            py[r] = Lanes16.Combine(lanes);
        }
    }

    /// <summary>
    /// lanes[j mod 16] += x l - softplus(l) (one fused multiply-add) over columns [0, count) in increasing j, count a
    /// multiple of 16, on the vectors of <paramref name="p"/>; with a residual pointer (which may be l itself), also
    /// residual = x - sigmoid(l) there. The one loop of <see cref="LogLikRows"/> and of the fused output layer
    /// (Gemm.LinearBernoulli), so the two sum alike; every path gives the same lanes, bit for bit (the canonical order,
    /// <see cref="Lanes16"/>).
    /// </summary>
    internal static unsafe void Terms(SimdPath p, float* l, float* x, float* residual, int count, float* lanes)
    {
        if (count <= 0) return;
        if (p == SimdPath.Vector512) Terms512(l, x, residual, count, lanes);
        else if (p == SimdPath.Vector256) Terms256(l, x, residual, count, lanes);
        else if (p == SimdPath.Vector128) Terms128(l, x, residual, count, lanes);
        else TermsScalar(l, x, residual, count, lanes);
    }

    /// <summary>
    /// <see cref="Terms"/> without vectors, staged as the vector forms are (see <see cref="Terms512"/>): the 16
    /// exponentials of a block of columns first, then their terms, one per lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void TermsScalar(float* l, float* x, float* residual, int count, float* lanes)
    {
        float* t = stackalloc float[Lanes16.Count];
        for (int j = 0; j < count; j += Lanes16.Count)
        {
            for (int i = 0; i < Lanes16.Count; i++) t[i] = FastMath.ExpNegAbs(l[j + i]);
            for (int i = 0; i < Lanes16.Count; i++) lanes[i] += Term(l, x, residual, j + i, t[i]);
        }
    }

    /// <summary><see cref="Terms"/> on Vector512: the 16 lanes in one accumulator.</summary>
    /// <remarks>
    /// Each width works on blocks of <see cref="Block"/> vectors in two stages: first t = exp(-|l|) for the whole block,
    /// then the terms and residuals from t. The JIT emits instructions in program order, and one vector's chain
    /// (exp, then log1p with its division, then sigmoid with another: some 55 dependent operations) fills the
    /// core's scheduler by itself; shorter independent chains one after another let it overlap several. Each
    /// vector gets the same operations as one vector at a time and each lane adds its terms in column order, so the
    /// staging changes no bit, and is about a quarter faster (Zen 5; docs/performance.md, Densities). The three widths
    /// are one algorithm; they differ only in how many accumulators hold the 16 lanes.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Terms512(float* l, float* x, float* residual, int count, float* lanes)
    {
        var t = stackalloc Vector512<float>[Block];
        var acc = Vector512.Load(lanes);
        for (int j = 0; j < count; j += Block * 16)
        {
            int vectors = Math.Min(Block, (count - j) / 16);
            for (int i = 0; i < vectors; i++) t[i] = FastMath.ExpNegAbs(Vector512.Load(l + j + 16 * i));
            for (int i = 0; i < vectors; i++) acc += Term512(l, x, residual, j + 16 * i, t[i]);
        }
        acc.Store(lanes);
    }

    /// <summary><see cref="Terms"/> on Vector256: lanes 0-7 and 8-15 in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Terms256(float* l, float* x, float* residual, int count, float* lanes)
    {
        var t = stackalloc Vector256<float>[Block];
        var (acc0, acc1) = (Vector256.Load(lanes), Vector256.Load(lanes + 8));
        for (int j = 0; j < count; j += Block * 8)
        {
            int vectors = Math.Min(Block, (count - j) / 8);
            for (int i = 0; i < vectors; i++) t[i] = FastMath.ExpNegAbs(Vector256.Load(l + j + 8 * i));
            for (int i = 0; i < vectors; i += 2)
            {
                acc0 += Term256(l, x, residual, j + 8 * i, t[i]);
                acc1 += Term256(l, x, residual, j + 8 * i + 8, t[i + 1]);
            }
        }
        acc0.Store(lanes);
        acc1.Store(lanes + 8);
    }

    /// <summary><see cref="Terms"/> on Vector128: lanes 0-3, 4-7, 8-11 and 12-15 in four accumulators.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Terms128(float* l, float* x, float* residual, int count, float* lanes)
    {
        var t = stackalloc Vector128<float>[Block];
        var (acc0, acc1, acc2, acc3) = (Vector128.Load(lanes), Vector128.Load(lanes + 4), Vector128.Load(lanes + 8), Vector128.Load(lanes + 12));
        for (int j = 0; j < count; j += Block * 4)
        {
            int vectors = Math.Min(Block, (count - j) / 4);
            for (int i = 0; i < vectors; i++) t[i] = FastMath.ExpNegAbs(Vector128.Load(l + j + 4 * i));
            for (int i = 0; i < vectors; i += 4)
            {
                acc0 += Term128(l, x, residual, j + 4 * i, t[i]);
                acc1 += Term128(l, x, residual, j + 4 * i + 4, t[i + 1]);
                acc2 += Term128(l, x, residual, j + 4 * i + 8, t[i + 2]);
                acc3 += Term128(l, x, residual, j + 4 * i + 12, t[i + 3]);
            }
        }
        acc0.Store(lanes);
        acc1.Store(lanes + 4);
        acc2.Store(lanes + 8);
        acc3.Store(lanes + 12);
    }

    /// <summary>
    /// Vectors per block of the Terms loops: 8 measured fastest on the Vector512 path with 416-column strips (4 and 16
    /// slower); the narrower paths were not timed separately.
    /// </summary>
    private const int Block = 8;

    /// <summary>The terms x l - softplus(l) of the vector at column j, given t = exp(-|l|), and the residuals x - sigmoid(l).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> Term512(float* l, float* x, float* residual, int j, Vector512<float> t)
    {
        var (lv, xv) = (Vector512.Load(l + j), Vector512.Load(x + j));
        if (residual != null) (xv - FastMath.Sigmoid(lv, t)).Store(residual + j);
        return Fused.MultiplySubtract(xv, lv, FastMath.Softplus(lv, t));
    }

    /// <inheritdoc cref="Term512"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Term256(float* l, float* x, float* residual, int j, Vector256<float> t)
    {
        var (lv, xv) = (Vector256.Load(l + j), Vector256.Load(x + j));
        if (residual != null) (xv - FastMath.Sigmoid(lv, t)).Store(residual + j);
        return Fused.MultiplySubtract(xv, lv, FastMath.Softplus(lv, t));
    }

    /// <inheritdoc cref="Term512"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<float> Term128(float* l, float* x, float* residual, int j, Vector128<float> t)
    {
        var (lv, xv) = (Vector128.Load(l + j), Vector128.Load(x + j));
        if (residual != null) (xv - FastMath.Sigmoid(lv, t)).Store(residual + j);
        return Fused.MultiplySubtract(xv, lv, FastMath.Softplus(lv, t));
    }

    /// <summary>The term x l - softplus(l) at column j, and with a residual pointer residual[j] = x - sigmoid(l).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float Term(float* l, float* x, float* residual, int j) => Term(l, x, residual, j, FastMath.ExpNegAbs(l[j]));

    /// <summary><see cref="Term(float*, float*, float*, int)"/> given t = exp(-|l|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Term(float* l, float* x, float* residual, int j, float t)
    {
        float lj = l[j], xj = x[j];
        if (residual != null) residual[j] = xj - FastMath.Sigmoid(lj, t);
        return Fused.MultiplySubtract(xj, lj, FastMath.Softplus(lj, t));
    }

    /// <summary>dl[r,j] += dy[r] (x[r,j] - sigmoid(l[r,j])), x tiled as in <see cref="LogLikRows"/>; rows in parallel.</summary>
    public static unsafe void Backward(ReadOnlySpan<float> l, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dl, int cols, SimdPath? path = null,
        Execution? execution = null)
    {
        int rows = dy.Length, xRows = TargetRows(l, x, rows, cols, dl.Length);
        fixed (float* pl = l, px = x, pdy = dy, pdl = dl)
            ParallelRange<BackwardBody>.For(new BackwardBody(pl, px, pdy, pdl, cols, xRows, path ?? Simd.Best), rows, 1, (long)rows * cols * 4, execution);
    }

    private readonly unsafe struct BackwardBody(float* l, float* x, float* dy, float* dl, int cols, int xRows, SimdPath path) : IRangeBody
    {
        public void Run(int start, int end) => BackwardRange(l, x, dy, dl, cols, xRows, path, start, end);
    }

    private static unsafe void BackwardRange(float* pl, float* px, float* pdy, float* pdl, int cols, int xRows, SimdPath p, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
        {
            ref float lr = ref *(pl + (nint)r * cols);
            ref float xr = ref *(px + (nint)(r % xRows) * cols);
            ref float dr = ref *(pdl + (nint)r * cols);
            float g = pdy[r];
            int j = 0;
            if (p == SimdPath.Vector512)
            {
                var vg = Vector512.Create(g);
                for (; j <= cols - 16; j += 16)
                {
                    var d = Vector512.LoadUnsafe(ref xr, (nuint)j) - FastMath.Sigmoid(Vector512.LoadUnsafe(ref lr, (nuint)j));
                    Vector512.FusedMultiplyAdd(vg, d, Vector512.LoadUnsafe(ref dr, (nuint)j)).StoreUnsafe(ref dr, (nuint)j);
                }
            }
            if (p >= SimdPath.Vector256)
            {
                var vg = Vector256.Create(g);
                for (; j <= cols - 8; j += 8)
                {
                    var d = Vector256.LoadUnsafe(ref xr, (nuint)j) - FastMath.Sigmoid(Vector256.LoadUnsafe(ref lr, (nuint)j));
                    Vector256.FusedMultiplyAdd(vg, d, Vector256.LoadUnsafe(ref dr, (nuint)j)).StoreUnsafe(ref dr, (nuint)j);
                }
            }
            if (p >= SimdPath.Vector128)
            {
                var vg = Vector128.Create(g);
                for (; j <= cols - 4; j += 4)
                {
                    var d = Vector128.LoadUnsafe(ref xr, (nuint)j) - FastMath.Sigmoid(Vector128.LoadUnsafe(ref lr, (nuint)j));
                    Fused.MultiplyAdd(vg, d, Vector128.LoadUnsafe(ref dr, (nuint)j)).StoreUnsafe(ref dr, (nuint)j);
                }
            }
            for (; j < cols; j++)
            {
                ref float dj = ref Unsafe.Add(ref dr, j);
                dj = Fused.MultiplyAdd(g, Unsafe.Add(ref xr, j) - FastMath.Sigmoid(Unsafe.Add(ref lr, j)), dj);
            }
        }
    }
}

/// <summary>
/// The reference for <see cref="Bernoulli"/>, written once and generic over the element type: plain loops, each row
/// summed one term at a time in column order, with <see cref="Activations"/>' scalar softplus and sigmoid,
///     y[r] = sum_j x l - softplus(l),   dl += dy (x - sigmoid(l)),
/// x [b, cols] tiling the rows as in <see cref="Bernoulli.LogLikRows"/>. The tape runs these for float64 (so the gradient
/// checks test this math); the float overloads, the kernels' oracles, widen to double and run the same loops.
/// </summary>
public static class BernoulliNaive
{
    /// <summary>
    /// y[r] = sum_j x l - softplus(l) over row r. l: [rows, cols]; y: [rows]; x: [b, cols] with row r scored against
    /// x's row r mod b.
    /// </summary>
    public static void LogLikRows<T>(ReadOnlySpan<T> l, ReadOnlySpan<T> x, Span<T> y, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int xRows = cols == 0 ? 1 : x.Length / cols;
        for (int r = 0; r < y.Length; r++)
        {
            T s = T.Zero;
            for (int j = 0; j < cols; j++) s += x[r % xRows * cols + j] * l[r * cols + j] - Activations.Softplus(l[r * cols + j]);
            y[r] = s;
        }
    }

    /// <summary>dl[r, j] += dy[r] (x[r mod b, j] - sigmoid(l[r, j])). l, dl: [rows, cols]; dy: [rows]; x: [b, cols].</summary>
    public static void Backward<T>(ReadOnlySpan<T> l, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dl, int cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int xRows = cols == 0 ? 1 : x.Length / cols;
        for (int r = 0; r < dy.Length; r++)
            for (int j = 0; j < cols; j++) dl[r * cols + j] += dy[r] * (x[r % xRows * cols + j] - Activations.Sigmoid(l[r * cols + j]));
    }

    /// <summary><see cref="LogLikRows{T}"/> of float inputs, summed in double.</summary>
    public static void LogLikRows(ReadOnlySpan<float> l, ReadOnlySpan<float> x, Span<float> y, int cols)
    {
        var yd = new double[y.Length];
        LogLikRows<double>(Float64.Widen(l), Float64.Widen(x), yd, cols);
        Float64.Narrow(yd, y);
    }

    /// <summary>
    /// <see cref="Backward{T}"/> of float inputs: each term dy (x - sigmoid(l)) in double, rounded, then added in float as
    /// the kernels add it. The terms start from -0.0, the one zero that leaves every term as it is (0.0 + -0.0 is +0.0).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> l, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dl, int cols)
    {
        var terms = new double[dy.Length * cols];
        terms.AsSpan().Fill(-0.0);
        Backward<double>(Float64.Widen(l), Float64.Widen(x), Float64.Widen(dy), terms, cols);
        for (int i = 0; i < terms.Length; i++) dl[i] += (float)terms[i];
    }

    /// <summary>y = softplus(x) = max(x, 0) + log1p(exp(-|x|)) elementwise, in double.</summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Activations.Softplus((double)x[i]);
    }

    /// <summary>y = sigmoid(x) = 1 / (1 + exp(-x)) elementwise, in double.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)Activations.Sigmoid((double)x[i]);
    }
}
