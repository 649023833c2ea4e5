using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Models;

namespace Iwae.Tests.Core.Analysis;

/// <summary>
/// Sampling importance resampling from the IWAE (Cremer et al. 2017): k = 1 gives q(z|x); as k grows the draws
/// follow the true posterior p(z|x), checked against quadrature on a 1-D latent.
/// </summary>
public class SamplingTests
{
    private static (double Mean, double Sd) Moments(IEnumerable<double> v)
    {
        var a = v.ToArray();
        double m = a.Average();
        return (m, Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / (a.Length - 1)));
    }

    [Test]
    public void AtKEqualsOne_DrawsFollowQ()
    {
        var (_, _, model, x) = SmallModels.Trained(layers: 1);
        const int n = 4000;
        var draws = Sampling.PosteriorSamples(model, x, k: 1, n, new Rng(1));
        Assert.That(draws.Z.Rows, Is.EqualTo(n * x.Rows));
        Assert.That(draws.Z.Cols, Is.EqualTo(model.Latent));
        Assert.That(draws.EffectiveSampleSize, Is.All.EqualTo(1.0).Within(1e-9));
        var t = new Tape<float> { NoGrad = true };
        var (mu, logSigma) = model.Encoder.Encode(t, t.Constant(x));
        for (int b = 0; b < x.Rows; b++)
            for (int j = 0; j < model.Latent; j++)
            {
                var (m, sd) = Moments(Enumerable.Range(0, n).Select(s => (double)draws.Z[s * x.Rows + b, j]));
                double sigma = Math.Exp(logSigma.Value[b, j]);
                Assert.That(m, Is.EqualTo(mu.Value[b, j]).Within(4.5 * sigma / Math.Sqrt(n)), $"mean, input {b}, dim {j}");
                Assert.That(sd, Is.EqualTo(sigma).Within(0.05 * sigma), $"sd, input {b}, dim {j}");
            }
    }

    /// <summary>The posterior of a 1-D latent on a grid: mean and standard deviation of p(z|x) for each row of x.</summary>
    private static (double Mean, double Sd)[] PosteriorByQuadrature(Iwae<double> model, Tensor<double> x)
    {
        const int n = 8001;
        const double lo = -8, h = 16.0 / (n - 1);
        var z = Tensor<double>.Zeros(n, 1);
        for (int i = 0; i < n; i++) z.Span[i] = lo + i * h;
        var result = new (double, double)[x.Rows];
        var t = new Tape<double> { NoGrad = true };
        for (int b = 0; b < x.Rows; b++)
        {
            t.Reset();
            var zv = t.Constant(z);
            var logJoint = t.Add(model.Decoder.LogLikelihood(t, zv, t.RepeatRows(t.Constant(x.RowSlice(b, 1)), n)), t.StandardNormalLogDensity(zv)).Value.Span;
            double m = double.NegativeInfinity;
            for (int i = 0; i < n; i++) m = Math.Max(m, logJoint[i]);
            double s0 = 0, s1 = 0, s2 = 0;
            for (int i = 0; i < n; i++)
            {
                double w = Math.Exp(logJoint[i] - m);
                s0 += w; s1 += w * z.Span[i]; s2 += w * z.Span[i] * z.Span[i];
            }
            double mean = s1 / s0;
            result[b] = (mean, Math.Sqrt(s2 / s0 - mean * mean));
        }
        return result;
    }

    [Test]
    public void WithManyProposals_DrawsFollowTheTruePosterior()
    {
        // q is set to the prior N(0, 1) (zero heads), wide enough to cover the posterior; importance resampling with
        // k = 300 corrects it towards p(z|x), whose mean and standard deviation come from quadrature. The pick is biased
        // at O(1/k); the tolerance allows 0.05 plus 4.5 Monte Carlo standard errors.
        var config = new ModelConfig { K = 5, InputSize = 12, Hidden = [6], Latent = 1 };
        var (m64, _, m32, x32) = SmallModels.Trained(config, epochs: 0, inputs: 4, seed: 21);
        foreach (var p in m32.EncoderParameters.Where(p => !p.Name.StartsWith("encoder.hidden")))
            p.Value.Span.Clear();
        var x64 = Tensor<double>.Zeros(x32.Rows, x32.Cols);
        for (int i = 0; i < x32.Length; i++) x64.Span[i] = x32.Span[i];
        var exact = PosteriorByQuadrature(m64, x64);
        const int n = 2000;
        var q = Sampling.PosteriorSamples(m32, x32, k: 1, n, new Rng(2));
        var iw = Sampling.PosteriorSamples(m32, x32, k: 300, n, new Rng(3));
        double qError = 0;
        for (int b = 0; b < x32.Rows; b++)
        {
            var (mq, sq) = Moments(Enumerable.Range(0, n).Select(s => (double)q.Z[s * x32.Rows + b, 0]));
            var (mi, si) = Moments(Enumerable.Range(0, n).Select(s => (double)iw.Z[s * x32.Rows + b, 0]));
            TestContext.Out.WriteLine(FormattableString.Invariant(
                $"x{b}: p(z|x) mean {exact[b].Mean:F3} sd {exact[b].Sd:F3} | q mean {mq:F3} sd {sq:F3} | resampled (k=300) mean {mi:F3} sd {si:F3}, ESS {iw.EffectiveSampleSize[b]:F1}"));
            Assert.That(mi, Is.EqualTo(exact[b].Mean).Within(0.05 + 4.5 * exact[b].Sd / Math.Sqrt(n)), $"mean, input {b}");
            Assert.That(si, Is.EqualTo(exact[b].Sd).Within(0.05 + 0.1 * exact[b].Sd), $"sd, input {b}");
            Assert.That(iw.EffectiveSampleSize[b], Is.InRange(1.0, 300.0));
            qError += Math.Abs(mq - exact[b].Mean) + Math.Abs(sq - exact[b].Sd);
        }
        Assert.That(qError / x32.Rows, Is.GreaterThan(0.2), "q itself is visibly off, so the test has something to correct");
    }

    [Test]
    public void Draws_AreDeterministicForASeed_AndWorkWithTwoLayers()
    {
        var (_, _, model, x) = SmallModels.Trained(layers: 2);
        var a = Sampling.PosteriorSamples(model, x, k: 700, n: 3, new Rng(4));      // two chunks of proposals
        var b = Sampling.PosteriorSamples(model, x, k: 700, n: 3, new Rng(4));
        Assert.That(a.Z.ToArray(), Is.EqualTo(b.Z.ToArray()));
        Assert.That(a.EffectiveSampleSize, Is.EqualTo(b.EffectiveSampleSize));
        Assert.That(a.Z.Cols, Is.EqualTo(model.Latent), "h1, the layer the decoder reads");
        Assert.That(a.N, Is.EqualTo(3));
        Assert.That(a.EffectiveSampleSize, Is.All.InRange(1.0, 700.0));
        Assert.That(Sampling.PosteriorSamples(model, x, k: 700, n: 3, new Rng(5)).Z.ToArray(), Is.Not.EqualTo(a.Z.ToArray()));
    }

    [Test]
    public void PriorDraws_AndDecoderMeans([Values(1, 2)] int layers)
    {
        var (_, _, model, _) = SmallModels.Trained(layers);
        var z = Sampling.PriorSamples(model, 4000, new Rng(6));
        Assert.That((z.Rows, z.Cols), Is.EqualTo((4000, model.Latent)));
        if (layers == 1)
        {
            var (m, sd) = Moments(z.ToArray().Select(v => (double)v));
            Assert.That(m, Is.EqualTo(0).Within(0.03));
            Assert.That(sd, Is.EqualTo(1).Within(0.03));
        }
        var means = Sampling.DecoderMeans(model, z);
        Assert.That((means.Rows, means.Cols), Is.EqualTo((4000, model.Config.InputSize)));
        Assert.That(means.ToArray(), Is.All.InRange(0f, 1f));
        Assert.That(() => Sampling.DecoderMeans(model, Tensor<float>.Zeros(2, model.Latent + 1)), Throws.ArgumentException);
    }
}
