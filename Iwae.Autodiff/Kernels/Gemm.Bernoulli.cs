using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

// The output layer fused with its Bernoulli log-likelihood: l = h W + b is scored a strip at a time (a row tile across
// a column block) while it is still in L1, y_r = sum_j x_rj l_rj - softplus(l_rj), and the logits are either replaced
// by the residual x - sigmoid(l)
// that the backward pass needs, or (evaluation) never written at all. The sums are Bernoulli.LogLikRows's, bit for bit:
// per row, the lanes of one vector accumulator take the columns left to right in vector steps (rows are never split
// between threads here, and a row's tiles arrive in column order), the lanes are summed as Vector512.Sum does, and the
// last columns that do not fill a vector are added one by one after it.
internal static unsafe partial class GemmDriver
{
    /// <summary>
    /// Floats of running state per row: one vector accumulator (16 lanes at most) and the terms of the last columns
    /// that do not fill a vector (fewer than 16), added after the lanes are summed.
    /// </summary>
    internal const int LikState = 32;

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

    /// <summary>The lanes of the Bernoulli epilogue on the kernel's path: 16, 8, or 1 (scalar, a plain running sum).</summary>
    private static int LikLanes<T, TK>() where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
        => typeof(TK) == typeof(Kernel512<T>) ? Vector512<float>.Count : typeof(TK) == typeof(Kernel256<T>) ? Vector256<float>.Count : 1;

    /// <summary>
    /// Scores the finished logits c [rows, cols] (rows i.., columns j.., stride ldc) into the row states, and with
    /// LikResidual overwrites them with x - sigmoid(l). Column blocks start at multiples of the panel width, so the vector
    /// steps line up with Bernoulli.LogLikRows's; the state of a row is loaded once per call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BernoulliRows<T, TK>(in GemmProblem<T> p, float* c, nint ldc, int i, int rows, int j, int cols, float* state)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        int lanes = LikLanes<T, TK>(), n = p.N;
        int vecEnd = lanes == 1 ? 0 : n / lanes * lanes;
        int vend = Math.Min(cols, vecEnd - j);
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
            int v = Math.Max(vend, 0);
            if (lanes == Vector512<float>.Count) Bernoulli.Terms512(l, xr, res, v, Vector512.Load(st)).Store(st);
            else if (lanes == Vector256<float>.Count) Bernoulli.Terms256(l, xr, res, v, Vector256.Load(st)).Store(st);
            else v = 0;
            for (; v < cols; v++)
            {
                float term = Bernoulli.Term(l, xr, res, v);
                if (lanes == 1) st[0] += term;
                else st[Vector512<float>.Count + j + v - vecEnd] = term;
            }
        }
    }

    /// <summary>y[i] for rows [r0, r1): the lanes summed, then the last columns' terms added in order.</summary>
    private static void FinishBernoulliRows<T, TK>(in GemmProblem<T> p, int r0, int r1, float* state)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        int lanes = LikLanes<T, TK>(), tail = lanes == 1 ? 0 : p.N % lanes;
        for (int gi = r0; gi < r1; gi++)
        {
            float* st = state + (nint)gi * LikState;
            float sum = lanes == Vector512<float>.Count ? Vector512.Sum(Vector512.Load(st))
                : lanes == Vector256<float>.Count ? Vector256.Sum(Vector256.Load(st)) : st[0];
            for (int t = 0; t < tail; t++) sum += st[Vector512<float>.Count + t];
            p.LikY[gi] = sum;
        }
    }
}
