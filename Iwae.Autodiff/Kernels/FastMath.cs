using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// Float32 exp, log1p-of-exp, sigmoid and tanh on Vector512, Vector256, Vector128 and scalar, for the Bernoulli
/// likelihood (its 784 softplus terms per sample dominate the k=5000 evaluation once the GEMMs are fast; TensorPrimitives
/// computes float exp through double) and the hidden layers. Accuracy: a few ulp (tested against float64 twins).
/// </summary>
/// <remarks>
/// The canonical order (issue 26): every form of a function runs the same IEEE operations in the same order, each
/// multiply-add fused (<see cref="Fused"/>.MultiplyAdd, vector and scalar), with the same clamps (or masks) and
/// special cases, so every path and every width gives the same bits lane by lane, on x64 and on ARM64. The four forms
/// of a function sit together and read line for line alike.
/// </remarks>
public static class FastMath
{
    // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 split in two parts (Cody-Waite), |r| <= ln2/2;
    // exp(r) by its degree-6 Taylor polynomial (error below 2e-8 relative on that interval), Horner with FMA.
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float MinX = -87.33654f;      // exp(MinX) is the smallest normal float
    private const float MaxX = 88f;           // 2^127 * exp(r) stays finite
    private const float P2 = 1f / 2, P3 = 1f / 6, P4 = 1f / 24, P5 = 1f / 120, P6 = 1f / 720;

    /// <summary>exp(x) for float x in [-87.3, 88]; below, 0 (no subnormals); above, exp(88); NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x) => ExpUnclamped(MathF.Min(x, MaxX));

