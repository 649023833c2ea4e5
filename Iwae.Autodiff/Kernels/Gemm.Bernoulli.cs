using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

// The output layer fused with its Bernoulli log-likelihood: l = h W + b is scored a strip at a time (a row tile across
// a column block) while it is still in L1, y_r = sum_j x_rj l_rj - softplus(l_rj), and the logits are either replaced
// by the residual x - sigmoid(l)
// that the backward pass needs, or (evaluation) never written at all. The sums are Bernoulli.LogLikRows's, bit for bit, on
// every path: per row, 16 lanes in memory take the columns left to right, column j into lane j mod 16 (rows are never
// split between threads here, and a row's tiles arrive in column order), and the lanes combine by the canonical tree
// (Lanes16). A strip that starts inside a 16-column group adds its first columns one by one into their lanes.
internal static unsafe partial class GemmDriver
{
    /// <summary>Floats of running state per row: the 16 lanes of its sum.</summary>
    internal const int LikState = Lanes16.Count;

    /// <summary>
    /// y[i] = sum_j x[i mod xRows, j] l_ij - softplus(l_ij) with l = A B + bias (A [m,k], B [k,n]); c [m,n] receives the
    /// residual x - sigmoid(l) when <paramref name="residual"/>, else the logits, or nothing when c is empty (then k must
    /// be at most <see cref="Kc"/>, one k block, so that a tile is final when first computed).
    /// </summary>
    public static void LinearBernoulli(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, ReadOnlySpan<float> x,
        Span<float> y, Span<float> c, int m, int n, int k, bool residual, SimdPath path, Execution? execution)
    {
        if ((m | n | k) < 0) throw new ArgumentOutOfRangeException(nameof(m), $"gemm: negative size {m}x{n}x{k}");
        bool unwritten = c.IsEmpty;
        if (unwritten && (residual || k > Kc)) throw new ArgumentException("linear bernoulli: the residual, or k above one block, needs C");
        if (n == 0)
        {
            // No pixels: every log-likelihood is the empty sum.
            if (bias.Length != 0 || y.Length != m) throw new ArgumentException($"linear bernoulli: bias {bias.Length}, rows {y.Length} do not fit [{m},0]");
            y.Clear();
            return;
        }
        int xRows = x.Length / n;
        if (bias.Length != n || y.Length != m || xRows < 1 || x.Length != xRows * n || m % xRows != 0)
            throw new ArgumentException($"linear bernoulli: bias {bias.Length}, targets {x.Length}, rows {y.Length} do not fit [{m},{n}]");
        Gemm.CheckSizes(a.Length, b.Length, unwritten ? m * n : c.Length, (long)m * k, (long)k * n, (long)m * n);
        if (m == 0) return;
        if (k == 0)
        {
            // No product: every row's logits are the bias.
            var logits = unwritten ? new float[m * n] : c;
            for (int r = 0; r < m; r++) bias.CopyTo(logits.Slice(r * n, n));
            if (residual) Bernoulli.LogLikRowsWithResidual(logits, x, y, logits, n, path, execution);
            else Bernoulli.LogLikRows(logits, x, y, n, path, execution);
            return;
        }
        if (!Simd.IsSupported(path)) path = Simd.Best;
        fixed (float* pa = a, pb = b, pc = c, pbias = bias, px = x, py = y)
        {
            // The strides of Gemm.NN.
            var p = Problem(pa, k, 1, pb, n, 1, pc, m, n, k, accumulate: false) with
            {
                Bias = pbias, LikX = px, LikY = py, LikXRows = xRows, LikResidual = residual, Unwritten = unwritten,
            };
            Dispatch(in p, path, execution);
        }
    }

    /// <summary>
    /// The vector path of the Bernoulli epilogue for the kernel's path. Any path gives the same bits; a kernel other than
    /// these three (a 128-bit one) takes Vector128.
    /// </summary>
    private static SimdPath LikPath<T, TK>() where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
        => typeof(TK) == typeof(Kernel512<T>) ? SimdPath.Vector512 : typeof(TK) == typeof(Kernel256<T>) ? SimdPath.Vector256
            : typeof(TK) == typeof(KernelScalar<T>) || !Vector128.IsHardwareAccelerated ? SimdPath.Scalar : SimdPath.Vector128;

    /// <summary>
    /// Scores the finished logits c [rows, cols] (rows i.., columns j.., stride ldc) into the row states, and with
    /// LikResidual overwrites them with x - sigmoid(l).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BernoulliRows<T, TK>(in GemmProblem<T> p, float* c, nint ldc, int i, int rows, int j, int cols, float* state)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        var path = LikPath<T, TK>();
        int n = p.N;
        int head = Math.Min(cols, (Lanes16.Count - j % Lanes16.Count) % Lanes16.Count);
        int full = (cols - head) / Lanes16.Count * Lanes16.Count;
        bool residual = p.LikResidual;
        int xr0 = i % p.LikXRows;
        for (int r = 0; r < rows; r++)
        {
            int gi = i + r, xi = xr0 + r;
            while (xi >= p.LikXRows) xi -= p.LikXRows;
            float* l = c + r * ldc;
            float* xr = p.LikX + (nint)xi * n + j;
            float* st = state + (nint)gi * LikState;
            float* res = residual ? l : null;
            int v = 0;
            for (; v < head; v++) st[(j + v) % Lanes16.Count] += Bernoulli.Term(l, xr, res, v);
            Bernoulli.Terms(path, l + v, xr + v, residual ? res + v : null, full, st);
            for (v += full; v < cols; v++) st[(j + v) % Lanes16.Count] += Bernoulli.Term(l, xr, res, v);
        }
    }

    /// <summary>y[i] for rows [r0, r1): the lanes combined by the canonical tree.</summary>
    private static void FinishBernoulliRows<T, TK>(in GemmProblem<T> p, int r0, int r1, float* state)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        for (int gi = r0; gi < r1; gi++) p.LikY[gi] = Lanes16.Combine(state + (nint)gi * LikState);
    }
}
