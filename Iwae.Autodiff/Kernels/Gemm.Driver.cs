using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// One GEMM call, with every form written as strides: op(A)(i, q) = A[i*RsA + q*CsA],
/// op(B)(q, j) = B[q*RsB + j*CsB], C(i, j) = C[i*Ldc + j]. NN, NT and TN differ only in these.
/// </summary>
internal unsafe struct GemmProblem<T> where T : unmanaged
{
    public T* A, B, C;
    public nint RsA, CsA, RsB, CsB, Ldc;
    public int M, N, K;
    public bool Accumulate;

    /// <summary>Linear-layer epilogue: with a bias [N], C starts as the bias in every row instead of zero.</summary>
    public T* Bias;

    /// <summary>Linear-layer epilogue: C = tanh(C) once its last k block is in, while the tile is still in L1.</summary>
    public bool Tanh;

    /// <summary>
    /// A layer's bias gradient beside its weight gradient (TN, B = dY): with ColSums [N] set, ColSums[j] += op(B)(q, j)
    /// for q in order, read from B's panels while they are in cache.
    /// </summary>
    public T* ColSums;

    /// <summary>
    /// Bernoulli epilogue (float only; see GemmDriver.LinearBernoulli): with LikY set, each finished strip of logits (a
    /// row tile across a column block) is scored against the targets LikX [LikXRows, N] (row i against row i mod
    /// LikXRows) into LikY [M].
    /// </summary>
    public float* LikX, LikY;
    public int LikXRows;

    /// <summary>Bernoulli epilogue: overwrite each strip of logits with the residual x - sigmoid(l).</summary>
    public bool LikResidual;

    /// <summary>Bernoulli epilogue: C is not written at all; each strip lives in scratch until it is scored.</summary>
    public bool Unwritten;
}

/// <summary>
/// Goto/BLIS-style blocking around an <see cref="IGemmKernel{T}"/>: k is cut into nearly equal blocks of
/// at most <see cref="Kc"/>, and every block after the first loads C into the registers and carries on its chain, so
/// every element is s = fma(op(A)(i,q), op(B)(q,j), s) for q = 0..k-1 in order, starting from C (accumulate), the bias
/// (Linear) or 0, whatever the blocking, the tile, the thread split or the SIMD path (the canonical order of issue 26);
/// for tall C, B is packed per (k block, column block) into contiguous panels sized for L2, while for
/// short C (<see cref="DirectRows"/>) NN and TN read B in place; A is always read in place (its
/// 8 x kc micro-panel stays in L1 while a tile row sweeps the panels), so no form pays for packing A.
/// Threads take disjoint blocks of rows or columns of C.
/// </summary>
internal static unsafe partial class GemmDriver
{
    /// <summary>
    /// Largest k block. Each block costs a pass over C, so fewer is better while the 8 x kc A micro-panel
    /// (12.5 KB at 400 floats) still sits in the 32 KB L1; a k = 784 layer runs as two blocks of 392.
    /// </summary>
    internal const int Kc = 400;

    /// <summary>Bytes of packed B a thread keeps hot: half of Zen 4's 1 MB L2, the rest for A and C.</summary>
    internal const int PackedBytes = 512 * 1024;

    /// <summary>
    /// Below this many multiply-adds the caller runs alone: handing a share to a worker would cost about as much
    /// as the share itself. The threshold sits low enough that the k = 1 step's 20 x 200 x 50 layers still run on
    /// two threads, where they gain (measured figures: docs/performance.md, "What was tried").
    /// </summary>
    internal const long ParallelMinFma = 64 * 1024;

    /// <summary>
    /// With at most this many rows per thread each B element is used too few times to repay packing it,
    /// and the kernel reads B in place (NN and TN, whose B rows are contiguous). The gain shrinks as the rows grow
    /// and turns into a loss for tall C, where packing pays for itself; packing also keeps power-of-two row
    /// strides of B from thrashing cache sets, so it stays the default for tall C. The output layer's weight gradient
    /// (TN, 100-row shares on two threads, B = dY of 1000 x 784) runs faster packed, which set the limit at 64
    /// (measured figures: docs/performance.md, "What was tried").
    /// </summary>
    internal const int DirectRows = 64;

