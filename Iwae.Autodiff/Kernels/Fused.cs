using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// The fused multiply-add a*b+c, rounded once, on 128-bit float vectors: the FMA instruction where the machine has it
/// (x64 with FMA, every ARM64), and an exact emulation on x64 without it (before Haswell, or with the runtime's AVX2 or
/// AVX switched off), so that the canonical order, which fuses every multiply-add, gives the same bits there too.
/// </summary>
/// <remarks>
/// The emulation narrows s = p + c, the double sum of the exact double product p = a*b (24 + 24 bits &lt;= 53) and c,
/// straight to float: rounding to double is monotonic and every float and every midpoint between two floats is a double,
/// so no midpoint lies strictly between s and the exact sum, and s rounds to the same float unless s is itself a
/// midpoint (a tie, or the overflow threshold FLT_MAX + half an ulp) that the exact sum may miss on either side. Only
/// then, or when s is in the subnormal range, where the cheap bit test does not recognize midpoints, does it redo the
/// sum round-to-odd with the exact error of TwoSum; rounding a round-to-odd double to float is the correctly rounded
/// result, normal or subnormal (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms
/// using rounding to odd", IEEE Trans. Computers 2008). Zero, infinite and NaN sums take the direct path and come out
/// as the instruction's (a single NaN operand keeps its payload, quieted). The float GEMM runs the same direct path
/// with its accumulators kept in double and one test per block (Kernel128.EmulatedTile). Measured on Zen 3 with AVX2
/// off, one thread, GEMM 1000x784x200 NN: 3.5 GFLOP/s; 2.0 with this method per step in the 6 x 2 register tile (its
/// double temporaries do not fit the 16 xmm registers and are spilled), 1.0 with round to odd on every step, 0.3 to 0.4
/// for the runtime's own Vector128.FusedMultiplyAdd without FMA (fmaf once per lane), 89 with the instruction
/// (Vector256). The 256- and 512-bit paths need no emulation: the runtime accelerates Vector256 only with AVX2, which
/// comes with FMA.
/// </remarks>
public static class Fused
{
    /// <summary>Whether <see cref="MultiplyAdd(Vector128{float}, Vector128{float}, Vector128{float})"/> runs the emulation (x64 without FMA).</summary>
    internal static bool IsEmulated => Sse2.IsSupported && !Fma.IsSupported;

    /// <summary>a*b+c rounded once, in each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c)
        => Fma.IsSupported || !Sse2.IsSupported ? Vector128.FusedMultiplyAdd(a, b, c) : Emulated(a, b, c);   // the ISA checks, not IsEmulated: folded as the JIT imports them, so the emulation is never inlined where it cannot run