    /// <summary>
    /// <see cref="Exp(float)"/> for x &lt;= 88 (or NaN), without the clamp above: what <see cref="ExpNegAbs(float)"/> and
    /// <see cref="Tanh(float)"/> call with x &lt;= 0. The vector forms let lanes below MinX run through (their n and r mean
    /// nothing there and may be infinite or NaN) and zero them at the end, rather than clamp them first: the same bits
    /// with one instruction fewer on the critical path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ExpUnclamped(float x)
    {
        if (x < MinX) return 0f;
        float n = MathF.Round(x * Log2E);
        float r = Fused.MultiplyAddNegated(n, Ln2Hi, x);
        r = Fused.MultiplyAddNegated(n, Ln2Lo, r);
        float p = Fused.MultiplyAdd(r, P6, P5);
        p = Fused.MultiplyAdd(p, r, P4);
        p = Fused.MultiplyAdd(p, r, P3);
        p = Fused.MultiplyAdd(p, r, P2);
        p = Fused.MultiplyAdd(p, r, 1f);
        p = Fused.MultiplyAdd(p, r, 1f);
        return p * Pow2(n);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => ExpUnclamped(Vector512.Min(x, Vector512.Create(MaxX)));

    /// <inheritdoc cref="ExpUnclamped(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpUnclamped(Vector512<float> x)
    {
        var tiny = Vector512.LessThan(x, Vector512.Create(MinX));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Fused.MultiplyAddNegated(n, Vector512.Create(Ln2Hi), x);
        r = Fused.MultiplyAddNegated(n, Vector512.Create(Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(r, Vector512.Create(P6), Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        return Vector512.AndNot(p * Pow2(n), tiny);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => ExpUnclamped(Vector256.Min(x, Vector256.Create(MaxX)));

    /// <inheritdoc cref="ExpUnclamped(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpUnclamped(Vector256<float> x)
    {
        var tiny = Vector256.LessThan(x, Vector256.Create(MinX));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Fused.MultiplyAddNegated(n, Vector256.Create(Ln2Hi), x);
        r = Fused.MultiplyAddNegated(n, Vector256.Create(Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(r, Vector256.Create(P6), Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        return Vector256.AndNot(p * Pow2(n), tiny);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x) => ExpUnclamped(Vector128.Min(x, Vector128.Create(MaxX)));

    /// <inheritdoc cref="ExpUnclamped(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ExpUnclamped(Vector128<float> x)
    {
        var tiny = Vector128.LessThan(x, Vector128.Create(MinX));
        var n = Vector128.Round(x * Vector128.Create(Log2E));
        var r = Fused.MultiplyAddNegated(n, Vector128.Create(Ln2Hi), x);
        r = Fused.MultiplyAddNegated(n, Vector128.Create(Ln2Lo), r);
        var p = Fused.MultiplyAdd(r, Vector128.Create(P6), Vector128.Create(P5));
        p = Fused.MultiplyAdd(p, r, Vector128.Create(P4));
        p = Fused.MultiplyAdd(p, r, Vector128.Create(P3));
        p = Fused.MultiplyAdd(p, r, Vector128.Create(P2));
        p = Fused.MultiplyAdd(p, r, Vector128<float>.One);
        p = Fused.MultiplyAdd(p, r, Vector128<float>.One);
        return Vector128.AndNot(p * Pow2(n), tiny);
    }

    /// <summary>
    /// 2^n for whole n in [-126, 127] (the range of <see cref="Exp(float)"/>'s n), built in the exponent bits. A NaN n
    /// converts to int.MinValue on x64 and to 0 on ARM64 (and in the saturating scalar cast); the shift drops the one bit
    /// where they differ, so every form on every machine gives 1 (and the NaN comes through p).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Pow2(float n) => BitConverter.Int32BitsToSingle(((int)n + 127) << 23);

    /// <inheritdoc cref="Pow2(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Pow2(Vector512<float> n) => ((Vector512.ConvertToInt32Native(n) + Vector512.Create(127)) << 23).AsSingle();

    /// <inheritdoc cref="Pow2(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Pow2(Vector256<float> n) => ((Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23).AsSingle();

    /// <inheritdoc cref="Pow2(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Pow2(Vector128<float> n) => ((Vector128.ConvertToInt32Native(n) + Vector128.Create(127)) << 23).AsSingle();

    // log1p(t) for t in [0, 1]: with s = t / (2 + t) in [0, 1/3], log(1 + t) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...);
    // s is computed without cancellation, so small t keep full relative accuracy. Seven terms reach 1e-8.
    private const float A3 = 1f / 3, A5 = 1f / 5, A7 = 1f / 7, A9 = 1f / 9, A11 = 1f / 11, A13 = 1f / 13;

    /// <summary>log(1 + t) for t in [0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1pUnit(float t)
    {
        float s = t / (2f + t), s2 = s * s;
        float q = Fused.MultiplyAdd(s2, A13, A11);
        q = Fused.MultiplyAdd(q, s2, A9);
        q = Fused.MultiplyAdd(q, s2, A7);
        q = Fused.MultiplyAdd(q, s2, A5);
        q = Fused.MultiplyAdd(q, s2, A3);
        q = Fused.MultiplyAdd(q, s2, 1f);
        return (s + s) * q;
    }

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log1pUnit(Vector512<float> t)
    {
        var s = t / (Vector512.Create(2f) + t);
        var s2 = s * s;
        var q = Vector512.FusedMultiplyAdd(s2, Vector512.Create(A13), Vector512.Create(A11));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(A9));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(A7));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(A5));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(A3));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512<float>.One);
        return (s + s) * q;
    }

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1pUnit(Vector256<float> t)
    {
        var s = t / (Vector256.Create(2f) + t);
        var s2 = s * s;
        var q = Vector256.FusedMultiplyAdd(s2, Vector256.Create(A13), Vector256.Create(A11));
        q = Vector256.FusedMultiplyAdd(q, s2, Vector256.Create(A9));
        q = Vector256.FusedMultiplyAdd(q, s2, Vector256.Create(A7));
        q = Vector256.FusedMultiplyAdd(q, s2, Vector256.Create(A5));
        q = Vector256.FusedMultiplyAdd(q, s2, Vector256.Create(A3));
        q = Vector256.FusedMultiplyAdd(q, s2, Vector256<float>.One);
        return (s + s) * q;
    }

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log1pUnit(Vector128<float> t)
    {
        var s = t / (Vector128.Create(2f) + t);
        var s2 = s * s;
        var q = Fused.MultiplyAdd(s2, Vector128.Create(A13), Vector128.Create(A11));
        q = Fused.MultiplyAdd(q, s2, Vector128.Create(A9));
        q = Fused.MultiplyAdd(q, s2, Vector128.Create(A7));
        q = Fused.MultiplyAdd(q, s2, Vector128.Create(A5));
        q = Fused.MultiplyAdd(q, s2, Vector128.Create(A3));
        q = Fused.MultiplyAdd(q, s2, Vector128<float>.One);
        return (s + s) * q;
    }

    /// <summary>softplus(l) = max(l, 0) + log1p(exp(-|l|)), finite for every finite l.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Softplus(float l) => Softplus(l, ExpNegAbs(l));

    /// <inheritdoc cref="Softplus(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Softplus(Vector512<float> l) => Softplus(l, ExpNegAbs(l));

    /// <inheritdoc cref="Softplus(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softplus(Vector256<float> l) => Softplus(l, ExpNegAbs(l));

    /// <inheritdoc cref="Softplus(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Softplus(Vector128<float> l) => Softplus(l, ExpNegAbs(l));

    /// <summary>sigmoid(l) from t = exp(-|l|): 1/(1+t) for l >= 0, t/(1+t) below; never exp of a large positive number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float l) => Sigmoid(l, ExpNegAbs(l));

    /// <inheritdoc cref="Sigmoid(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> l) => Sigmoid(l, ExpNegAbs(l));

    /// <inheritdoc cref="Sigmoid(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> l) => Sigmoid(l, ExpNegAbs(l));

    /// <inheritdoc cref="Sigmoid(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> l) => Sigmoid(l, ExpNegAbs(l));

    // Softplus and sigmoid both start from t = exp(-|l|); these forms take t, so that a kernel needing both (the
    // Bernoulli likelihood with its backward residual) computes the exp once and gets the same bits as the two calls.

    /// <summary>t = exp(-|l|), in (0, 1]. The vector forms make -|l| by setting the sign bit: one instruction, not two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpNegAbs(float l) => ExpUnclamped(-MathF.Abs(l));

    /// <inheritdoc cref="ExpNegAbs(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNegAbs(Vector512<float> l) => ExpUnclamped(l | Vector512.Create(-0f));

    /// <inheritdoc cref="ExpNegAbs(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNegAbs(Vector256<float> l) => ExpUnclamped(l | Vector256.Create(-0f));

    /// <inheritdoc cref="ExpNegAbs(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ExpNegAbs(Vector128<float> l) => ExpUnclamped(l | Vector128.Create(-0f));

    /// <summary>softplus(l) given t = <see cref="ExpNegAbs(float)"/>(l).</summary>
    /// <remarks>
    /// max(l, 0) is the machine's own max instruction in the vector forms (MaxNative: one instruction, where Vector.Max's
    /// IEEE rules for NaN and signed zeros cost four on x64) and l where l &gt; 0, else +0, in the scalar one. Where they may
    /// differ, it does not show: log1p(t) &gt; 0 makes the sign of a zero vanish, and a NaN l gives a NaN t. The four
    /// forms agree on every input (a NaN as a NaN).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Softplus(float l, float t) => (l > 0f ? l : 0f) + Log1pUnit(t);

    /// <inheritdoc cref="Softplus(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Softplus(Vector512<float> l, Vector512<float> t) => Vector512.MaxNative(l, Vector512<float>.Zero) + Log1pUnit(t);

    /// <inheritdoc cref="Softplus(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softplus(Vector256<float> l, Vector256<float> t) => Vector256.MaxNative(l, Vector256<float>.Zero) + Log1pUnit(t);

    /// <inheritdoc cref="Softplus(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Softplus(Vector128<float> l, Vector128<float> t) => Vector128.MaxNative(l, Vector128<float>.Zero) + Log1pUnit(t);

    /// <summary>sigmoid(l) given t = <see cref="ExpNegAbs(float)"/>(l).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float l, float t)
    {
        float inv = 1f / (1f + t);
        return l >= 0 ? inv : t * inv;
    }

    /// <inheritdoc cref="Sigmoid(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> l, Vector512<float> t)
    {
        var inv = Vector512<float>.One / (Vector512<float>.One + t);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(l, Vector512<float>.Zero), inv, t * inv);
    }

    /// <inheritdoc cref="Sigmoid(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> l, Vector256<float> t)
    {
        var inv = Vector256<float>.One / (Vector256<float>.One + t);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(l, Vector256<float>.Zero), inv, t * inv);
    }

    /// <inheritdoc cref="Sigmoid(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Sigmoid(Vector128<float> l, Vector128<float> t)
    {
        var inv = Vector128<float>.One / (Vector128<float>.One + t);
        return Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(l, Vector128<float>.Zero), inv, t * inv);
    }

