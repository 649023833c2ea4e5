using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: one tile of C held in registers while it runs over kc steps.
/// The driver (<see cref="GemmDriver"/>) handles blocking, packing, edges and threads.
/// </summary>
internal unsafe interface IGemmKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of a full tile; a half tile has MR/2.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of a full tile. The packed B panels have this width or a narrower one.</summary>
    static abstract int NR { get; }

    /// <summary>The narrowest tile: NR/2, or NR/4 for a kernel with a quarter-width variant.</summary>
    static abstract int MinNR { get; }

    /// <summary>
    /// c[rows, width] = init + sum over q of a(r, q) b(q, v), with rows = MR or MR/2 (fullRows) and
    /// width = NR, NR/2 (or NR/4 down to MinNR); a(r, q) = a[r*rsA + q*csA], b(q, v) = b[q*ldb + v],
    /// c(r, v) = c[r*ldc + v]. The sums start from init(r, v) = init[r*ldi + v]: C itself (init = c, ldi = ldc) to add
    /// into it, a bias row broadcast down the tile (ldi = 0), or 0 where init is null, so a linear layer's bias never
    /// passes through C's memory. Every element is the chain s = fma(a_q, b_q, s) from s = init in increasing q, one
    /// fused multiply-add per step, whatever the variant and the vector width: edge tiles, tile positions, thread splits
    /// and the SIMD path never change a result (the canonical order of issue 26: Scalar, Vector128, Vector256 and
    /// Vector512 give the same bits).
    /// </summary>
    static abstract void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi);
}

/// <summary>A kernel whose tile is 6 or 3 rows by two vectors (or one): its body, specialised on both.</summary>
internal unsafe interface ISixRowBody<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>R.Value rows (6 or 3; Kernel128's also 8 or 4) by V.Value vectors (2 or 1) of the tile; arguments as in <see cref="IGemmKernel{T}.Tile"/>.</summary>
    static abstract void Body<R, V>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst;
}