    /// <summary>a*b+c rounded once, for code generic over the element type: the above for float, the runtime's FMA for double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd<T>(Vector128<T> a, Vector128<T> b, Vector128<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return MultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector128.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        for (int i = 0; i < Vector128<T>.Count; i++) a = a.WithElement(i, T.FusedMultiplyAdd(a[i], b[i], c[i]));
        return a;
    }

    /// <inheritdoc cref="MultiplyAdd{T}(Vector128{T}, Vector128{T}, Vector128{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        for (int i = 0; i < Vector256<T>.Count; i++) a = a.WithElement(i, T.FusedMultiplyAdd(a[i], b[i], c[i]));
        return a;
    }

    /// <inheritdoc cref="MultiplyAdd{T}(Vector128{T}, Vector128{T}, Vector128{T})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        for (int i = 0; i < Vector512<T>.Count; i++) a = a.WithElement(i, T.FusedMultiplyAdd(a[i], b[i], c[i]));
        return a;
    }

    // c - a*b and a*b - c, rounded once: the same values as MultiplyAdd(-a, b, c) and MultiplyAdd(a, b, -c) (negating
    // is exact), in one instruction where there is one (x64's vfnmadd and vfmsub; ARM64's fmls for c - a*b) rather than a
    // negation and an FMA. Only a NaN's sign may differ, which no result promises (CanonicalOrderTests).

    /// <summary>c - a*b rounded once, in each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAddNegated(Vector128<float> a, Vector128<float> b, Vector128<float> c)
        => Fma.IsSupported ? Fma.MultiplyAddNegated(a, b, c) : AdvSimd.IsSupported ? AdvSimd.FusedMultiplySubtract(c, a, b) : MultiplyAdd(-a, b, c);

    /// <inheritdoc cref="MultiplyAddNegated(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAddNegated(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Fma.IsSupported ? Fma.MultiplyAddNegated(a, b, c) : Vector256.FusedMultiplyAdd(-a, b, c);

    /// <inheritdoc cref="MultiplyAddNegated(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAddNegated(Vector512<float> a, Vector512<float> b, Vector512<float> c)
        => Avx512F.IsSupported ? Avx512F.FusedMultiplyAddNegated(a, b, c) : Vector512.FusedMultiplyAdd(-a, b, c);

    /// <inheritdoc cref="MultiplyAddNegated(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAddNegated(float a, float b, float c) => MultiplyAdd(-a, b, c);

    /// <summary>a*b - c rounded once, in each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplySubtract(Vector128<float> a, Vector128<float> b, Vector128<float> c)
        => Fma.IsSupported ? Fma.MultiplySubtract(a, b, c) : MultiplyAdd(a, b, -c);

    /// <inheritdoc cref="MultiplySubtract(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplySubtract(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Fma.IsSupported ? Fma.MultiplySubtract(a, b, c) : Vector256.FusedMultiplyAdd(a, b, -c);

    /// <inheritdoc cref="MultiplySubtract(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplySubtract(Vector512<float> a, Vector512<float> b, Vector512<float> c)
        => Avx512F.IsSupported ? Avx512F.FusedMultiplySubtract(a, b, c) : Vector512.FusedMultiplyAdd(a, b, -c);

    /// <inheritdoc cref="MultiplySubtract(Vector128{float}, Vector128{float}, Vector128{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplySubtract(float a, float b, float c) => MultiplyAdd(a, b, -c);

    /// <summary>a*b+c rounded once, for one float: the instruction where the machine has it, else the emulation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MultiplyAdd(float a, float b, float c)
        => Fma.IsSupported || !Sse2.IsSupported ? MathF.FusedMultiplyAdd(a, b, c) : Emulated(a, b, c);

    /// <summary>a*b+c rounded once, for code generic over the element type (the runtime's FMA for double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MultiplyAdd<T>(T a, T b, T c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float)) return T.FusedMultiplyAdd(a, b, c);
        float r = MultiplyAdd(Unsafe.As<T, float>(ref a), Unsafe.As<T, float>(ref b), Unsafe.As<T, float>(ref c));
        return Unsafe.As<float, T>(ref r);
    }

    /// <summary>The emulation, on any machine (tests compare it with the hardware instruction bit for bit).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Emulated(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        var pl = Vector128.WidenLower(a) * Vector128.WidenLower(b);        // exact
        var ph = Vector128.WidenUpper(a) * Vector128.WidenUpper(b);
        var cl = Vector128.WidenLower(c);
        var ch = Vector128.WidenUpper(c);
        var sl = pl + cl;
        var sh = ph + ch;
        if ((Suspect(sl) | Suspect(sh)) == Vector128<int>.Zero) return Vector128.Narrow(sl, sh);
        return Vector128.Narrow(RoundToOdd(pl, cl), RoundToOdd(ph, ch));
    }

    /// <summary>The emulation for one float.</summary>
    public static float Emulated(float a, float b, float c)
    {
        double p = (double)a * b, s = p + c;
        ulong bits = (ulong)BitConverter.DoubleToInt64Bits(s);
        if (((uint)bits & LowMask) != Midpoint && ((uint)(bits >> 32) & 0x7FFF_FFFFu) - 1 >= SubnormalHigh) return (float)s;
        double bb = s - p, e = (p - (s - bb)) + (c - bb);
        if ((bits & 1) == 0 && Math.Abs(e) > 0) bits += (bits ^ (ulong)BitConverter.DoubleToInt64Bits(e)) >> 63 == 0 ? 1ul : ulong.MaxValue;
        return (float)BitConverter.Int64BitsToDouble((long)bits);
    }

    // The fast path. s = p + c rounded to double rounds to the same float as the exact sum x unless s is a float midpoint
    // (a tie, or a rounding boundary at the top of the range) that x is not: every midpoint is a double and rounding to
    // double is monotonic, so no midpoint lies strictly between x and s. A double in the normal float range is a
    // midpoint when its low 29 fraction bits are 0x1000_0000; below 2^-126 midpoints look different, so that range
    // (0 < |s| < 2^-126, high word 1 ..= 0x380F_FFFF: a nonzero s is at least 2^-298, never a subnormal double) goes the
    // exact way as well. Zero, infinite and NaN sums pass fast, as they passed the round-to-odd step unchanged.
    private const uint LowMask = 0x1FFF_FFFF, Midpoint = 0x1000_0000, SubnormalHigh = 0x380F_FFFF;

    // Per 32-bit half of each double (low half first), a value that is below Limit (signed) where the double needs the
    // exact path. Low half: (lo & LowMask) + 0x7000_0000 is int.MinValue only for the midpoint pattern. High half:
    // (hi & 0x7FFF_FFFF) + 0x7FFF_FFFF is negative and below 0xB80F_FFFF only for 1 ..= SubnormalHigh.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Biased(Vector128<double> s)
        => (s.AsInt32() & Vector128.Create((int)LowMask, 0x7FFF_FFFF, (int)LowMask, 0x7FFF_FFFF)) + Vector128.Create(0x7000_0000, 0x7FFF_FFFF, 0x7000_0000, 0x7FFF_FFFF);

    private static Vector128<int> Limit => Vector128.Create(int.MinValue + 1, unchecked((int)0xB80F_FFFF), int.MinValue + 1, unchecked((int)0xB80F_FFFF));

    // All ones in the int32 halves of a double that needs the exact path.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Suspect(Vector128<double> s) => Vector128.LessThan(Biased(s), Limit);

    // For a kernel that runs the direct path on double accumulators (Kernel128.EmulatedTile): the running signed
    // minimum of Biased (start from int.MaxValue), whether it shows a step that the exact path should have taken, and
    // the step's rounding to float, widened back.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> RunningSuspect(Vector128<int> min, Vector128<double> s) => Vector128.Min(min, Biased(s));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AnySuspect(Vector128<int> min) => Vector128.LessThan(min, Limit) != Vector128<int>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<double> RoundToFloat(Vector128<double> s)
        => Sse2.IsSupported ? Sse2.ConvertToVector128Double(Sse2.ConvertToVector128Single(s)) : Vector128.WidenLower(Vector128.Narrow(s, s));

    // p + c rounded to odd: the nearest double s, moved one unit toward the exact sum when s is inexact and even.
    // NaN and infinite sums give a NaN error, which compares false, and pass unchanged.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> RoundToOdd(Vector128<double> p, Vector128<double> c)
    {
        var s = p + c;
        var bb = s - p;
        var e = (p - (s - bb)) + (c - bb);                                   // TwoSum: p + c = s + e exactly
        var bits = s.AsUInt64();
        var even = Vector128.Equals(bits & Vector128<ulong>.One, Vector128<ulong>.Zero);
        var inexact = Vector128.GreaterThan(Vector128.Abs(e), Vector128<double>.Zero).AsUInt64();
        var outward = Vector128.Equals((bits ^ e.AsUInt64()) >> 63, Vector128<ulong>.Zero);   // e has s's sign
        var moved = Vector128.ConditionalSelect(outward, bits + Vector128<ulong>.One, bits - Vector128<ulong>.One);
        return Vector128.ConditionalSelect(even & inexact, moved, bits).AsDouble();
    }
}
