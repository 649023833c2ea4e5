using System.Runtime.Intrinsics;
using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The fused multiply-add emulation for x64 without FMA hardware (<c>Fused.Emulated</c>, the vector and the scalar form) against the correctly
/// rounded fmaf (MathF.FusedMultiplyAdd: the FMA instruction, or the C library's), bit for bit, on the cases where
/// rounding twice would go wrong: sums exactly halfway between two floats once rounded to double, normal and subnormal.
/// The emulation narrows the double sum directly unless it lands on a float midpoint or in the subnormal range, so the
/// cases below also sit on those edges (ties true and false, the normal/subnormal border, the overflow threshold, signed
/// zeros) and sweep random and GEMM-like inputs four lanes at a time against the vector instruction.
/// </summary>
public class FusedTests
{
    private static void Check(float a, float b, float c)
    {
        float want = MathF.FusedMultiplyAdd(a, b, c);
        foreach (float got in new[] { Fused.Emulated(Vector128.Create(a), Vector128.Create(b), Vector128.Create(c)).ToScalar(), Fused.Emulated(a, b, c) })
        {
            if (float.IsNaN(want)) Assert.That(float.IsNaN(got), Is.True, $"fma({a:R}, {b:R}, {c:R}) = NaN, emulated {got:R}");
            else if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(want))
                Assert.Fail($"fma({a:R}, {b:R}, {c:R}) = {want:R}, emulated {got:R}");
        }
    }

    private static float Pow2(int e) => (float)Math.ScaleB(1.0, e);

    [Test]
    public void HalfwayInDouble_RoundsTowardTheExactSum([Values(0, -10)] int scale, [Values(1, -1)] int side)
    {
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 exactly: halfway between two floats. A tiny c (a normal float, 2^-100 times
        // the product) decides the rounding, but a double sum drops it (far below the double's last bit), and rounding
        // that double to float would tie to even.
        float a = Pow2(scale) * (1 + Pow2(-12));
        Check(a, a, side * Pow2(2 * scale - 100));
        Check(-a, a, side * Pow2(2 * scale - 100));
    }

    [Test]
    public void HalfwayInTheSubnormalRange_TiesToEven([Values(1, -1)] int side)
    {
        // (2^-70 (1 + 2^-5))^2 = 2^-140 (1 + 2^-4 + 2^-10): subnormal floats near 2^-140 have 9 bits after the leading
        // one, so this is halfway between two of them. No float c can break the tie (the smallest, 2^-149, is a whole
        // subnormal step: the sum is the next midpoint), so each rounds to even as the instruction does. Ties broken by a
        // tiny error in this range: SubnormalMidpoints_WithATinyError_RoundTowardTheExactSum.
        float a = Pow2(-70) * (1 + Pow2(-5));
        Check(a, a, 0f);
        Check(a, -a, 0f);
        Check(a, a, side * float.Epsilon);
        Check(a, -a, side * float.Epsilon);
    }

    [Test]
    public void SpecialValues_AsTheInstruction()
    {
        float[] v = [0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, float.PositiveInfinity,
                     float.NegativeInfinity, float.NaN, 1.17549435e-38f, 3e-39f, 0.1f, 3.4e38f, 1e-30f];
        foreach (float a in v) foreach (float b in v) foreach (float c in v) Check(a, b, c);
    }

    [Test]
    public void RandomBitsAndNearCancellations_AsTheInstruction()
    {
        var rng = new Rng(26);
        for (int i = 0; i < 200_000; i++)
        {
            float a = BitConverter.Int32BitsToSingle((int)rng.NextULong()), b = BitConverter.Int32BitsToSingle((int)rng.NextULong());
            float c = i % 2 == 0 ? BitConverter.Int32BitsToSingle((int)rng.NextULong()) : -a * b * (1 + (rng.NextFloat() - 0.5f) * 1e-6f);
            Check(a, b, c);
        }
    }

    [Test]
    public void EachLane_OnItsOwn()
    {
        var a = Vector128.Create(1.5f, -2f, 3e-39f, 7f);
        var b = Vector128.Create(2f, 0.25f, 0.5f, -1e30f);
        var c = Vector128.Create(-3f, 1f, 1e-45f, 1e37f);
        var got = Fused.Emulated(a, b, c);
        for (int i = 0; i < 4; i++) Assert.That(got[i], Is.EqualTo(MathF.FusedMultiplyAdd(a[i], b[i], c[i])));
    }

    // Each lane of the vector emulation against the vector instruction (or the runtime's per-lane fmaf without it).
    private static void CheckLanes(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        var want = Vector128.FusedMultiplyAdd(a, b, c);
        var got = Fused.Emulated(a, b, c);
        for (int i = 0; i < 4; i++)
        {
            if (float.IsNaN(want[i])) Assert.That(float.IsNaN(got[i]), Is.True, $"lane {i}: fma({a[i]:R}, {b[i]:R}, {c[i]:R}) = NaN, emulated {got[i]:R}");
            else if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(want[i]))
                Assert.Fail($"lane {i}: fma({a[i]:R}, {b[i]:R}, {c[i]:R}) = {want[i]:R}, emulated {got[i]:R}");
        }
    }

    private static float Bits(int bits) => BitConverter.Int32BitsToSingle(bits);

    [Test]
    public void ProductOnAMidpoint_TiesAndNearTies([Values(-100, -20, 0, 20, 60)] int scale)
    {
        // a*b = (1 + 2^-12)^2 2^(2 scale) = 2^(2 scale) (1 + 2^-11 + 2^-24): a float midpoint. c = 0 is a true tie (to
        // even); c a few units of the double's last bit or far below it decides either way; c that moves the sum to the
        // next midpoint or onto a float keeps it exact.
        float a = Pow2(scale) * (1 + Pow2(-12));
        foreach (int sign in new[] { 1, -1 })
        {
            float x = sign * a;
            foreach (float c in new[] { 0f, -0f, Pow2(2 * scale - 24), -Pow2(2 * scale - 24), Pow2(2 * scale - 23), -Pow2(2 * scale - 23),
                                        Pow2(2 * scale - 52), -Pow2(2 * scale - 52), Pow2(2 * scale - 54), -Pow2(2 * scale - 54),
                                        Pow2(2 * scale - 80), -Pow2(2 * scale - 80), Pow2(2 * scale - 120), -Pow2(2 * scale - 120), float.Epsilon, -float.Epsilon })
            {
                Check(x, a, c);
                Check(a, x, c);
            }
        }
    }

    [Test]
    public void SumOnAMidpoint_AfterTheDoubleDroppedTheProductsLastBits_AsTheInstruction()
    {
        // a*b = 2^e (1 - u^2 2^-46) (a = 2^ea (1 + u 2^-23), b = 2^eb (1 - u 2^-23)), c = 2^(e+24) + an odd or even
        // number of its ulps (2^(e+1)): for u^2 < 2^17, c + a*b and c - a*b round in double to c +- 2^e, a midpoint,
        // while the exact sum lies u^2 2^(e-46) inside it (larger u: near misses); random signs and exponents, so both
        // directions and both parities.
        var rng = new Rng(2626);
        for (int i = 0; i < 100_000; i++)
        {
            int u = 1 + (int)(rng.NextULong() % 1000), ea = (int)(rng.NextULong() % 100) - 60, eb = (int)(rng.NextULong() % 100) - 60, e = ea + eb;
            float a = Pow2(ea) * (1 + u * Pow2(-23)), b = Pow2(eb) * (1 - u * Pow2(-23));
            float c = (Pow2(24) + 2 * (int)(rng.NextULong() % 1000)) * Pow2(e);
            if (rng.NextULong() % 2 == 0) a = -a;
            if (rng.NextULong() % 2 == 0) c = -c;
            Check(a, b, c);
            CheckLanes(Vector128.Create(a, -a, b, -b), Vector128.Create(b, b, a, a), Vector128.Create(c, c, -c, c));
        }
    }

    [Test]
    public void SubnormalResults_AndTheNormalBorder_AsTheInstruction()
    {
        var rng = new Rng(126);
        float min = Pow2(-126);
        foreach (float a in new[] { min, min * (1 + Pow2(-23)), min * (1 - Pow2(-23)), min * (1 + Pow2(-12)), min * 1.5f, float.Epsilon, 3e-39f })
            foreach (float b in new[] { 1f, 1 - Pow2(-24), 1 + Pow2(-23), 1 - Pow2(-12), 0.5f, 0.75f, 1 + Pow2(-12), 2 - Pow2(-23) })
                foreach (float c in new[] { 0f, -0f, float.Epsilon, -float.Epsilon, 2 * float.Epsilon, -min, min, -min * 0.5f, min * 0.5f, Pow2(-150), -Pow2(-200), Pow2(-200) })
                {
                    Check(a, b, c);
                    Check(-a, b, c);
                }
        for (int i = 0; i < 100_000; i++)
        {
            // products near 2^-126 and below, c a float of the same size: sums on both sides of the border
            float a = (1 + rng.NextFloat()) * Pow2(-63 - (int)(rng.NextULong() % 20)), b = (1 + rng.NextFloat()) * Pow2(-63);
            float c = (rng.NextFloat() - 0.5f) * Pow2(-124 - (int)(rng.NextULong() % 30));
            Check(a, b, c);
        }
    }

    [Test]
    public void SubnormalMidpoints_WithATinyError_RoundTowardTheExactSum([Values(0, 1, 10, 22)] int k, [Values(-20, 0, 20)] int shift)
    {
        // a*b = 2^-150 (1 - 2^-46): half a subnormal ulp less 2^-196. Added to or taken from a subnormal c with an odd
        // or even count of ulps, the double sum drops the 2^-196 and lands on a midpoint (which ties to even), while the
        // exact sum lies just inside it. (A float c of 2^-200, as above, is zero: those are true ties.)
        float a = Pow2(-75 + shift) * (1 + Pow2(-23)), b = Pow2(-75 - shift) * (1 - Pow2(-23));
        foreach (int units in new[] { (1 << k) + 1, 1 << k, (1 << k) + 2, (1 << k) + 3, (1 << k) - 1 })
        {
            float c = units * float.Epsilon;
            Assert.That(float.IsSubnormal(c) || units == 0, Is.True);
            foreach (int sign in new[] { 1, -1 })
            {
                Check(a, b, sign * c);
                Check(-a, b, sign * c);
                Check(b, a, sign * c);
                CheckLanes(Vector128.Create(a, -a, a, -a), Vector128.Create(b), Vector128.Create(sign * c, sign * c, -sign * c, 0f));
            }
        }
    }

    [Test]
    public void OverflowThreshold_AsTheInstruction()
    {
        // 18631 * 1801 = 2^25 - 1, so a*b = 2^103 (2^25 - 1) = FLT_MAX + half an ulp, the threshold: ties to even
        // overflow to infinity; anything below gives FLT_MAX.
        float a = 18631f * Pow2(50), b = 1801f * Pow2(53);
        Assert.That((double)a * b, Is.EqualTo((double)float.MaxValue + Math.ScaleB(1.0, 103)));
        foreach (int sign in new[] { 1, -1 })
            foreach (float c in new[] { 0f, -0f, 1f, -1f, Pow2(20), -Pow2(20), Pow2(74), -Pow2(74), Pow2(75), -Pow2(75), Pow2(76), -Pow2(76),
                                        Pow2(102), -Pow2(102), Pow2(103), -Pow2(103), Pow2(104), -Pow2(104), float.MaxValue, -float.MaxValue,
                                        float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon })
            {
                Check(sign * a, b, c);
                Check(b, sign * a, sign * c);
            }
        foreach (float c in new[] { 0f, Pow2(103), -Pow2(103), Pow2(104), -Pow2(104), Pow2(80), -Pow2(80) })
        {
            Check(float.MaxValue, 1f, c);
            Check(float.MaxValue, 1 + Pow2(-23), c);
            Check(float.MaxValue, 1 - Pow2(-24), c);
            Check(Pow2(64), Pow2(63), c);
            Check(Pow2(64), Pow2(64), -float.MaxValue);
        }
    }

    [Test]
    public void ZeroResults_CarryTheSignOfTheInstruction()
    {
        float[] v = [0f, -0f, 1f, -1f, 3f, -3f, 6f, -6f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f];
        foreach (float a in v) foreach (float b in v) foreach (float c in v) Check(a, b, c);
        Check(2f, 3f, -6f);
        Check(-2f, 3f, 6f);
        Check(float.Epsilon, 0.5f, 0f);          // 2^-150: a tie between 0 and the smallest subnormal
        Check(-float.Epsilon, 0.5f, -0f);
        Check(-float.Epsilon, 0.5f, 0f);
        Check(1e-30f, 1e-30f, -0f);               // underflows to +0
        Check(-1e-30f, 1e-30f, 0f);               // underflows to -0
    }

    [Test]
    public void OneNaN_GivesThatNaNQuieted_AsTheInstruction()
    {
        // With one NaN operand the instruction returns that NaN, quieted; so does the emulation (a widened float NaN
        // keeps its payload, and narrowing gives it back).
        float[] nans = [float.NaN, Bits(0x7FC0_1234), Bits(unchecked((int)0xFFC0_0001)), Bits(0x7F80_0001), Bits(unchecked((int)0xFFBF_FFFF))];
        float[] v = [0f, -0f, 1f, -2.5f, float.MaxValue, float.Epsilon, float.PositiveInfinity, float.NegativeInfinity];
        foreach (float n in nans)
            foreach (float x in v)
                foreach (float y in v)
                {
                    int want = BitConverter.SingleToInt32Bits(n) | 0x0040_0000;
                    float[] got = [Fused.Emulated(n, x, y), Fused.Emulated(x, n, y), Fused.Emulated(Vector128.Create(n), Vector128.Create(x), Vector128.Create(y)).ToScalar(),
                                   Fused.Emulated(Vector128.Create(x), Vector128.Create(n), Vector128.Create(y)).ToScalar()];
                    if (!(float.IsInfinity(x) && y == 0 || x == 0 && float.IsInfinity(y)))
                        got = [.. got, Fused.Emulated(x, y, n), Fused.Emulated(Vector128.Create(x), Vector128.Create(y), Vector128.Create(n)).ToScalar()];
                    foreach (float g in got) Assert.That(BitConverter.SingleToInt32Bits(g), Is.EqualTo(want), $"NaN {want:X8} with {x:R}, {y:R}");
                }
    }

    [Test]
    public void RandomBitPatterns_FourLanes_AsTheVectorInstruction()
    {
        var rng = new Rng(2026);
        Vector128<float> Next() => Vector128.Create((int)rng.NextULong(), (int)rng.NextULong(), (int)rng.NextULong(), (int)rng.NextULong()).AsSingle();
        for (int i = 0; i < 300_000; i++)
        {
            Vector128<float> a = Next(), b = Next();
            // c: random bits, or minus the product give or take a few ulps (cancellation; results near zero or subnormal)
            var c = i % 2 == 0 ? Next() : -(a * b) * Vector128.Create(1 + (rng.NextFloat() - 0.5f) * 1e-6f, 1f, 1 - Pow2(-23), 1 + Pow2(-22));
            CheckLanes(a, b, c);
        }
    }

    [Test]
    public void ShortMantissas_OftenOnAMidpoint_AsTheVectorInstruction()
    {
        // Factors with few significant bits make products that are floats or float midpoints exactly, and small c make
        // sums on a midpoint (true ties) or a double's last bit away from one.
        var rng = new Rng(1226);
        float Short(int bits, int e) => (1 + (float)(rng.NextULong() >> (64 - bits)) * Pow2(-bits)) * Pow2(e) * (rng.NextULong() % 2 == 0 ? 1 : -1);
        for (int i = 0; i < 200_000; i++)
        {
            int e = (int)(rng.NextULong() % 60) - 30;
            var a = Vector128.Create(Short(12, e), Short(13, e), Short(8, -e), Short(16, 0));
            var b = Vector128.Create(Short(12, 0), Short(12, -e), Short(16, e), Short(9, e));
            var scale = Vector128.Create(Pow2(2 * e - 24), Pow2(-e - 24), Pow2(-30), Pow2(e - 48));
            var c = (i % 3) switch
            {
                0 => Vector128.Create(0f, -0f, 0f, -0f),
                1 => Vector128.Create(Short(3, 0), Short(2, 0), Short(1, 0), Short(4, 0)) * scale,
                _ => Vector128.Create(Short(5, -30), Short(5, -60), Short(5, -20), Short(5, -40)) * scale,
            };
            CheckLanes(a, b, c);
        }
    }

    [Test]
    public void GemmLikeChains_AsTheVectorInstruction()
    {
        // What a layer's GEMM does: 784 fused steps into one accumulator per lane, inputs like pixels (many zeros and k/255)
        // and small normal weights; every step compared, the hardware chain and the emulated one kept apart.
        var rng = new Rng(784);
        for (int chain = 0; chain < 400; chain++)
        {
            Vector128<float> want = Vector128<float>.Zero, got = Vector128<float>.Zero;
            for (int q = 0; q < 784; q++)
            {
                float pixel = rng.NextULong() % 3 == 0 ? 0f : (int)(rng.NextULong() % 256) / 255f;
                var x = Vector128.Create(pixel);
                var w = Vector128.Create((float)(rng.NextNormal() * 0.05), (float)(rng.NextNormal() * 0.05), (float)rng.NextNormal(), (float)(rng.NextNormal() * 1e-3));
                var nextWant = Vector128.FusedMultiplyAdd(x, w, want);
                var nextGot = Fused.Emulated(x, w, got);
                Assert.That(nextGot.AsInt32(), Is.EqualTo(nextWant.AsInt32()), $"chain {chain}, step {q}: fma({x}, {w}, {got})");
                CheckLanes(w, x, want);
                want = nextWant;
                got = nextGot;
            }
        }
    }

    /// <summary>
    /// c - a*b and a*b - c (one instruction each where the machine has one: vfnmadd and vfmsub, ARM64's fmls) give the
    /// bits of MultiplyAdd with the operand negated, in every width, on random bit patterns and special values; a NaN
    /// only as a NaN (its sign is not promised).
    /// </summary>
    [Test]
    public void NegatedForms_AsMultiplyAddWithTheOperandNegated()
    {
        var rng = new Rng(17);
        float[] special = [0f, -0f, 1f, -1f, float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-40f, 3e38f];
        float Pick() => rng.NextFloat() < 0.2f ? special[rng.NextInt(special.Length)] : BitConverter.Int32BitsToSingle((int)rng.NextULong());
        var (a, b, c) = (new float[16], new float[16], new float[16]);
        // Each width fills the 16 lanes of both forms (n: c - a*b, s: a*b - c) and of their MultiplyAdd twins.
        var (n, nWant, sub, subWant) = (new float[16], new float[16], new float[16], new float[16]);
        for (int round = 0; round < 4000; round++)
        {
            for (int i = 0; i < 16; i++) (a[i], b[i], c[i]) = (Pick(), Pick(), Pick());
            for (int i = 0; i < 16; i++)
            {
                Same(Fused.MultiplyAddNegated(a[i], b[i], c[i]), Fused.MultiplyAdd(-a[i], b[i], c[i]), a[i], b[i], c[i]);
                Same(Fused.MultiplySubtract(a[i], b[i], c[i]), Fused.MultiplyAdd(a[i], b[i], -c[i]), a[i], b[i], c[i]);
            }
            for (int i = 0; i < 16; i += 4)
            {
                var (va, vb, vc) = (Vector128.Create(a, i), Vector128.Create(b, i), Vector128.Create(c, i));
                Fused.MultiplyAddNegated(va, vb, vc).CopyTo(n, i);
                Fused.MultiplyAdd(-va, vb, vc).CopyTo(nWant, i);
                Fused.MultiplySubtract(va, vb, vc).CopyTo(sub, i);
                Fused.MultiplyAdd(va, vb, -vc).CopyTo(subWant, i);
            }
            SameAll(n, nWant, sub, subWant, a, b, c);
            for (int i = 0; i < 16; i += 8)
            {
                var (va, vb, vc) = (Vector256.Create(a, i), Vector256.Create(b, i), Vector256.Create(c, i));
                Fused.MultiplyAddNegated(va, vb, vc).CopyTo(n, i);
                Fused.MultiplyAdd(-va, vb, vc).CopyTo(nWant, i);
                Fused.MultiplySubtract(va, vb, vc).CopyTo(sub, i);
                Fused.MultiplyAdd(va, vb, -vc).CopyTo(subWant, i);
            }
            SameAll(n, nWant, sub, subWant, a, b, c);
            var (wa, wb, wc) = (Vector512.Create(a), Vector512.Create(b), Vector512.Create(c));
            Fused.MultiplyAddNegated(wa, wb, wc).CopyTo(n);
            Fused.MultiplyAdd(-wa, wb, wc).CopyTo(nWant);
            Fused.MultiplySubtract(wa, wb, wc).CopyTo(sub);
            Fused.MultiplyAdd(wa, wb, -wc).CopyTo(subWant);
            SameAll(n, nWant, sub, subWant, a, b, c);
        }
    }

    private static void SameAll(float[] n, float[] nWant, float[] sub, float[] subWant, float[] a, float[] b, float[] c)
    {
        for (int i = 0; i < n.Length; i++)
        {
            Same(n[i], nWant[i], a[i], b[i], c[i]);
            Same(sub[i], subWant[i], a[i], b[i], c[i]);
        }
    }

    private static void Same(float got, float want, float a, float b, float c)
    {
        if (float.IsNaN(want)) Assert.That(float.IsNaN(got), Is.True, $"({a:R}, {b:R}, {c:R}): NaN wanted, got {got:R}");
        else if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(want))
            Assert.Fail($"({a:R}, {b:R}, {c:R}): {want:R} wanted, got {got:R}");
    }
}
