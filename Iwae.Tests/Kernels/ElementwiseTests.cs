using Iwae.Autodiff.Kernels;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Kernels;

/// <summary>The elementwise driver on each SIMD path and the activation kernels, against plain loops, on odd sizes.</summary>
public class ElementwiseTests
{
    private static readonly int[] Lengths = [1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 65, 785];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var p in Simd.Available)
            foreach (var n in Lengths)
                yield return new TestCaseData(p, n);
    }

    [TestCaseSource(nameof(Cases))]
    public void BinaryOperators_MatchScalarLoops(SimdPath path, int n)
    {
        var x = Random<float>(1, n, 1).ToArray();
        var y = Random<float>(1, n, 2).ToArray();
        var d0 = Random<float>(1, n, 3).ToArray();
        foreach (bool acc in new[] { false, true })
        {
            Check<AddOperator<float>>((a, b) => a + b);
            Check<SubtractOperator<float>>((a, b) => a - b);
            Check<MultiplyOperator<float>>((a, b) => a * b);
            Check<TanhGradOperator<float>>((yy, dy) => dy * MathF.FusedMultiplyAdd(-yy, yy, 1));

            void Check<TOp>(Func<float, float, float> f) where TOp : IBinaryOperator<float>
            {
                var d = (float[])d0.Clone();
                Elementwise.Map<TOp, float>(x, y, d, acc, path);
                for (int i = 0; i < n; i++)
                    Assert.That(d[i], Is.EqualTo(acc ? d0[i] + f(x[i], y[i]) : f(x[i], y[i])), $"{typeof(TOp).Name} acc={acc} i={i}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void TanhGrad_Double_MatchesNaiveTwin(SimdPath path, int n)
    {
        var y = Random<double>(1, n, 4).ToArray();
        var dy = Random<double>(1, n, 5).ToArray();
        var fast = Random<double>(1, n, 6).ToArray();
        var naive = (double[])fast.Clone();
        var scalar = (double[])fast.Clone();
        Elementwise.Map<TanhGradOperator<double>, double>(y, dy, fast, accumulate: true, path);
        Elementwise.Map<TanhGradOperator<double>, double>(y, dy, scalar, accumulate: true, SimdPath.Scalar);
        ActivationsNaive.TanhGrad<double>(y, dy, naive);
        // 1 - y^2 is one fused multiply-add in the kernel and two roundings in the twin.
        Assert.That(MaxAbsDiff(fast, naive), Is.LessThan(1e-15));
        Assert.That(fast.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(scalar.Select(BitConverter.DoubleToInt64Bits)), "every path, the scalar bits");
    }

    [TestCase(1, 1)]
    [TestCase(3, 7)]
    [TestCase(5, 33)]
    [TestCase(2, 785)]
    public void BiasTanh_Tanh_Exp_MatchNaiveTwins(int rows, int cols)
    {
        var bias = Random<float>(1, cols, 7, 2).ToArray();
        var x = Random<float>(rows, cols, 8, 4).ToArray();
        var (fast, naive) = ((float[])x.Clone(), (float[])x.Clone());
        Activations.BiasTanh<float>(fast, bias);
        ActivationsNaive.BiasTanh<float>(naive, bias);
        for (int i = 0; i < fast.Length; i++) Assert.That(fast[i], Is.EqualTo(naive[i]).Within(2e-6f));

        var xd = Random<double>(rows, cols, 9, 20).ToArray();
        var (f1, n1) = (new double[xd.Length], new double[xd.Length]);
        Activations.Tanh<double>(xd, f1);
        ActivationsNaive.Tanh<double>(xd, n1);
        Assert.That(MaxAbsDiff(f1, n1), Is.LessThan(1e-15));
        Activations.Exp<double>(xd, f1);
        ActivationsNaive.Exp<double>(xd, n1);
        for (int i = 0; i < f1.Length; i++) Assert.That(f1[i], Is.EqualTo(n1[i]).Within(1e-12).Percent);
    }

    [TestCase(0.0)]
    [TestCase(1e-3)]
    [TestCase(30.0)]
    [TestCase(-30.0)]
    [TestCase(1e4)]
    [TestCase(-1e4)]
    public void Softplus_And_Sigmoid_AreStable(double x)
    {
        double sp = Activations.Softplus(x);
        double reference = x > 30 ? x + Math.Exp(-x) : Math.Log(1 + Math.Exp(x));
        Assert.That(sp, Is.EqualTo(reference).Within(1e-15 * Math.Max(1, Math.Abs(reference))));
        float spf = Activations.Softplus((float)x);
        Assert.That(float.IsFinite(spf), Is.True);
        double s = Activations.Sigmoid(x);
        Assert.That(s, Is.EqualTo(1 / (1 + Math.Exp(-x))).Within(1e-15));
        Assert.That(float.IsFinite(Activations.Sigmoid((float)x)), Is.True);
    }
}
