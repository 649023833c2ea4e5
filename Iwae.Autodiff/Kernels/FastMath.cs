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
    // Every polynomial runs as fused multiply-adds: a * b + c rounded once. IEEE 754 defines the fused result
    // exactly, so the scalar, Vector256 and Vector512 forms still agree to the bit, and it is one instruction.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float F(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> F(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> F(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

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
        float r = MathF.FusedMultiplyAdd(-n, Ln2Lo, MathF.FusedMultiplyAdd(-n, Ln2Hi, x));
        float p = F(r, F(r, F(r, F(r, F(r, F(r, P6, P5), P4), P3), P2), 1f), 1f);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var tiny = Vector512.LessThan(x, Vector512.Create(MinX));
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = F(-n, Vector512.Create(Ln2Lo), F(-n, Vector512.Create(Ln2Hi), x));
        var one = Vector512<float>.One;
        var p = F(r, F(r, F(r, F(r, F(r, F(r, Vector512.Create(P6), Vector512.Create(P5)), Vector512.Create(P4)), Vector512.Create(P3)), Vector512.Create(P2)), one), one);
        var scale = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;
        return Vector512.AndNot(p * scale.AsSingle(), tiny);
    }

    /// <inheritdoc cref="Exp(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var tiny = Vector256.LessThan(x, Vector256.Create(MinX));
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = F(-n, Vector256.Create(Ln2Lo), F(-n, Vector256.Create(Ln2Hi), x));
        var one = Vector256<float>.One;
        var p = F(r, F(r, F(r, F(r, F(r, F(r, Vector256.Create(P6), Vector256.Create(P5)), Vector256.Create(P4)), Vector256.Create(P3)), Vector256.Create(P2)), one), one);
        var scale = (Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23;
        return Vector256.AndNot(p * scale.AsSingle(), tiny);
    }

    // log1p(t) for t in [0, 1] as t q(t), q a degree-9 polynomial fitted to log1p(t) / t on [0, 1] (Chebyshev least
    // squares reweighted towards minimax; approximation error 4e-9, below float's rounding): no division, ten FMAs.
    // The factor t keeps full relative accuracy for small t. Coefficients: scripts/fit_log1p.py.
    private const float Q1 = -0.49999913573265076f, Q2 = 0.33330267667770386f, Q3 = -0.24957279860973358f, Q4 = 0.19692175090312958f,
        Q5 = -0.15352608263492584f, Q6 = 0.10683587938547134f, Q7 = -0.05775131285190582f, Q8 = 0.020274311304092407f, Q9 = -0.0033381045795977116f;

    /// <summary>log(1 + t) for t in [0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1pUnit(float t)
        => t * F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, Q9, Q8), Q7), Q6), Q5), Q4), Q3), Q2), Q1), 1f);

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log1pUnit(Vector512<float> t)
        => t * F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, Vector512.Create(Q9), Vector512.Create(Q8)), Vector512.Create(Q7)), Vector512.Create(Q6)),
            Vector512.Create(Q5)), Vector512.Create(Q4)), Vector512.Create(Q3)), Vector512.Create(Q2)), Vector512.Create(Q1)), Vector512<float>.One);

    /// <inheritdoc cref="Log1pUnit(float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1pUnit(Vector256<float> t)
        => t * F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, F(t, Vector256.Create(Q9), Vector256.Create(Q8)), Vector256.Create(Q7)), Vector256.Create(Q6)),
            Vector256.Create(Q5)), Vector256.Create(Q4)), Vector256.Create(Q3)), Vector256.Create(Q2)), Vector256.Create(Q1)), Vector256<float>.One);

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
            return F(x * x2, F(x2, F(x2, F(x2, F(x2, F(x2, T13, T11), T9), T7), T5), T3), x);
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
        var small = F(x * x2, F(x2, F(x2, F(x2, F(x2, F(x2, Vector512.Create(T13), Vector512.Create(T11)), Vector512.Create(T9)), Vector512.Create(T7)), Vector512.Create(T5)), Vector512.Create(T3)), x);
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
        var small = F(x * x2, F(x2, F(x2, F(x2, F(x2, F(x2, Vector256.Create(T13), Vector256.Create(T11)), Vector256.Create(T9)), Vector256.Create(T7)), Vector256.Create(T5)), Vector256.Create(T3)), x);
        var t = Exp(Vector256.Create(-2f) * a);
        var large = Vector256.CopySign((Vector256<float>.One - t) / (Vector256<float>.One + t), x);
        return Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(SmallTanh)), small, large);
    }
}
