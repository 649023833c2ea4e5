using Iwae.Autodiff;
using Iwae.Core.Models;
using Iwae.Core.Training;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core.Models;

/// <summary>
/// A model small enough to integrate: a 1-D latent and a tiny decoder, so log p(x) = log int p(x|z) N(z) dz
/// can be computed by quadrature and the k = 5000 estimate compared with it.
/// </summary>
public class QuadratureTests
{
    private static readonly ModelConfig Tiny = new() { K = 5, InputSize = 12, Hidden = [6], Latent = 1 };

    /// <summary>log p(x) by the trapezoid rule on [-12, 12] in log space, using the model's own decoder in float64.</summary>
    private static double[] LogMarginalByQuadrature(Iwae<double> model, Tensor<double> x)
    {
        const int n = 24001;
        double lo = -12, h = 24.0 / (n - 1);
        var z = Tensor<double>.Zeros(n, 1);
        for (int i = 0; i < n; i++) z.Span[i] = lo + i * h;
        var result = new double[x.Rows];
        for (int b = 0; b < x.Rows; b++)
        {
            var t = new Tape<double> { NoGrad = true };
            var xs = t.RepeatRows(t.Constant(x.RowSlice(b, 1)), n);
            var zv = t.Constant(z);
            var logJoint = t.Add(model.Decoder.LogLikelihood(t, zv, xs), t.StandardNormalLogDensity(zv)).Value.Span;
            double m = double.NegativeInfinity;
            for (int i = 0; i < n; i++) m = Math.Max(m, logJoint[i]);
            double s = 0;
            for (int i = 0; i < n; i++) s += (i == 0 || i == n - 1 ? 0.5 : 1) * Math.Exp(logJoint[i] - m);
            result[b] = m + Math.Log(s * h);
        }
        return result;
    }

    /// <summary>
    /// A tiny model with a sharpened decoder. With <paramref name="trained"/> the encoder is fitted for a few hundred
    /// steps on data drawn from the model itself; otherwise q(z|x) is the prior N(0, 1).
    /// </summary>
    private static (Iwae<float> M32, Iwae<double> M64, Tensor<float> X32, Tensor<double> X64) Setup(bool trained)
    {
        var m32 = Iwae<float>.Create(Tiny, new Rng(21));
        foreach (var p in m32.Parameters)
        {
            var a = p.Value.Span;
            for (int i = 0; i < a.Length; i++) a[i] *= 2f;   // a sharper decoder: a less trivial posterior
        }
        foreach (var p in m32.Parameters.Where(p => p.Name.StartsWith("encoder.mu") || p.Name.StartsWith("encoder.logsigma")))
            p.Value.Span.Clear();
        var x32 = Sample(m32, 600, new Rng(22));
        if (trained)
        {
            var data = new Iwae.Core.Data.Dataset(x32, new byte[x32.Rows], 3, 4);
            // Training moves the decoder too; quadrature integrates whatever decoder the model ends with.
            new Trainer(m32, data, new TrainOptions { Epochs = 20, Seed = 5, LearningRate = 3e-3 }).Train();
        }
        var m64 = Iwae<double>.Create(Tiny, new Rng(21));
        CopyWeights(m32.Parameters, m64.Parameters);
        var x = x32.RowSlice(0, 6);
        var x64 = Tensor<double>.Zeros(6, 12);
        for (int i = 0; i < x.Length; i++) x64.Span[i] = x.Span[i];
        return (m32, m64, x.Clone(), x64);
    }

    /// <summary>x ~ p(x|z) p(z) from the model's decoder.</summary>
    private static Tensor<float> Sample(Iwae<float> m, int n, Rng rng)
    {
        var t = new Tape<float> { NoGrad = true };
        var z = Tensor<float>.Zeros(n, 1);
        rng.FillNormal(z.Span);
        var p = m.Decoder.Mean(t, t.Constant(z)).Value;
        var x = Tensor<float>.Zeros(n, 12);
        for (int i = 0; i < x.Length; i++) x.Span[i] = rng.NextFloat() < p.Span[i] ? 1 : 0;
        return x;
    }

    [TestCase(false, TestName = "K5000Estimate_MatchesQuadrature_Within005Nats(q = prior)")]
    [TestCase(true, TestName = "K5000Estimate_MatchesQuadrature_Within005Nats(q trained)")]
    public void K5000Estimate_MatchesQuadrature_Within005Nats(bool trained)
    {
        var (m32, m64, x32, x64) = Setup(trained);
        var exact = LogMarginalByQuadrature(m64, x64);
        var estimate = Evaluation.LogLikelihoods(m32, x32, k: 5000, seed: 3);
        for (int b = 0; b < exact.Length; b++)
        {
            TestContext.Out.WriteLine($"x{b}: quadrature {exact[b]:F4}, L_5000 {estimate[b]:F4}");
            Assert.That(estimate[b], Is.EqualTo(exact[b]).Within(0.05), $"input {b}");
        }
    }

    [Test]
    public void BoundsRiseWithK_AndStayBelowLogPx()
    {
        var (m32, m64, x32, x64) = Setup(trained: true);
        double exact = LogMarginalByQuadrature(m64, x64).Average();
        double previous = double.NegativeInfinity;
        foreach (int k in new[] { 1, 5, 50, 500 })
        {
            // The average over many draws estimates E[L_k], which rises with k towards log p(x) (Burda et al., Theorem 1).
            double mean = Enumerable.Range(0, 40).Average(s => Evaluation.LogLikelihoods(m32, x32, k, seed: (ulong)(100 + s)).Average());
            TestContext.Out.WriteLine($"E[L_{k}] ~ {mean:F4}  (log p(x) = {exact:F4})");
            Assert.That(mean, Is.LessThanOrEqualTo(exact + 0.01), $"k={k}");
            Assert.That(mean, Is.GreaterThan(previous - 0.01), $"k={k}");
            previous = mean;
        }
        Assert.That(exact - previous, Is.LessThan(0.05), "at k=500 the bound is nearly tight");
    }
}
