using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// Float32 exp, log1p-of-exp and sigmoid on Vector512, Vector256 and scalar, for the Bernoulli likelihood:
/// its 784 softplus terms per sample dominate the k=5000 evaluation once the GEMMs are fast, and
/// TensorPrimitives computes float exp through double. Accuracy: a few ulp (tested against float64 twins).
/// </summary>
public static class FastMath
{
    // exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 split in two parts (Cody-Waite), |r| <= ln2/2;
    // exp(r) by its degree-6 Taylor polynomial (error below 2e-8 relative on that interval).
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float MinX = -87.33654f;      // exp(MinX) is the smallest normal float
    private const float MaxX = 88f;           // 2^127 * exp(r) stays finite
    private const float P2 = 1f / 2, P3 = 1f / 6, P4 = 1f / 24, P5 = 1f / 120, P6 = 1f / 720;

    /// <summary>exp(x) for float x in [-87.3, 88]; below, 0 (no subnormals); above, exp(88).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (x < MinX) return 0f;
        x = MathF.Min(x, MaxX);
        float n = MathF.Round(x * Log2E);
        float r = x - n * Ln2Hi - n * Ln2Lo;
        float p = 1f + r * (1f + r * (P2 + r * (P3 + r * (P4 + r * (P5 + r * P6)))));
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var tiny = Vector512.LessThan(x, Vector512.Create(MinX));
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = x - n * Vector512.Create(Ln2Hi) - n * Vector512.Create(Ln2Lo);
        var p = Vector512<float>.One + r * (Vector512<float>.One + r * (Vector512.Create(P2) + r * (Vector512.Create(P3) + r * (Vector512.Create(P4) + r * (Vector512.Create(P5) + r * Vector512.Create(P6))))));
        return Vector512.AndNot(p * Pow2(n), tiny);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var tiny = Vector256.LessThan(x, Vector256.Create(MinX));
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = x - n * Vector256.Create(Ln2Hi) - n * Vector256.Create(Ln2Lo);
        var p = Vector256<float>.One + r * (Vector256<float>.One + r * (Vector256.Create(P2) + r * (Vector256.Create(P3) + r * (Vector256.Create(P4) + r * (Vector256.Create(P5) + r * Vector256.Create(P6))))));
        return Vector256.AndNot(p * Pow2(n), tiny);
    }

    /// <summary>
    /// 2^n for whole n in [-126, 127] (the range of <see cref="Exp(Vector512{float})"/>'s n), built in the exponent
    /// bits. The machine's plain conversion is enough: it turns a NaN n into int.MinValue where the saturating one
    /// gives 0, and the shift drops the one bit where they differ, so both give 1 (and the NaN comes through p).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Pow2(Vector512<float> n) => ((Vector512.ConvertToInt32Native(n) + Vector512.Create(127)) << 23).AsSingle();

    /// <inheritdoc cref="Pow2(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Pow2(Vector256<float> n) => ((Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23).AsSingle();

    // log1p(t) for t in [0, 1]: with s = t / (2 + t) in [0, 1/3], log(1 + t) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...);
    // s is computed without cancellation, so small t keep full relative accuracy. Seven terms reach 1e-8.
    private const float A3 = 1f / 3, A5 = 1f / 5, A7 = 1f / 7, A9 = 1f / 9, A11 = 1f / 11, A13 = 1f / 13;

    /// <summary>log(1 + t) for t in [0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1pUnit(float t)
    {
        float s = t / (2f + t), s2 = s * s;
        return 2f * s * (1f + s2 * (A3 + s2 * (A5 + s2 * (A7 + s2 * (A9 + s2 * (A11 + s2 * A13))))));
    }

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log1pUnit(Vector512<float> t)
    {
        var s = t / (Vector512.Create(2f) + t);
        var s2 = s * s;
        return Vector512.Create(2f) * s * (Vector512<float>.One + s2 * (Vector512.Create(A3) + s2 * (Vector512.Create(A5) + s2 * (Vector512.Create(A7) + s2 * (Vector512.Create(A9) + s2 * (Vector512.Create(A11) + s2 * Vector512.Create(A13)))))));
    }

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1pUnit(Vector256<float> t)
    {
        var s = t / (Vector256.Create(2f) + t);
        var s2 = s * s;
        return Vector256.Create(2f) * s * (Vector256<float>.One + s2 * (Vector256.Create(A3) + s2 * (Vector256.Create(A5) + s2 * (Vector256.Create(A7) + s2 * (Vector256.Create(A9) + s2 * (Vector256.Create(A11) + s2 * Vector256.Create(A13)))))));
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

    /// <summary>sigmoid(l) from t = exp(-|l|): 1/(1+t) for l >= 0, t/(1+t) below; never exp of a large positive number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float l) => Sigmoid(l, ExpNegAbs(l));

    /// <inheritdoc cref="Sigmoid(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> l) => Sigmoid(l, ExpNegAbs(l));

    /// <inheritdoc cref="Sigmoid(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> l) => Sigmoid(l, ExpNegAbs(l));

    // Softplus and sigmoid both start from t = exp(-|l|); these forms take t, so that a kernel needing both (the
    // Bernoulli likelihood with its backward residual) computes the exp once and gets the same bits as the two calls.

    /// <summary>t = exp(-|l|), in (0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpNegAbs(float l) => Exp(-MathF.Abs(l));

    /// <inheritdoc cref="ExpNegAbs(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNegAbs(Vector512<float> l) => Exp(-Vector512.Abs(l));

    /// <inheritdoc cref="ExpNegAbs(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNegAbs(Vector256<float> l) => Exp(-Vector256.Abs(l));

    /// <summary>softplus(l) given t = <see cref="ExpNegAbs(float)"/>(l).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Softplus(float l, float t) => MathF.Max(l, 0f) + Log1pUnit(t);

    /// <inheritdoc cref="Softplus(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Softplus(Vector512<float> l, Vector512<float> t) => Vector512.Max(l, Vector512<float>.Zero) + Log1pUnit(t);

    /// <inheritdoc cref="Softplus(float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Softplus(Vector256<float> l, Vector256<float> t) => Vector256.Max(l, Vector256<float>.Zero) + Log1pUnit(t);

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

    // tanh: for |x| < 0.4 its odd Taylor series to x^13 (next term below 2e-9); above, (1 - t) / (1 + t) with
    // t = exp(-2|x|) <= 0.45, where 1 - t has no cancellation. Sign restored last. Saturates to +-1 exactly.
    private const float T3 = -1f / 3, T5 = 2f / 15, T7 = -17f / 315, T9 = 62f / 2835, T11 = -1382f / 155925, T13 = 21844f / 6081075;
    private const float SmallTanh = 0.4f;

    /// <summary>tanh(x) for float, within 2 ulp-ish (about 2e-7 relative) of the float64 value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x)
    {
        float a = MathF.Abs(x);
        if (a < SmallTanh)
        {
            float x2 = x * x;
            return x + x * x2 * (T3 + x2 * (T5 + x2 * (T7 + x2 * (T9 + x2 * (T11 + x2 * T13)))));
        }
        float t = Exp(-2f * a);
        return MathF.CopySign((1f - t) / (1f + t), x);
    }

    /// <inheritdoc cref="Tanh(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var a = Vector512.Abs(x);
        var x2 = x * x;
        var small = x + x * x2 * (Vector512.Create(T3) + x2 * (Vector512.Create(T5) + x2 * (Vector512.Create(T7) + x2 * (Vector512.Create(T9) + x2 * (Vector512.Create(T11) + x2 * Vector512.Create(T13))))));
        var t = Exp(Vector512.Create(-2f) * a);
        var large = Vector512.CopySign((Vector512<float>.One - t) / (Vector512<float>.One + t), x);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(SmallTanh)), small, large);
    }

    /// <inheritdoc cref="Tanh(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        var a = Vector256.Abs(x);
        var x2 = x * x;
        var small = x + x * x2 * (Vector256.Create(T3) + x2 * (Vector256.Create(T5) + x2 * (Vector256.Create(T7) + x2 * (Vector256.Create(T9) + x2 * (Vector256.Create(T11) + x2 * Vector256.Create(T13))))));
        var t = Exp(Vector256.Create(-2f) * a);
        var large = Vector256.CopySign((Vector256<float>.One - t) / (Vector256<float>.One + t), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(SmallTanh)), small, large);
    }
}