/// <summary>
/// The tile dispatch of the kernels with a body (Vector256, Vector128, scalar): full or half rows, wide or narrow; six and
/// three rows, or (Vector128 on ARM64) the given full and half counts.
/// </summary>
internal static unsafe class SixRows
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile<T, TB>(bool fullRows, bool wide, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where T : unmanaged, IFloatingPointIeee754<T> where TB : ISixRowBody<T>
        => Tile<T, TB, C6, C3>(fullRows, wide, a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile<T, TB, RFull, RHalf>(bool fullRows, bool wide, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where T : unmanaged, IFloatingPointIeee754<T> where TB : ISixRowBody<T> where RFull : struct, IConst where RHalf : struct, IConst
    {
        if (fullRows)
        {
            if (wide) TB.Body<RFull, C2>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else TB.Body<RFull, C1>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
        }
        else
        {
            if (wide) TB.Body<RHalf, C2>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else TB.Body<RHalf, C1>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
        }
    }
}

/// <summary>A compile-time integer: generic code specialised on it folds the branches that test it.</summary>
internal interface IConst { static abstract int Value { get; } }
internal readonly struct C1 : IConst { public static int Value => 1; }
internal readonly struct C2 : IConst { public static int Value => 2; }
internal readonly struct C3 : IConst { public static int Value => 3; }
internal readonly struct C4 : IConst { public static int Value => 4; }
internal readonly struct C6 : IConst { public static int Value => 6; }
internal readonly struct C8 : IConst { public static int Value => 8; }

/// <summary>
/// 8 rows x 2 Vector512 (32 floats, 16 doubles): 16 accumulators + 2 B vectors + 1 broadcast of the 32
/// zmm registers. On Zen 4 one zmm FMA issues per cycle with 4 cycles latency, so 16 independent chains
/// keep the FMA pipes busy with room for the loads (2 vector + 8 broadcast per 16 FMAs).
/// </summary>
internal readonly unsafe struct Kernel512<T> : IGemmKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 8;
    public static int NR => 2 * Vector512<T>.Count;

    // A quarter tile (one Vector256 per row) for narrow edges such as the last 8 of 200 columns: Zen 4
    // runs two ymm FMAs in the time of one zmm, so it costs half of a padded 16-wide panel.
    public static int MinNR => Vector256<T>.Count;

    public static void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
    {
        if (fullRows)
        {
            if (width == NR) Body<C8, C2>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else if (width == NR / 2) Body<C8, C1>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else Quarter<C8>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
        }
        else
        {
            if (width == NR) Body<C4, C2>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else if (width == NR / 2) Body<C4, C1>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
            else Quarter<C4>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> z) => Fused.MultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Quarter<R>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst
    {
        int rows = R.Value;
        Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        if (init != null)
        {
            c0 = Vector256.Load(init); c1 = Vector256.Load(init + ldi); c2 = Vector256.Load(init + 2 * ldi); c3 = Vector256.Load(init + 3 * ldi);
            if (rows > 4)
            {
                c4 = Vector256.Load(init + 4 * ldi); c5 = Vector256.Load(init + 5 * ldi);
                c6 = Vector256.Load(init + 6 * ldi); c7 = Vector256.Load(init + 7 * ldi);
            }
        }
        nint o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA, o6 = 6 * rsA, o7 = 7 * rsA;
        T* end = b + kc * ldb;
        while (b < end)
        {
            var b0 = Vector256.Load(b);
            c0 = MulAdd(Vector256.Create(a[0]), b0, c0);
            c1 = MulAdd(Vector256.Create(a[o1]), b0, c1);
            c2 = MulAdd(Vector256.Create(a[o2]), b0, c2);
            c3 = MulAdd(Vector256.Create(a[o3]), b0, c3);
            if (rows > 4)
            {
                c4 = MulAdd(Vector256.Create(a[o4]), b0, c4);
                c5 = MulAdd(Vector256.Create(a[o5]), b0, c5);
                c6 = MulAdd(Vector256.Create(a[o6]), b0, c6);
                c7 = MulAdd(Vector256.Create(a[o7]), b0, c7);
            }
            a += csA;
            b += ldb;
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        if (rows > 4)
        {
            c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> MulAdd(Vector512<T> x, Vector512<T> y, Vector512<T> z) => Fused.MultiplyAdd(x, y, z);

    // R rows (8 or 4) x V vectors (2 or 1); the branches on R and V fold away in each specialisation.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body<R, V>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst
    {
        int rows = R.Value;
        bool w = V.Value == 2;
        int l = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<T> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        if (init != null)
        {
            T* cr = init;
            c00 = Vector512.Load(cr); if (w) c01 = Vector512.Load(cr + l); cr += ldi;
            c10 = Vector512.Load(cr); if (w) c11 = Vector512.Load(cr + l); cr += ldi;
            c20 = Vector512.Load(cr); if (w) c21 = Vector512.Load(cr + l); cr += ldi;
            c30 = Vector512.Load(cr); if (w) c31 = Vector512.Load(cr + l); cr += ldi;
            if (rows > 4)
            {
                c40 = Vector512.Load(cr); if (w) c41 = Vector512.Load(cr + l); cr += ldi;
                c50 = Vector512.Load(cr); if (w) c51 = Vector512.Load(cr + l); cr += ldi;
                c60 = Vector512.Load(cr); if (w) c61 = Vector512.Load(cr + l); cr += ldi;
                c70 = Vector512.Load(cr); if (w) c71 = Vector512.Load(cr + l);
            }
        }
        nint o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA, o6 = 6 * rsA, o7 = 7 * rsA;
        T* end = b + kc * ldb;
        while (b < end)
        {
            var b0 = Vector512.Load(b);
            var b1 = w ? Vector512.Load(b + l) : default;
            var x = Vector512.Create(a[0]); c00 = MulAdd(x, b0, c00); if (w) c01 = MulAdd(x, b1, c01);
            x = Vector512.Create(a[o1]); c10 = MulAdd(x, b0, c10); if (w) c11 = MulAdd(x, b1, c11);
            x = Vector512.Create(a[o2]); c20 = MulAdd(x, b0, c20); if (w) c21 = MulAdd(x, b1, c21);
            x = Vector512.Create(a[o3]); c30 = MulAdd(x, b0, c30); if (w) c31 = MulAdd(x, b1, c31);
            if (rows > 4)
            {
                x = Vector512.Create(a[o4]); c40 = MulAdd(x, b0, c40); if (w) c41 = MulAdd(x, b1, c41);
                x = Vector512.Create(a[o5]); c50 = MulAdd(x, b0, c50); if (w) c51 = MulAdd(x, b1, c51);
                x = Vector512.Create(a[o6]); c60 = MulAdd(x, b0, c60); if (w) c61 = MulAdd(x, b1, c61);
                x = Vector512.Create(a[o7]); c70 = MulAdd(x, b0, c70); if (w) c71 = MulAdd(x, b1, c71);
            }
            a += csA;
            b += ldb;
        }
        {
            T* cr = c;
            c00.Store(cr); if (w) c01.Store(cr + l); cr += ldc;
            c10.Store(cr); if (w) c11.Store(cr + l); cr += ldc;
            c20.Store(cr); if (w) c21.Store(cr + l); cr += ldc;
            c30.Store(cr); if (w) c31.Store(cr + l); cr += ldc;
            if (rows > 4)
            {
                c40.Store(cr); if (w) c41.Store(cr + l); cr += ldc;
                c50.Store(cr); if (w) c51.Store(cr + l); cr += ldc;
                c60.Store(cr); if (w) c61.Store(cr + l); cr += ldc;
                c70.Store(cr); if (w) c71.Store(cr + l);
            }
        }
    }
}

/// <summary>
/// 6 rows x 2 Vector256: 12 accumulators + 2 B vectors + 1 broadcast fit the 16 ymm registers of an
/// AVX2-only machine without spilling (the classic 6x16 float kernel).
/// </summary>
internal readonly unsafe struct Kernel256<T> : IGemmKernel<T>, ISixRowBody<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector256<T>.Count;
    public static int MinNR => Vector256<T>.Count;

    public static void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
    {
        SixRows.Tile<T, Kernel256<T>>(fullRows, width == NR, a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MulAdd(Vector256<T> x, Vector256<T> y, Vector256<T> z) => Fused.MultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Body<R, V>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst
    {
        int rows = R.Value;
        bool w = V.Value == 2;
        int l = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (init != null)
        {
            T* cr = init;
            c00 = Vector256.Load(cr); if (w) c01 = Vector256.Load(cr + l); cr += ldi;
            c10 = Vector256.Load(cr); if (w) c11 = Vector256.Load(cr + l); cr += ldi;
            c20 = Vector256.Load(cr); if (w) c21 = Vector256.Load(cr + l); cr += ldi;
            if (rows > 3)
            {
                c30 = Vector256.Load(cr); if (w) c31 = Vector256.Load(cr + l); cr += ldi;
                c40 = Vector256.Load(cr); if (w) c41 = Vector256.Load(cr + l); cr += ldi;
                c50 = Vector256.Load(cr); if (w) c51 = Vector256.Load(cr + l);
            }
        }
        nint o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA;
        T* end = b + kc * ldb;
        while (b < end)
        {
            var b0 = Vector256.Load(b);
            var b1 = w ? Vector256.Load(b + l) : default;
            var x = Vector256.Create(a[0]); c00 = MulAdd(x, b0, c00); if (w) c01 = MulAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = MulAdd(x, b0, c10); if (w) c11 = MulAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = MulAdd(x, b0, c20); if (w) c21 = MulAdd(x, b1, c21);
            if (rows > 3)
            {
                x = Vector256.Create(a[o3]); c30 = MulAdd(x, b0, c30); if (w) c31 = MulAdd(x, b1, c31);
                x = Vector256.Create(a[o4]); c40 = MulAdd(x, b0, c40); if (w) c41 = MulAdd(x, b1, c41);
                x = Vector256.Create(a[o5]); c50 = MulAdd(x, b0, c50); if (w) c51 = MulAdd(x, b1, c51);
            }
            a += csA;
            b += ldb;
        }
        {
            T* cr = c;
            c00.Store(cr); if (w) c01.Store(cr + l); cr += ldc;
            c10.Store(cr); if (w) c11.Store(cr + l); cr += ldc;
            c20.Store(cr); if (w) c21.Store(cr + l); cr += ldc;
            if (rows > 3)
            {
                c30.Store(cr); if (w) c31.Store(cr + l); cr += ldc;
                c40.Store(cr); if (w) c41.Store(cr + l); cr += ldc;
                c50.Store(cr); if (w) c51.Store(cr + l);
            }
        }
    }
}

/// <summary>
/// 6 rows x 2 Vector128 (8 floats, 4 doubles): 12 accumulators + 2 B vectors + 1 broadcast fit the 16 xmm registers of
/// x64 (SSE/AVX-128) without spilling: <see cref="Kernel256{T}"/>'s shape at half the width. It stays a kernel of its
/// own rather than a width-generic body: a register tile is sized by the register file, not the width. ARM64's 32 NEON
/// registers take the same body on 8 rows (<see cref="Kernel128Arm64{T}"/>). Float without FMA hardware
/// takes <see cref="EmulatedTile"/> instead: the emulated multiply-add's double temporaries do not fit this tile.
/// </summary>
internal readonly unsafe struct Kernel128<T> : IGemmKernel<T>, ISixRowBody<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;
    public static int NR => 2 * Vector128<T>.Count;
    public static int MinNR => Vector128<T>.Count;

    public static void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
    {
        if (typeof(T) == typeof(float) && Fused.IsEmulated)
        {
            EmulatedTile(fullRows ? 6 : 3, width, (float*)a, rsA, csA, (float*)b, ldb, kc, (float*)c, ldc, (float*)init, ldi);
            return;
        }
        SixRows.Tile<T, Kernel128<T>>(fullRows, width == NR, a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
    }

    /// <summary>
    /// The float tile where <see cref="Fused"/> emulates the multiply-add (x64 without FMA; tests call it on any machine):
    /// the same chains, bit for bit, run in 3 x 4 blocks with the accumulators held widened to double. Each step is
    /// Fused.Emulated's direct path without the per-step widening, narrowing and branch: the exact double product plus
    /// the accumulator, rounded to float and widened back (cvtpd2ps, cvtps2pd), with the step's "midpoint or subnormal"
    /// test folded into a running signed minimum; a block whose minimum says some step needed the exact path is redone
    /// by <see cref="Body{R, V}"/>, one Fused.MultiplyAdd per step, before anything of it is stored.
    /// </summary>
    internal static void EmulatedTile(int rows, int width, float* a, nint rsA, nint csA, float* b, nint ldb, int kc, float* c, nint ldc, float* init, nint ldi)
    {
        for (int r = 0; r < rows; r += 3)
            for (int j = 0; j < width; j += 4)
            {
                float* from = init == null ? null : init + r * ldi + j;
                if (!EmulatedBlock(a + r * rsA, rsA, csA, b + j, ldb, kc, c + r * ldc + j, ldc, from, ldi))
                    Kernel128<float>.Body<C3, C1>(a + r * rsA, rsA, csA, b + j, ldb, kc, c + r * ldc + j, ldc, from, ldi);
            }
    }

    // 3 rows x 4 floats: 6 double accumulators, B widened (2), the broadcast row value, the running minimum and the two
    // constants of the test fit the 16 xmm registers. False, storing nothing, when some step's sum was a float midpoint
    // or in the subnormal range (Fused.Emulated's test).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool EmulatedBlock(float* a, nint rsA, nint csA, float* b, nint ldb, int kc, float* c, nint ldc, float* init, nint ldi)
    {
        Vector128<double> c0l = default, c0h = default, c1l = default, c1h = default, c2l = default, c2h = default;
        if (init != null)
        {
            var v = Vector128.Load(init); c0l = Vector128.WidenLower(v); c0h = Vector128.WidenUpper(v);
            v = Vector128.Load(init + ldi); c1l = Vector128.WidenLower(v); c1h = Vector128.WidenUpper(v);
            v = Vector128.Load(init + 2 * ldi); c2l = Vector128.WidenLower(v); c2h = Vector128.WidenUpper(v);
        }
        var min = Vector128.Create(int.MaxValue);
        nint o1 = rsA, o2 = 2 * rsA;
        float* end = b + kc * ldb;
        while (b < end)
        {
            var bv = Vector128.Load(b);
            var bl = Vector128.WidenLower(bv);
            var bh = Vector128.WidenUpper(bv);
            var x = Vector128.WidenLower(Vector128.Create(a[0]));   // not cvtss2sd, which would chain on its register
            var s = x * bl + c0l; min = Fused.RunningSuspect(min, s); c0l = Fused.RoundToFloat(s);
            s = x * bh + c0h; min = Fused.RunningSuspect(min, s); c0h = Fused.RoundToFloat(s);
            x = Vector128.WidenLower(Vector128.Create(a[o1]));
            s = x * bl + c1l; min = Fused.RunningSuspect(min, s); c1l = Fused.RoundToFloat(s);
            s = x * bh + c1h; min = Fused.RunningSuspect(min, s); c1h = Fused.RoundToFloat(s);
            x = Vector128.WidenLower(Vector128.Create(a[o2]));
            s = x * bl + c2l; min = Fused.RunningSuspect(min, s); c2l = Fused.RoundToFloat(s);
            s = x * bh + c2h; min = Fused.RunningSuspect(min, s); c2h = Fused.RoundToFloat(s);
            a += csA;
            b += ldb;
        }
        if (Fused.AnySuspect(min)) return false;
        Vector128.Narrow(c0l, c0h).Store(c);
        Vector128.Narrow(c1l, c1h).Store(c + ldc);
        Vector128.Narrow(c2l, c2h).Store(c + 2 * ldc);
        return true;
    }

    // A row value times B. ARM64 loads it into lane 0 (ldr s) and multiplies by that element (fmla v.4s, v.4s, v.s[0]):
    // a broadcast there is a load and a dup, and the dup takes the vector pipes the FMAs need. x64 broadcasts from
    // memory (vbroadcastss, a load). The same fused multiply-add either way. (Each check sits in the expression itself:
    // a helper property between them kept the x64 JIT from folding the load into the broadcast.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> Row(T* p) => AdvSimd.Arm64.IsSupported ? Vector128.CreateScalarUnsafe(*p) : Vector128.Create(*p);

    /// <summary>x * y + z rounded once, x from <see cref="Row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAdd(Vector128<T> x, Vector128<T> y, Vector128<T> z)
        => AdvSimd.Arm64.IsSupported ? MulAddByElement(x, y, z) : Fused.MultiplyAdd(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<T> MulAddByElement(Vector128<T> x, Vector128<T> y, Vector128<T> z)
    {
        if (typeof(T) == typeof(float)) return AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(z.AsSingle(), y.AsSingle(), x.AsSingle(), 0).As<float, T>();
        if (typeof(T) == typeof(double)) return AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar(z.AsDouble(), y.AsDouble(), x.AsDouble(), 0).As<double, T>();
        return Fused.MultiplyAdd(Vector128.Create(x.ToScalar()), y, z);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Body<R, V>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst
    {
        int rows = R.Value;
        bool w = V.Value == 2;
        int l = Vector128<T>.Count;
        Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector128<T> c60 = default, c61 = default, c70 = default, c71 = default;
        if (init != null)
        {
            T* cr = init;
            c00 = Vector128.Load(cr); if (w) c01 = Vector128.Load(cr + l); cr += ldi;
            c10 = Vector128.Load(cr); if (w) c11 = Vector128.Load(cr + l); cr += ldi;
            c20 = Vector128.Load(cr); if (w) c21 = Vector128.Load(cr + l); cr += ldi;
            if (rows > 3) { c30 = Vector128.Load(cr); if (w) c31 = Vector128.Load(cr + l); cr += ldi; }
            if (rows > 4)
            {
                c40 = Vector128.Load(cr); if (w) c41 = Vector128.Load(cr + l); cr += ldi;
                c50 = Vector128.Load(cr); if (w) c51 = Vector128.Load(cr + l); cr += ldi;
            }
            if (rows > 6)
            {
                c60 = Vector128.Load(cr); if (w) c61 = Vector128.Load(cr + l); cr += ldi;
                c70 = Vector128.Load(cr); if (w) c71 = Vector128.Load(cr + l);
            }
        }
        nint o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA, o6 = 6 * rsA, o7 = 7 * rsA;
        T* end = b + kc * ldb;
        while (b < end)
        {
            var b0 = Vector128.Load(b);
            var b1 = w ? Vector128.Load(b + l) : default;
            var x = Row(a); c00 = MulAdd(x, b0, c00); if (w) c01 = MulAdd(x, b1, c01);
            x = Row(a + o1); c10 = MulAdd(x, b0, c10); if (w) c11 = MulAdd(x, b1, c11);
            x = Row(a + o2); c20 = MulAdd(x, b0, c20); if (w) c21 = MulAdd(x, b1, c21);
            if (rows > 3) { x = Row(a + o3); c30 = MulAdd(x, b0, c30); if (w) c31 = MulAdd(x, b1, c31); }
            if (rows > 4)
            {
                x = Row(a + o4); c40 = MulAdd(x, b0, c40); if (w) c41 = MulAdd(x, b1, c41);
                x = Row(a + o5); c50 = MulAdd(x, b0, c50); if (w) c51 = MulAdd(x, b1, c51);
            }
            if (rows > 6)
            {
                x = Row(a + o6); c60 = MulAdd(x, b0, c60); if (w) c61 = MulAdd(x, b1, c61);
                x = Row(a + o7); c70 = MulAdd(x, b0, c70); if (w) c71 = MulAdd(x, b1, c71);
            }
            a += csA;
            b += ldb;
        }
        {
            T* cr = c;
            c00.Store(cr); if (w) c01.Store(cr + l); cr += ldc;
            c10.Store(cr); if (w) c11.Store(cr + l); cr += ldc;
            c20.Store(cr); if (w) c21.Store(cr + l); cr += ldc;
            if (rows > 3) { c30.Store(cr); if (w) c31.Store(cr + l); cr += ldc; }
            if (rows > 4)
            {
                c40.Store(cr); if (w) c41.Store(cr + l); cr += ldc;
                c50.Store(cr); if (w) c51.Store(cr + l); cr += ldc;
            }
            if (rows > 6)
            {
                c60.Store(cr); if (w) c61.Store(cr + l); cr += ldc;
                c70.Store(cr); if (w) c71.Store(cr + l);
            }
        }
    }
}

/// <summary>
/// 8 rows x 2 Vector128 (8 floats, 4 doubles), the Vector128 tile on ARM64, whose 32 NEON registers hold its
/// 16 accumulators, 2 B vectors and the row value (19; on x64's 16 xmm registers it would spill, so x64 keeps
/// <see cref="Kernel128{T}"/>'s 6 rows). Two things change from 6 x 2 on cores that issue four 128-bit FMAs a cycle
/// with a 4-cycle latency (Neoverse V1 and V2, Apple's): 16 independent chains cover the 4 x 4 FMAs in flight where 12
/// cannot, and 9 loads (one pair of B vectors, 8 row values, each multiplied by element) serve 16 FMAs instead of 7
/// serving 12. The body is <see cref="Kernel128{T}"/>'s, specialised on 8 or 4 rows: every element keeps its chain, so
/// the bits are the x64 tile's. Its speed on ARM64 hardware is not measured (none here); tests run it on x64 too.
/// </summary>
internal readonly unsafe struct Kernel128Arm64<T> : IGemmKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether the Vector128 path takes this tile: on ARM64.</summary>
    public static bool Chosen => AdvSimd.Arm64.IsSupported;

    public static int MR => 8;
    public static int NR => 2 * Vector128<T>.Count;
    public static int MinNR => Vector128<T>.Count;

    public static void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        => SixRows.Tile<T, Kernel128<T>, C8, C4>(fullRows, width == NR, a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
}

/// <summary>
/// 6 rows x 2 columns in scalar locals: the fallback where no vector path is accelerated. 12 accumulators + 2 B values
/// + 1 A value fit x64's 16 scalar registers without spilling (a 4 x 4 tile needs 21 and spilled on every step).
/// Each element is summed in q order with one fused multiply-add per step (<see cref="Fused"/>), the chain the vector
/// kernels keep, so the scalar path gives their bits.
/// </summary>
/// <remarks>
/// On x64 with FMA each element lives in lane 0 of an xmm register whose other lanes are zero (<see cref="LowLane{T}"/>).
/// The scalar instruction (vfmadd...ss, which MathF.FusedMultiplyAdd becomes) keeps its first operand's upper lanes, so
/// the JIT must write into the multiplicand: it copies the A value, and each result into its accumulator, three register
/// moves per row's two FMAs (42 instructions per k step). The packed instruction on the same registers adds into the
/// accumulator in place (vfmadd231ps): 24 instructions per k step.
/// Lane 0 is the same correctly rounded a*b+c, so the same bits.
/// </remarks>
internal readonly unsafe struct KernelScalar<T> : IGemmKernel<T>, ISixRowBody<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int MR => 6;
    public static int NR => 2;
    public static int MinNR => 1;

    public static void Tile(bool fullRows, int width, T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
    {
        SixRows.Tile<T, KernelScalar<T>>(fullRows, width == NR, a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Body<R, V>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
            Body<R, V, Vector128<T>, LowLane<T>>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
        else
            Body<R, V, T, Plain<T>>(a, rsA, csA, b, ldb, kc, c, ldc, init, ldi);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Body<R, V, TC, TL>(T* a, nint rsA, nint csA, T* b, nint ldb, int kc, T* c, nint ldc, T* init, nint ldi)
        where R : struct, IConst where V : struct, IConst where TC : struct where TL : IScalarCell<T, TC>
    {
        int rows = R.Value;
        bool w = V.Value == 2;
        TC c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TC c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        if (init != null)
        {
            T* cr = init;
            c00 = TL.Load(cr); if (w) c01 = TL.Load(cr + 1); cr += ldi;
            c10 = TL.Load(cr); if (w) c11 = TL.Load(cr + 1); cr += ldi;
            c20 = TL.Load(cr); if (w) c21 = TL.Load(cr + 1); cr += ldi;
            if (rows > 3)
            {
                c30 = TL.Load(cr); if (w) c31 = TL.Load(cr + 1); cr += ldi;
                c40 = TL.Load(cr); if (w) c41 = TL.Load(cr + 1); cr += ldi;
                c50 = TL.Load(cr); if (w) c51 = TL.Load(cr + 1);
            }
        }
        nint o1 = rsA, o2 = 2 * rsA, o3 = 3 * rsA, o4 = 4 * rsA, o5 = 5 * rsA;
        T* end = b + kc * ldb;
        while (b < end)
        {
            TC b0 = TL.Load(b), b1 = w ? TL.Load(b + 1) : default;
            TC x = TL.Load(a); c00 = TL.MultiplyAdd(x, b0, c00); if (w) c01 = TL.MultiplyAdd(x, b1, c01);
            x = TL.Load(a + o1); c10 = TL.MultiplyAdd(x, b0, c10); if (w) c11 = TL.MultiplyAdd(x, b1, c11);
            x = TL.Load(a + o2); c20 = TL.MultiplyAdd(x, b0, c20); if (w) c21 = TL.MultiplyAdd(x, b1, c21);
            if (rows > 3)
            {
                x = TL.Load(a + o3); c30 = TL.MultiplyAdd(x, b0, c30); if (w) c31 = TL.MultiplyAdd(x, b1, c31);
                x = TL.Load(a + o4); c40 = TL.MultiplyAdd(x, b0, c40); if (w) c41 = TL.MultiplyAdd(x, b1, c41);
                x = TL.Load(a + o5); c50 = TL.MultiplyAdd(x, b0, c50); if (w) c51 = TL.MultiplyAdd(x, b1, c51);
            }
            a += csA;
            b += ldb;
        }
        {
            T* cr = c;
            TL.Store(cr, c00); if (w) TL.Store(cr + 1, c01); cr += ldc;
            TL.Store(cr, c10); if (w) TL.Store(cr + 1, c11); cr += ldc;
            TL.Store(cr, c20); if (w) TL.Store(cr + 1, c21); cr += ldc;
            if (rows > 3)
            {
                TL.Store(cr, c30); if (w) TL.Store(cr + 1, c31); cr += ldc;
                TL.Store(cr, c40); if (w) TL.Store(cr + 1, c41); cr += ldc;
                TL.Store(cr, c50); if (w) TL.Store(cr + 1, c51);
            }
        }
    }
}

/// <summary>How <see cref="KernelScalar{T}"/> holds one element of its tile: loaded, fused multiply-add, stored.</summary>
internal unsafe interface IScalarCell<T, TC> where T : unmanaged
{
    static abstract TC Load(T* p);
    static abstract TC MultiplyAdd(TC a, TC b, TC c);
    static abstract void Store(T* p, TC v);
}

/// <summary>The element itself, with <see cref="Fused.MultiplyAdd{T}(T, T, T)"/>.</summary>
internal readonly unsafe struct Plain<T> : IScalarCell<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Load(T* p) => *p;
    public static T MultiplyAdd(T a, T b, T c) => Fused.MultiplyAdd(a, b, c);
    public static void Store(T* p, T v) => *p = v;
}

/// <summary>
/// The element in lane 0 of a vector whose other lanes are zero (a scalar load clears them, and zeros times zeros plus
/// zeros stay zero), with the packed fused multiply-add: lane 0 is the scalar a*b+c. Only where FMA is an instruction.
/// </summary>
internal readonly unsafe struct LowLane<T> : IScalarCell<T, Vector128<T>> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static Vector128<T> Load(T* p) => Vector128.CreateScalar(*p);
    public static Vector128<T> MultiplyAdd(Vector128<T> a, Vector128<T> b, Vector128<T> c) => Fused.MultiplyAdd(a, b, c);
    public static void Store(T* p, Vector128<T> v) => *p = v.ToScalar();
}