    // tanh: for |x| < 0.4 its odd Taylor series to x^13 (next term below 2e-9), x + x^3 q(x^2) with q by Horner in
    // FMA; above, (1 - t) / (1 + t) with t = exp(-2|x|) <= 0.45, where 1 - t has no cancellation. Sign restored last
    // (the vector forms OR in x's sign bit: the quotient is never negative).
    // Saturates to +-1 exactly.
    private const float T3 = -1f / 3, T5 = 2f / 15, T7 = -17f / 315, T9 = 62f / 2835, T11 = -1382f / 155925, T13 = 21844f / 6081075;
    private const float SmallTanh = 0.4f;

    /// <summary>tanh(x) for float, within 2 ulp-ish (about 2e-7 relative) of the float64 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        float a = MathF.Abs(x);
        float x2 = x * x;
        if (a < SmallTanh)
        {
            float q = Fused.MultiplyAdd(x2, T13, T11);
            q = Fused.MultiplyAdd(q, x2, T9);
            q = Fused.MultiplyAdd(q, x2, T7);
            q = Fused.MultiplyAdd(q, x2, T5);
            q = Fused.MultiplyAdd(q, x2, T3);
            return Fused.MultiplyAdd(x * x2, q, x);
        }
        float t = ExpUnclamped(-2f * a);
        return MathF.CopySign((1f - t) / (1f + t), x);
    }

    /// <inheritdoc cref="Tanh(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var a = Vector512.Abs(x);
        var x2 = x * x;
        var q = Vector512.FusedMultiplyAdd(x2, Vector512.Create(T13), Vector512.Create(T11));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(T9));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(T7));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(T5));
        q = Vector512.FusedMultiplyAdd(q, x2, Vector512.Create(T3));
        var small = Vector512.FusedMultiplyAdd(x * x2, q, x);
        var t = ExpUnclamped(Vector512.Create(-2f) * a);
        var large = (Vector512<float>.One - t) / (Vector512<float>.One + t) | (x & Vector512.Create(-0f));
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(SmallTanh)), small, large);
    }

    /// <inheritdoc cref="Tanh(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var x2 = x * x;
        var q = Vector256.FusedMultiplyAdd(x2, Vector256.Create(T13), Vector256.Create(T11));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(T9));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(T7));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(T5));
        q = Vector256.FusedMultiplyAdd(q, x2, Vector256.Create(T3));
        var small = Vector256.FusedMultiplyAdd(x * x2, q, x);
        var t = ExpUnclamped(Vector256.Create(-2f) * a);
        var large = (Vector256<float>.One - t) / (Vector256<float>.One + t) | (x & Vector256.Create(-0f));
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(SmallTanh)), small, large);
    }

    /// <inheritdoc cref="Tanh(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Tanh(Vector128<float> x)
    {
        var a = Vector128.Abs(x);
        var x2 = x * x;
        var q = Fused.MultiplyAdd(x2, Vector128.Create(T13), Vector128.Create(T11));
        q = Fused.MultiplyAdd(q, x2, Vector128.Create(T9));
        q = Fused.MultiplyAdd(q, x2, Vector128.Create(T7));
        q = Fused.MultiplyAdd(q, x2, Vector128.Create(T5));
        q = Fused.MultiplyAdd(q, x2, Vector128.Create(T3));
        var small = Fused.MultiplyAdd(x * x2, q, x);
        var t = ExpUnclamped(Vector128.Create(-2f) * a);
        var large = (Vector128<float>.One - t) / (Vector128<float>.One + t) | (x & Vector128.Create(-0f));
        return Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(SmallTanh)), small, large);
    }
}
