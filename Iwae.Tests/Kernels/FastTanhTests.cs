using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Tests.Kernels;

/// <summary>The float32 tanh kernel on every SIMD path against float64 tanh, on odd sizes and across its branch point.</summary>
public class FastTanhTests
{
    private static IEnumerable<TestCaseData> Cases() =>
        from p in Simd.Available from n in new[] { 1, 7, 15, 16, 17, 33, 200, 785 } select new TestCaseData(p, n);

    [TestCaseSource(nameof(Cases))]
    public void MatchesFloat64Tanh(SimdPath path, int n)
    {
        var rng = new Rng((ulong)n);
        float[] special = [0f, -0f, 1e-30f, -1e-7f, 0.3999f, 0.4f, 0.4001f, -0.4f, 5f, -9f, 20f, -50f, 1e4f, -1e4f];
        var x = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? special[i / 3 % special.Length] : (float)(6 * rng.NextDouble() - 3)).ToArray();
        var y = new float[n];
        Elementwise.Map<TanhOperator, float>(x, y, path);
        for (int i = 0; i < n; i++)
        {
            double e = Math.Tanh(x[i]);
            Assert.That(y[i], Is.EqualTo(e).Within(2.5e-7 * Math.Abs(e) + 1e-37), $"tanh({x[i]:R})");
            Assert.That(Math.Abs(y[i]), Is.LessThanOrEqualTo(1f));
        }
    }

    [Test]
    public void IsOddAndAccurateOnADenseGrid()
    {
        double worst = 0;
        for (float v = -12f; v <= 12f; v += 0.000917f)
        {
            float t = FastMath.Tanh(v);
            Assert.That(FastMath.Tanh(-v), Is.EqualTo(-t));
            worst = Math.Max(worst, Math.Abs(t - Math.Tanh(v)) / Math.Max(1e-30, Math.Abs(Math.Tanh(v))));
        }
        TestContext.Out.WriteLine($"max relative error of FastMath.Tanh: {worst:E2}");
        Assert.That(worst, Is.LessThan(2.5e-7), "about two float ulp");
    }
}
