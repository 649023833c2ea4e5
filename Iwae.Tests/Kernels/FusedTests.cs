using System.Runtime.Intrinsics;
using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The fused multiply-add emulation for x64 without FMA hardware (<c>Fused.Emulated</c>, the vector and the scalar form) against the correctly
/// rounded fmaf (MathF.FusedMultiplyAdd: the FMA instruction, or the C library's), bit for bit, on the cases where
/// rounding twice would go wrong: sums exactly halfway between two floats once rounded to double, normal and subnormal.
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
    public void HalfwayInDouble_RoundsTowardTheExactSum([Values(0, -70)] int scale, [Values(1, -1)] int side)
    {
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 exactly: halfway between two floats. A tiny c decides the rounding, but a
        // double sum drops it (2^-100 is far below the double's last bit), and rounding that double to float would tie to even.
        float a = Pow2(scale) * (1 + Pow2(-12));
        Check(a, a, side * Pow2(2 * scale - 100));
        Check(-a, a, side * Pow2(2 * scale - 100));
    }

    [Test]
    public void HalfwayInTheSubnormalRange_RoundsTowardTheExactSum([Values(1, -1)] int side)
    {
        // (2^-70 (1 + 2^-5))^2 = 2^-140 (1 + 2^-4 + 2^-10): subnormal floats near 2^-140 have 9 bits after the leading
        // one, so this is halfway between two of them.
        float a = Pow2(-70) * (1 + Pow2(-5));
        Check(a, a, side * Pow2(-200));
        Check(a, -a, side * Pow2(-200));
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
}
