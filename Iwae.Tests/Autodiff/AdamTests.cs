using Iwae.Autodiff;

namespace Iwae.Tests.Autodiff;

public class AdamTests
{
    [Test]
    public void FirstStep_MovesEachWeightByLearningRateAgainstTheGradientSign()
    {
        // With bias correction, step 1 is lr * g / (|g| + eps'): about lr * sign(g).
        var p = new Parameter<double>("w", Tensor<double>.FromArray(1, 3, [1.0, -2.0, 0.5]));
        p.Grad.Span[0] = 3; p.Grad.Span[1] = -0.01; p.Grad.Span[2] = 0;
        var adam = new Adam<double>([p], 0.1, 0.9, 0.999, 1e-8);
        adam.Step();
        Assert.That(p.Value[0, 0], Is.EqualTo(0.9).Within(1e-8));
        Assert.That(p.Value[0, 1], Is.EqualTo(-1.9).Within(1e-5));
        Assert.That(p.Value[0, 2], Is.EqualTo(0.5));
        Assert.That(adam.StepCount, Is.EqualTo(1));
    }

    [Test]
    public void MatchesTheReferenceFormula_OverSeveralSteps()
    {
        var p = new Parameter<double>("w", Tensor<double>.FromArray(1, 2, [0.3, -0.7]));
        var adam = new Adam<double>([p], 1e-3, 0.99, 0.999, 1e-4);
        double[] w = [0.3, -0.7], m = new double[2], v = new double[2];
        for (int t = 1; t <= 5; t++)
        {
            for (int i = 0; i < 2; i++) p.Grad.Span[i] = Math.Sin(t + i) * (i + 1);
            adam.Step();
            for (int i = 0; i < 2; i++)
            {
                double g = Math.Sin(t + i) * (i + 1);
                m[i] = 0.99 * m[i] + 0.01 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                double mh = m[i] / (1 - Math.Pow(0.99, t)), vh = v[i] / (1 - Math.Pow(0.999, t));
                w[i] -= 1e-3 * mh / (Math.Sqrt(vh) + 1e-4);          // Kingma and Ba, Algorithm 1
            }
            Assert.That(p.Value[0, 0], Is.EqualTo(w[0]).Within(1e-12), $"step {t}");
            Assert.That(p.Value[0, 1], Is.EqualTo(w[1]).Within(1e-12), $"step {t}");
        }
    }

    [Test]
    public void Minimises_AQuadratic()
    {
        var p = new Parameter<float>("w", Tensor<float>.FromArray(1, 2, [3f, -4f]));
        var adam = new Adam<float>([p], 0.05);
        var tape = new Tape<float>();
        for (int i = 0; i < 500; i++)
        {
            p.ZeroGrad();
            var w = tape.Param(p);
            tape.Backward(tape.Sum(tape.Mul(w, w)));
            adam.Step();
            tape.Reset();
        }
        Assert.That(Math.Abs(p.Value[0, 0]) + Math.Abs(p.Value[0, 1]), Is.LessThan(0.05f));
    }

    [Test]
    public void RejectsBadHyperparameters()
    {
        var ps = new[] { new Parameter<float>("w", 1, 1) };
        Assert.That(() => new Adam<float>(ps, -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new Adam<float>(ps, 1e-3, beta1: 1.0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new Adam<float>(ps, 1e-3, epsilon: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}

public class AdamKernelPathTests
{
    private static IEnumerable<TestCaseData> Cases() =>
        from p in Iwae.Autodiff.Kernels.Simd.Available from n in new[] { 1, 7, 15, 16, 17, 33, 785 } select new TestCaseData(p, n);

    [TestCaseSource(nameof(Cases))]
    public void EveryPath_IsBitIdenticalToScalar(Iwae.Autodiff.Kernels.SimdPath path, int n)
    {
        var rng = new Rng(3);
        float[] R() => Enumerable.Range(0, n).Select(_ => (float)(rng.NextNormal() * 0.1)).ToArray();
        var (w, g, m, v) = (R(), R(), R(), R().Select(Math.Abs).ToArray());
        var (w2, m2, v2) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        var adam = new Adam<float>([new Parameter<float>("p", 1, 1)], 1e-3, 0.99, 0.999, 1e-4);
        adam.Update(w, g, m, v, 1e-2f, 0.3f, path);
        adam.Update(w2, g, m2, v2, 1e-2f, 0.3f, Iwae.Autodiff.Kernels.SimdPath.Scalar);
        Assert.That(w, Is.EqualTo(w2));
        Assert.That(m, Is.EqualTo(m2));
        Assert.That(v, Is.EqualTo(v2));
    }

    [TestCaseSource(nameof(Cases))]
    public void OnceTheSecondMomentCorrectionIsOne_EveryPathGivesTheFormulaWithItsDivision(Iwae.Autodiff.Kernels.SimdPath path, int n)
    {
        var rng = new Rng(4);
        float[] R() => Enumerable.Range(0, n).Select(_ => (float)(rng.NextNormal() * 0.1)).ToArray();
        var (w, g, m, v) = (R(), R(), R(), R().Select(Math.Abs).ToArray());
        v[0] = 0;                                                   // sqrt(0) / 1: the eps-only denominator
        var p = new Parameter<float>("p", 1, n);
        w.CopyTo(p.Value.Span);
        g.CopyTo(p.Grad.Span);
        var adam = new Adam<float>([p], 1e-3, 0.99, 0.999, 1e-4);
        m.CopyTo(adam.FirstMoment(0));
        v.CopyTo(adam.SecondMoment(0));
        adam.SetStepCount(20_000);                                  // 1 - 0.999^20001 rounds to 1 in float
        float stepSize = 1e-3f / (1f - (float)Math.Pow(0.99, 20_001)), bc = MathF.Sqrt(1f - (float)Math.Pow(0.999, 20_001));
        Assert.That(bc, Is.EqualTo(1f), "the correction has rounded to 1");

        var (w2, m2, v2) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        adam.Update(w2, g, m2, v2, stepSize, bc, path);
        for (int i = 0; i < n; i++)
        {
            float mi = 0.99f * m[i] + (1f - 0.99f) * g[i];
            float vi = 0.999f * v[i] + (1f - 0.999f) * g[i] * g[i];
            float wi = w[i] - stepSize * mi / (MathF.Sqrt(vi) / bc + 1e-4f);
            Assert.That((BitConverter.SingleToInt32Bits(w2[i]), m2[i], vi), Is.EqualTo((BitConverter.SingleToInt32Bits(wi), mi, v2[i])), $"{path}, element {i}");
        }
        adam.Step(TestUtil.Threads(1));                             // the whole step takes the same path
        Assert.That(p.Value.Span.ToArray(), Is.EqualTo(w2));
    }
}