    public static void Run<T>(ReadOnlySpan<T> a, nint rsA, nint csA, ReadOnlySpan<T> b, nint rsB, nint csB, Span<T> c,
        int m, int n, int k, bool accumulate, SimdPath path, Execution? execution, ReadOnlySpan<T> bias = default, bool tanh = false,
        Span<T> colSums = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if ((m | n | k) < 0) throw new ArgumentOutOfRangeException(nameof(m), $"gemm: negative size {m}x{n}x{k}");
        if (!colSums.IsEmpty && m == 0 && n > 0 && k > 0)
        {
            // No product to ride on: the sums alone (B is [k,n] row-major whenever sums are asked for).
            Elementwise.SumRowsInto<T>(b[..(k * n)], colSums[..n], execution);
            return;
        }
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) c[..(m * n)].Clear();
            for (int r = 0; r < m && !bias.IsEmpty; r++) bias.CopyTo(c.Slice(r * n, n));
            if (tanh) Activations.Tanh<T>(c[..(m * n)], c[..(m * n)], execution);
            return;
        }
        if (!Simd.IsSupported(path)) path = Simd.Best;
        fixed (T* pa = a, pb = b, pc = c, pbias = bias, psum = colSums)
        {
            var p = Problem(pa, rsA, csA, pb, rsB, csB, pc, m, n, k, accumulate) with
            {
                Bias = bias.IsEmpty ? null : pbias,
                ColSums = colSums.IsEmpty ? null : psum,
                // Float tanh is applied tile by tile. Double (gradient checks) takes TensorPrimitives' tanh over all of C
                // afterwards: its vector and scalar forms differ in the last bit, so only the whole-matrix call is exact.
                Tanh = tanh && typeof(T) == typeof(float),
            };
            Dispatch(in p, path, execution);
        }
        if (tanh && typeof(T) != typeof(float)) Activations.Tanh<T>(c[..(m * n)], c[..(m * n)], execution);
    }

    /// <summary>
    /// At most this many rows, a dense layer's two backward GEMMs (dX and dW, each rows x in x out) run side by side, one
    /// whole GEMM per thread, rather than one after the other with each cut in two: a short C leaves little to share
    /// (row shares of a few tiles, a hand-off and a wait per GEMM), while the two products are independent and of the
    /// same size. Either way each GEMM computes the same bits.
    /// </summary>
    internal const int PairRows = 256;

    /// <summary>
    /// A dense layer's backward GEMMs: dx [rows,in] (+)= dz [rows,out] w [in,out]^T (NT; skipped when dx is empty) and
    /// dw [in,out] += x [rows,in]^T dz (TN; skipped when dw is empty) with db [out] += dz's column sums (when given).
    /// </summary>
    public static void LinearBackward<T>(ReadOnlySpan<T> dz, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> dx, Span<T> dw, Span<T> db,
        int rows, int inF, int outF, bool dxAccumulate, SimdPath path, Execution? execution) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = execution ?? Execution.Serial;
        bool pair = !dx.IsEmpty && !dw.IsEmpty && e.Threads >= 2 && rows <= PairRows && rows > 0 && inF > 0 && outF > 0
            && (long)rows * inF * outF >= ParallelMinFma;
        if (!pair)
        {
            if (!dx.IsEmpty) Gemm.NT(dz, w, dx, rows, inF, outF, dxAccumulate, path, e);
            if (!dw.IsEmpty) Gemm.TN(x, dz, dw, inF, outF, rows, accumulate: true, path, columnSums: db, execution: e);
            else if (!db.IsEmpty) Elementwise.SumRowsInto<T>(dz[..(rows * outF)], db, e);
            return;
        }
        Gemm.CheckNT(dz.Length, w.Length, dx.Length, rows, inF, outF);
        Gemm.CheckTN(x.Length, dz.Length, dw.Length, db.Length, inF, outF, rows);
        if (!Simd.IsSupported(path)) path = Simd.Best;
        fixed (T* pdz = dz, px = x, pw = w, pdx = dx, pdw = dw, pdb = db)
        {
            // The strides of Gemm.NT and Gemm.TN.
            var workspace = e.RentWorkspace();
            var work = workspace.Job<GemmPair<T>>();
            work.First = Problem(pdz, outF, 1, pw, 1, outF, pdx, rows, inF, outF, dxAccumulate);
            work.Second = Problem(px, 1, inF, pdz, outF, 1, pdw, inF, outF, rows, accumulate: true) with { ColSums = db.IsEmpty ? null : pdb };
            work.Path = path;
            try { e.Run(work, 2, workspace); }
            finally
            {
                work.First = work.Second = default;
                e.ReturnWorkspace(workspace);
            }
        }
    }

    /// <summary>C [m,n] (+)= op(A) [m,k] op(B) [k,n] with op(A)(i, q) = a[i*rsA + q*csA], op(B)(q, j) = b[q*rsB + j*csB].</summary>
    internal static GemmProblem<T> Problem<T>(T* a, nint rsA, nint csA, T* b, nint rsB, nint csB, T* c, int m, int n, int k, bool accumulate)
        where T : unmanaged
        => new() { A = a, B = b, C = c, RsA = rsA, CsA = csA, RsB = rsB, CsB = csB, Ldc = n, M = m, N = n, K = k, Accumulate = accumulate };

    /// <summary>Runs a problem on the caller alone, or cut into shares on the execution's workers.</summary>
    private static void Dispatch<T>(in GemmProblem<T> p, SimdPath path, Execution? execution) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = execution ?? Execution.Serial;
        var workspace = e.RentWorkspace();
        try
        {
            if (e.Threads <= 1 || (long)p.M * p.N * p.K < ParallelMinFma) Solve(in p, path, 0, p.M, 0, p.N, 0, p.N, workspace);
            else
            {
                var work = workspace.Job<GemmWork<T>>();
                work.Set(in p, path, e.Threads);
                try { e.Run(work, work.Parts, workspace); }
                finally { work.Clear(); }
            }
        }
        finally { e.ReturnWorkspace(workspace); }
    }

    /// <summary>
    /// Computes the block rows [r0, r1) x columns [c0, c1) of C on the kernel for <paramref name="path"/>, and the column
    /// sums of B (when asked for) in columns [s0, s1), with the calling thread's <paramref name="workspace"/> as scratch.
    /// </summary>
    public static void Solve<T>(in GemmProblem<T> p, SimdPath path, int r0, int r1, int c0, int c1, int s0, int s1, Workspace workspace)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (path)
        {
            case SimdPath.Vector512: Solve<T, Kernel512<T>>(in p, r0, r1, c0, c1, s0, s1, workspace); break;
            case SimdPath.Vector256: Solve<T, Kernel256<T>>(in p, r0, r1, c0, c1, s0, s1, workspace); break;
            case SimdPath.Vector128 when Kernel128Arm64<T>.Chosen: Solve<T, Kernel128Arm64<T>>(in p, r0, r1, c0, c1, s0, s1, workspace); break;
            case SimdPath.Vector128: Solve<T, Kernel128<T>>(in p, r0, r1, c0, c1, s0, s1, workspace); break;
            default: Solve<T, KernelScalar<T>>(in p, r0, r1, c0, c1, s0, s1, workspace); break;
        }
    }

    /// <summary>Rows and columns of C one share of the work is cut in: half tiles, the smallest kernel variant.</summary>
    public static (int Rows, int Cols) Units<T>(SimdPath path) where T : unmanaged, IFloatingPointIeee754<T> => path switch
    {
        SimdPath.Vector512 => (Kernel512<T>.MR / 2, Kernel512<T>.NR / 2),
        SimdPath.Vector256 => (Kernel256<T>.MR / 2, Kernel256<T>.NR / 2),
        SimdPath.Vector128 when Kernel128Arm64<T>.Chosen => (Kernel128Arm64<T>.MR / 2, Kernel128Arm64<T>.NR / 2),
        SimdPath.Vector128 => (Kernel128<T>.MR / 2, Kernel128<T>.NR / 2),
        _ => (KernelScalar<T>.MR / 2, KernelScalar<T>.NR / 2),
    };

    // The driver loops run once per call for milliseconds: tier-0 code here (no inlining of RowTile, slow
    // packing loops) would cost more than the kernels until tiering catches up, so compile it fully at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Solve<T, TK>(in GemmProblem<T> p, int r0, int r1, int c0, int c1, int s0, int s1, Workspace workspace)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        if (r0 >= r1 || c0 >= c1) return;
        int mr = TK.MR, nr = TK.NR, hr = mr / 2;
        int k = p.K;
        int kBlocks = (k + Kc - 1) / Kc;
        int kcMax = (k + kBlocks - 1) / kBlocks;
        int cols = c1 - c0;
        int ncMax = Math.Max(nr, PackedBytes / (kcMax * sizeof(T)) / nr * nr);
        int nBlocks = (cols + ncMax - 1) / ncMax;
        int nc = RoundUp((cols + nBlocks - 1) / nBlocks, nr);
        bool direct = p.CsB == 1 && r1 - r0 <= DirectRows;

        // One scratch block per thread (its workspace's): packed B (or, reading B in place, just the edge panel), the
        // zero-padded A rows of the bottom edge, TN's copied k block of A, and a tile for partial edges.
        // Sized by the whole problem, not this share: shares land on threads in any order, and a thread
        // must not meet a bigger need (and allocate) just because it drew another share this time.
        int tileLen = RoundUp(mr * nr, 16), aPadLen = RoundUp(kcMax * hr, 16);
        // Transposed A (TN: rsA = 1): a micro-panel's kc steps lie on kc cache lines, too many to stay in L1 beside the B
        // panel, so each k block of A is copied once, reading A's rows in order, into one [kc][mr] micro-panel per row
        // tile, which then serves every panel of every column block from L1 (the k blocks are the outer loop for this).
        bool packA = !direct && p.RsA == 1 && p.CsA != 1;
        int aPanelLen = packA ? RoundUp(RoundUp(p.M, mr) * kcMax, 16) : 0;
        int packCols = Math.Min(ncMax, RoundUp(p.N, nr));
        bool scored = p.LikY != null;
        // The Bernoulli epilogue's running row sums (rows are never split between threads for it, so each share owns
        // the state of its rows) and, when C is not written, the strip of logits it scores: a row tile across the
        // column block, or with B read in place every row of the share.
        nint stripLd = RoundUp(packCols, 16);
        int stripLen = p.Unwritten ? (int)stripLd * (direct ? DirectRows : mr) : 0, stateLen = scored ? p.M * LikState : 0;
        T* tile = workspace.Scratch<T>(tileLen + aPadLen + aPanelLen + kcMax * packCols + stripLen + stateLen);
        T* aPad = tile + tileLen;
        T* aPanel = packA ? aPad + aPadLen : null;
        T* packed = aPad + aPadLen + aPanelLen;
        T* strip = packed + kcMax * packCols;
        float* state = (float*)(strip + stripLen);
        if (scored) new Span<float>(state + (nint)r0 * LikState, (r1 - r0) * LikState).Clear();
        nint ldc = p.Unwritten ? stripLd : p.Ldc;

        // k blocks outside column blocks: a row's chains, its column sums and its Bernoulli row sum all still run in
        // increasing k and column order, which is all the bits depend on.
        for (int kb = 0; kb < kBlocks; kb++)
        {
            int q0 = (int)((long)kb * k / kBlocks), kc = (int)((long)(kb + 1) * k / kBlocks) - q0;
            bool load = p.Accumulate || kb > 0, last = kb == kBlocks - 1;
            // Rows past the end of A do not exist, so the last 1..MR/2-1 rows (after the full and half
            // tiles) are copied next to zeros, once per k block. The padding only feeds lanes that are
            // thrown away: the kept ones see the same chain.
            int tail = (r1 - r0) % mr % hr;
            if (tail > 0) PackTailRows(in p, r1 - tail, tail, q0, kc, aPad, hr);
            if (packA) PackRowPanels(in p, r0, r1 - tail, q0, kc, aPanel, mr);
            for (int jc = c0; jc < c1; jc += nc)
            {
                int ncb = Math.Min(nc, c1 - jc);
                if (direct)
                {
                    // Panel-major: a B panel read from memory once serves every row tile from cache.
                    for (int jj = 0; jj < ncb;)
                    {
                        int w = PanelWidth<T, TK>(ncb - jj), valid = Math.Min(w, ncb - jj);
                        T* bp;
                        nint ldb;
                        if (valid == w) { bp = p.B + q0 * p.RsB + (jc + jj); ldb = p.RsB; }
                        else { PackPanel(in p, q0, kc, jc + jj, valid, w, packed); bp = packed; ldb = w; }
                        for (int i = r0; i < r1;)
                        {
                            T* cp = p.Unwritten ? strip + (i - r0) * stripLd + jj : p.C + i * p.Ldc + jc + jj;
                            i += RowTile<T, TK>(in p, i, r1, q0, kc, bp, ldb, w, valid, jc + jj, load, last, aPad, null, tile, cp, ldc);
                        }
                        if (p.ColSums != null) AddColumnSums(p.ColSums, bp, ldb, kc, jc + jj, valid, s0, s1);
                        jj += w;
                    }
                    if (last && scored)
                        BernoulliRows<T, TK>(in p, (float*)(p.Unwritten ? strip : p.C + r0 * p.Ldc + jc), ldc, r0, r1 - r0, jc, ncb, state);
                }
                else
                {
                    PackB<T, TK>(in p, q0, kc, jc, ncb, packed);
                    for (int jj = 0; jj < ncb && p.ColSums != null;)
                    {
                        int w = PanelWidth<T, TK>(ncb - jj);
                        AddColumnSums(p.ColSums, packed + (nint)kc * jj, w, kc, jc + jj, Math.Min(w, ncb - jj), s0, s1);
                        jj += w;
                    }
                    // Row-major over tiles: the A micro-panel stays in L1 while the packed B block streams from L2.
                    for (int i = r0; i < r1;)
                    {
                        int step = TileRows<T, TK>(r1 - i);
                        T* ci = p.Unwritten ? strip : p.C + i * p.Ldc + jc;
                        T* ap = packA ? aPanel + (nint)((i - r0) / mr) * kc * mr : null;
                        int jj = 0;
                        if (step == mr || step == hr)
                        {
                            // The full-width panels in a loop of their own: the calls RowTile would make, one by one.
                            int panels = ncb / nr;
                            T* a = MicroPanel<T, TK>(in p, i, q0, ap, out nint rsA, out nint csA);
                            T* init = StartValues(in p, load, ci, ldc, jc, out nint ldi);
                            SweepPanels<T, TK>(step, a, rsA, csA, packed, kc, panels, ci, ldc, init, ldi, last && p.Tanh);
                            jj = panels * nr;
                        }
                        for (; jj < ncb;)
                        {
                            int w = PanelWidth<T, TK>(ncb - jj), valid = Math.Min(w, ncb - jj);
                            RowTile<T, TK>(in p, i, r1, q0, kc, packed + (nint)kc * jj, w, w, valid, jc + jj, load, last, aPad, ap, tile, ci + jj, ldc);
                            jj += w;
                        }
                        // The row tile's strip across the block, still in L1, is scored in one sweep per row.
                        if (last && scored) BernoulliRows<T, TK>(in p, (float*)ci, ldc, i, step, jc, ncb, state);
                        i += step;
                    }
                }
            }
        }
        if (scored) FinishBernoulliRows<T, TK>(in p, r0, r1, state);
    }

    /// <summary>
    /// sums[j] += panel(q, j - j0) for q in order, over the panel's columns [j0, j0 + valid) that fall in [s0, s1): the
    /// element-wise adds of <see cref="Elementwise.SumRowsInto{T}"/>, row after row, so the same bits. Each column is its
    /// own chain in q order from the sum it held, so the vector width (taken from the hardware, not the path) never
    /// changes a bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddColumnSums<T>(T* sums, T* panel, nint ld, int kc, int j0, int valid, int s0, int s1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lo = Math.Max(j0, s0), hi = Math.Min(j0 + valid, s1);
        if (lo >= hi) return;
        T* dst = sums + lo;
        T* src = panel + (lo - j0);
        int n = hi - lo;
        for (int q = 0; q < kc; q++, src += ld)
        {
            int v = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; v <= n - Vector512<T>.Count; v += Vector512<T>.Count) (Vector512.Load(src + v) + Vector512.Load(dst + v)).Store(dst + v);
            if (Vector256.IsHardwareAccelerated)
                for (; v <= n - Vector256<T>.Count; v += Vector256<T>.Count) (Vector256.Load(src + v) + Vector256.Load(dst + v)).Store(dst + v);
            if (Vector128.IsHardwareAccelerated)
                for (; v <= n - Vector128<T>.Count; v += Vector128<T>.Count) (Vector128.Load(src + v) + Vector128.Load(dst + v)).Store(dst + v);
            for (; v < n; v++) dst[v] = src[v] + dst[v];
        }
    }

    /// <summary>
    /// One row tile (<paramref name="rows"/> = MR, or MR/2 read in place) across <paramref name="panels"/> full-width
    /// packed panels: per panel, the call <see cref="RowTile{T, TK}"/> makes (the start values at init, advancing with
    /// the panel, C at c), then, when asked, tanh over the whole strip (rows x panels * NR, still in L1): one long loop per
    /// row keeps more independent tanh chains in flight than 16 values after each tile (Linear + tanh 1000 x 200 x 200
    /// and 1000 x 50 x 200, Zen 3: 0.965-0.982 of the time, paired windows). A method of its own, kept out of
    /// <see cref="Solve{T, TK}"/>: there the per-tile set-up runs through the stack (the JIT spills that method's many
    /// live values), here its few stay in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SweepPanels<T, TK>(int rows, T* a, nint rsA, nint csA, T* b, int kc, int panels, T* c, nint ldc,
        T* init, nint ldi, bool tanh)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        bool fullRows = rows == TK.MR;
        int nr = TK.NR;
        nint panel = (nint)kc * nr;
        T* strip = c;
        for (int q = 0; q < panels; q++, b += panel, c += nr)
        {
            TK.Tile(fullRows, nr, a, rsA, csA, b, nr, kc, c, ldc, init, ldi);
            if (init != null) init += nr;
        }
        if (tanh) TanhRows<T, TK>(strip, ldc, rows, panels * nr);
    }

    /// <summary>A full panel, or for the last one the narrowest variant that holds what is left (padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PanelWidth<T, TK>(int left) where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        int w = TK.NR;
        while (w > TK.MinNR && left <= w / 2) w /= 2;
        return w;
    }

    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;

    /// <summary>
    /// Runs the tile at rows [i, ...) x one B panel, C's part of it at cp (stride ldc), and returns how many rows it covered: a full tile, a half
    /// tile, or the last 1..MR/2-1 rows through the zero-padded copy in aPad and the scratch tile. The linear
    /// epilogue happens here too: the first k block's sums start from the bias row (the chain of adding into a
    /// broadcast bias, without writing it into C first), and tanh is applied after the last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RowTile<T, TK>(in GemmProblem<T> p, int i, int r1, int q0, int kc, T* bp, nint ldb, int w, int valid,
        int j, bool load, bool last, T* aPad, T* aPanel, T* tile, T* cp, nint ldc)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        int rows = TileRows<T, TK>(r1 - i);
        bool fullRows = rows == TK.MR;
        T* init = StartValues(in p, load, cp, ldc, j, out nint ldi);
        TileProduct<T, TK>(in p, i, q0, kc, bp, ldb, w, valid, init, ldi, aPad, aPanel, tile, cp, ldc, fullRows, rows);
        if (last && p.Tanh) TanhRows<T, TK>(cp, ldc, rows, valid);
        return rows;
    }

    /// <summary>Rows of the tile at a row with <paramref name="left"/> rows below it: MR, MR/2, or the last 1..MR/2-1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TileRows<T, TK>(int left) where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
        => left >= TK.MR ? TK.MR : Math.Min(left, TK.MR / 2);

    /// <summary>The micro-panel of A for the row tile at row i, k block from q0: the copy (aPanel, [kc][MR]) or A in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* MicroPanel<T, TK>(in GemmProblem<T> p, int i, int q0, T* aPanel, out nint rsA, out nint csA)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        (rsA, csA) = aPanel != null ? (1, TK.MR) : (p.RsA, p.CsA);
        return aPanel != null ? aPanel : p.A + i * p.RsA + q0 * p.CsA;
    }

    /// <summary>
    /// Where the sums of the tile at C's column j start: C itself at cp (a later k block, or accumulating), the bias row
    /// broadcast down the tile (row stride 0), or 0 (null).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* StartValues<T>(in GemmProblem<T> p, bool load, T* cp, nint ldc, int j, out nint ldi) where T : unmanaged
    {
        ldi = load ? ldc : 0;
        return load ? cp : p.Bias != null ? p.Bias + j : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileProduct<T, TK>(in GemmProblem<T> p, int i, int q0, int kc, T* bp, nint ldb, int w, int valid,
        T* init, nint ldi, T* aPad, T* aPanel, T* tile, T* cp, nint ldc, bool fullRows, int rows)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        int hr = TK.MR / 2;
        if (rows == hr || fullRows)
        {
            T* ap = MicroPanel<T, TK>(in p, i, q0, aPanel, out nint rsA, out nint csA);
            if (valid == w) TK.Tile(fullRows, w, ap, rsA, csA, bp, ldb, kc, cp, ldc, init, ldi);
            else EdgeTile<T, TK>(fullRows, w, ap, rsA, csA, bp, ldb, kc, cp, ldc, rows, valid, init, ldi, tile);
        }
        else
        {
            EdgeTile<T, TK>(false, w, aPad, 1, hr, bp, ldb, kc, cp, ldc, rows, valid, init, ldi, tile);
        }
    }

    /// <summary>
    /// c = tanh(c) on rows x cols at stride ldc for float, with the vector width of the kernel's path, on
    /// <see cref="FastMath.Tanh(float)"/>: its scalar and vector forms agree bit for bit, so this matches
    /// <see cref="Activations.Tanh{T}"/> over the whole matrix.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TanhRows<T, TK>(T* c, nint ldc, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        for (int r = 0; r < rows; r++)
        {
            float* x = (float*)(c + r * ldc);
            int v = 0;
            if (typeof(TK) == typeof(Kernel512<T>))
                for (; v <= cols - Vector512<float>.Count; v += Vector512<float>.Count) FastMath.Tanh(Vector512.Load(x + v)).Store(x + v);
            if (typeof(TK) == typeof(Kernel256<T>))
                for (; v <= cols - Vector256<float>.Count; v += Vector256<float>.Count) FastMath.Tanh(Vector256.Load(x + v)).Store(x + v);
            if (typeof(TK) == typeof(Kernel128<T>) || typeof(TK) == typeof(Kernel128Arm64<T>))
                for (; v <= cols - Vector128<float>.Count; v += Vector128<float>.Count) FastMath.Tanh(Vector128.Load(x + v)).Store(x + v);
            for (; v < cols; v++) x[v] = FastMath.Tanh(x[v]);
        }
    }

    /// <summary>
    /// For A with unit row stride (TN): the k block [q0, q0 + kc) of rows [r0, r1) as one [kc][mr] micro-panel per row
    /// tile, dst[t*kc*mr + q*mr + v] = op(A)(r0 + t*mr + v, q0 + q), reading each of A's rows (op(A)'s columns) in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowPanels<T>(in GemmProblem<T> p, int r0, int r1, int q0, int kc, T* dst, int mr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Rows [r0, r1) are whole tiles and at most one half tile; the half tile's panel keeps the stride mr.
        nint panel = (nint)kc * mr;
        T* src = p.A + r0 + q0 * p.CsA;
        for (int q = 0; q < kc; q++, src += p.CsA)
        {
            T* d = dst + q * mr;
            int r = 0;
            for (; r + mr <= r1 - r0; r += mr, d += panel)
                for (int v = 0; v < mr; v++) d[v] = src[r + v];
            for (int v = 0; r + v < r1 - r0; v++) d[v] = src[r + v];
        }
    }

    /// <summary>dst[q*hr + r] = op(A)(i + r, q0 + q) for r &lt; rows, zero for rows &lt;= r &lt; hr.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTailRows<T>(in GemmProblem<T> p, int i, int rows, int q0, int kc, T* dst, int hr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int q = 0; q < kc; q++)
        {
            T* src = p.A + i * p.RsA + (q0 + q) * p.CsA;
            int r = 0;
            for (; r < rows; r++) dst[q * hr + r] = src[r * p.RsA];
            for (; r < hr; r++) dst[q * hr + r] = T.Zero;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EdgeTile<T, TK>(bool fullRows, int w, T* a, nint rsA, nint csA, T* b, nint ldb, int kc,
        T* c, nint ldc, int rows, int cols, T* init, nint ldi, T* tile)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        // The start values (C or the bias) are copied in as far as they exist; the lanes outside rows x cols hold
        // whatever the scratch held, and lanes never mix, so they cannot reach the ones copied out.
        // Plain loops: a memmove call per row of a few elements would cost more than the copy.
        int nr = TK.NR;
        if (init != null)
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < cols; v++) tile[r * nr + v] = init[r * ldi + v];
        TK.Tile(fullRows, w, a, rsA, csA, b, ldb, kc, tile, nr, init != null ? tile : null, nr);
        for (int r = 0; r < rows; r++)
            for (int v = 0; v < cols; v++) c[r * ldc + v] = tile[r * nr + v];
    }

    /// <summary>Packs op(B)[q0.., j0..] (kc x ncb) into panels of width NR (the last maybe narrower), zero-padded.</summary>
    private static void PackB<T, TK>(in GemmProblem<T> p, int q0, int kc, int j0, int ncb, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        if (p.CsB == 1)
        {
            // B's rows are contiguous: read each row of the block once, in order, and deal it out to the panels (one
            // pass over B instead of one strided pass per panel).
            // The full-width panels take a fixed-size copy with no width to work out per row: with the
            // output layer's 784 columns that is 49 calls' worth of bookkeeping per row of B saved.
            int nr = TK.NR, full = ncb / nr * nr;
            nint panel = (nint)kc * nr;
            T* src = p.B + q0 * p.RsB + j0;
            for (int q = 0; q < kc; q++, src += p.RsB)
            {
                T* d = dst + q * nr;
                for (int jj = 0; jj < full; jj += nr, d += panel) CopyRow(src + jj, d, nr);
                for (int jj = full; jj < ncb;)
                {
                    int w = PanelWidth<T, TK>(ncb - jj), valid = Math.Min(w, ncb - jj);
                    CopyPadded(src + jj, dst + (nint)kc * jj + q * w, valid, w);
                    jj += w;
                }
            }
            return;
        }
        for (int jj = 0; jj < ncb;)
        {
            int w = PanelWidth<T, TK>(ncb - jj), valid = Math.Min(w, ncb - jj);
            PackPanel(in p, q0, kc, j0 + jj, valid, w, dst + (nint)kc * jj);
            jj += w;
        }
    }

    /// <summary>dst[q*w + v] = op(B)(q0 + q, j + v) for v &lt; valid, zero up to w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel<T>(in GemmProblem<T> p, int q0, int kc, int j, int valid, int w, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p.CsB == 1)
        {
            T* src = p.B + q0 * p.RsB + j;
            for (int q = 0; q < kc; q++, src += p.RsB, dst += w) CopyPadded(src, dst, valid, w);
        }
        else
        {
            // NT: op(B) rows are B's columns, so the panel is a transpose of a block of B.
            if (valid < w)
                for (int q = 0; q < kc; q++) new Span<T>(dst + q * w + valid, w - valid).Clear();
            T* src = p.B + j * p.CsB + q0 * p.RsB;
            int v = 0;
            if (typeof(T) == typeof(float) && Avx.IsSupported && p.RsB == 1)
                for (; v + 8 <= valid; v += 8) Transpose8Rows((float*)src + v * p.CsB, p.CsB, kc, (float*)dst + v, w);
            for (; v < valid; v++)
            {
                T* sv = src + v * p.CsB;
                for (int q = 0; q < kc; q++) dst[q * w + v] = sv[q * p.RsB];
            }
        }
    }

    /// <summary>
    /// dst[q*ldd + v] = src[v*lds + q] for v &lt; 8, q &lt; kc: 8 x 8 blocks transposed in registers (8 loads,
    /// 24 shuffles, 8 stores) instead of 64 scalar moves that each touch a different cache line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8Rows(float* src, nint lds, int kc, float* dst, nint ldd)
    {
        int q = 0;
        for (; q + 8 <= kc; q += 8)
        {
            float* s = src + q;
            var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + lds);
            var r2 = Avx.LoadVector256(s + 2 * lds); var r3 = Avx.LoadVector256(s + 3 * lds);
            var r4 = Avx.LoadVector256(s + 4 * lds); var r5 = Avx.LoadVector256(s + 5 * lds);
            var r6 = Avx.LoadVector256(s + 6 * lds); var r7 = Avx.LoadVector256(s + 7 * lds);
            // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
            float* d = dst + q * ldd;
            Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(d + ldd, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(d + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(d + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(d + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(d + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(d + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(d + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
        }
        for (; q < kc; q++)
            for (int v = 0; v < 8; v++) dst[q * ldd + v] = src[v * lds + q];
    }

    /// <summary>A panel row: dst[0, valid) = src[0, valid), then zeros up to the panel width w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPadded<T>(T* src, T* dst, int valid, int w) where T : unmanaged
    {
        CopyRow(src, dst, valid);
        if (valid < w) new Span<T>(dst + valid, w - valid).Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow<T>(T* src, T* dst, int count) where T : unmanaged
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= count - Vector512<T>.Count; i += Vector512<T>.Count) Vector512.Load(src + i).Store(dst + i);
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= count - Vector256<T>.Count; i += Vector256<T>.Count) Vector256.Load(src + i).Store(dst + i);
        else if (Vector128.IsHardwareAccelerated)
            for (; i <= count - Vector128<T>.Count; i += Vector128<T>.Count) Vector128.Load(src + i).Store(dst + i);
        for (; i < count; i++) dst[i] = src[i];
    }
}

/// <summary>A GEMM call cut into shares for an <see cref="Execution"/>; one reusable instance per caller's <see cref="Workspace"/>.</summary>
internal sealed unsafe class GemmWork<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    private GemmProblem<T> _p;
    private SimdPath _path;
    private bool _byRows;
    private int _units, _unit;

    public int Parts { get; private set; }

    /// <summary>Whether the last <see cref="Set"/> cut C by rows (else by columns).</summary>
    internal bool ByRows => _byRows;

    /// <summary>
    /// What reading one operand element costs a share, in multiply-adds. A share reads its rows of A and all of B
    /// (cut by rows), or all of A and its columns of B (cut by columns); in a training step those operands were
    /// mostly just written, half by each thread, so half of what a share reads comes from the other core's cache,
    /// and a packed B is copied as well. An element read that way costs tens of multiply-adds; this value is set
    /// low enough that a split still follows the work whenever the operands are small beside it (measured
    /// figures: docs/performance.md, "What was tried").
    /// </summary>
    internal const long ReadCost = 16;

    /// <summary>
    /// Splits C by rows or by columns, in half-tile units, whichever gives the cheaper largest share: its
    /// multiply-adds plus <see cref="ReadCost"/> for each element of A and B it reads. The operands' share can
    /// decide it: the output layer's weight gradient (TN, 200 x 784 over 1000 rows) cut by rows has each thread
    /// read and pack all 3 MB of dY, cut by columns half of it. The split only decides who computes an element,
    /// never how.
    /// </summary>
    public void Set(in GemmProblem<T> p, SimdPath path, int threads)
    {
        (_p, _path) = (p, path);
        var (ur, uc) = GemmDriver.Units<T>(path);
        int rowUnits = (p.M + ur - 1) / ur, colUnits = (p.N + uc - 1) / uc;
        int pr = Math.Min(threads, rowUnits), pc = Math.Min(threads, colUnits);
        long rows = Math.Min((long)(rowUnits + pr - 1) / pr * ur, p.M), cols = Math.Min((long)(colUnits + pc - 1) / pc * uc, p.N);
        long rowShare = rows * p.N * p.K + ReadCost * (rows * p.K + (long)p.K * p.N);
        long colShare = p.M * cols * p.K + ReadCost * ((long)p.M * p.K + p.K * cols);
        // The Bernoulli epilogue sums each row left to right across its tiles, so a row stays on one thread.
        _byRows = rowShare <= colShare || p.LikY != null;
        (_units, _unit, Parts) = _byRows ? (rowUnits, ur, pr) : (colUnits, uc, pc);
    }

    public void Clear() => _p = default;

    public void Run(int part, int parts, Workspace workspace)
    {
        int u0 = (int)((long)part * _units / parts), u1 = (int)((long)(part + 1) * _units / parts);
        int dim = _byRows ? _p.M : _p.N;
        int lo = Math.Min(u0 * _unit, dim), hi = Math.Min(u1 * _unit, dim);
        if (_byRows)
        {
            // Every share reads all of B: each sums its own slice of the columns.
            int s0 = (int)((long)part * _p.N / parts), s1 = (int)((long)(part + 1) * _p.N / parts);
            GemmDriver.Solve(in _p, _path, lo, hi, 0, _p.N, s0, s1, workspace);
        }
        else GemmDriver.Solve(in _p, _path, 0, _p.M, lo, hi, lo, hi, workspace);
    }
}

/// <summary>Two independent GEMM problems, one whole problem per share (see <see cref="GemmDriver.LinearBackward{T}"/>).</summary>
internal sealed class GemmPair<T> : IParallelWork where T : unmanaged, IFloatingPointIeee754<T>
{
    public GemmProblem<T> First, Second;
    public SimdPath Path;

    public void Run(int part, int parts, Workspace workspace)
    {
        ref readonly var p = ref part == 0 ? ref First : ref Second;
        GemmDriver.Solve(in p, Path, 0, p.M, 0, p.N, 0, p.N, workspace);
    }
}
