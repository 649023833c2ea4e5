using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core.Models;

/// <summary>
/// Two stochastic layers (Burda et al. 2016, section 5): log w = log p(x|h1) + log p(h1|h2) + log p(h2)
/// - log q(h1|x) - log q(h2|h1), through the same weights, loss, trainer, evaluation and checkpoints.
/// </summary>
public class TwoLayerTests
{
    private static ModelConfig Small(ModelKind kind = ModelKind.Iwae, int k = 3) =>
        new() { Model = kind, K = k, InputSize = 6, Hidden = [5], Latent = 3, Layers = 2, Hidden2 = [4], Latent2 = 2 };

    private static Tensor<T> BinaryData<T>(int rows, int cols, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var x = Random<T>(rows, cols, seed);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x.Span[i] > T.Zero ? T.One : T.Zero;
        return x;
    }

    private static Dataset _small = null!;

    [OneTimeSetUp]
    public void LoadSmallSubset()
    {
        _small = TestUtil.MnistHead(210);
    }

    private static readonly ModelConfig Mnist2 = new() { K = 4, Hidden = [32], Latent = 8, Layers = 2, Hidden2 = [16], Latent2 = 4 };

    private static float[] Flat(Iwae<float> m) => m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    [Test]
    public void WholeModel_Float64GradCheck([Values] ModelKind kind, [Values] Observation obs, [Values(1, 3)] int k)
    {
        var model = Iwae<double>.Create(Small(kind, k) with { Observation = obs, DecoderSigma = 0.5 }, new Rng(17));
        var x = obs == Observation.Bernoulli ? BinaryData<double>(3, 6, 4) : Random<double>(3, 6, 4);
        var r = GradCheck.Check(t => model.Loss(t, model.LogWeights(t, t.Constant(x), k, new Rng(23))), model.Parameters.ToArray());
        Assert.That(r.Passed, Is.True, r.ToString());
        Assert.That(r.Checks, Is.EqualTo(model.Parameters.Sum(p => p.Value.Length)));
    }

    [Test]
    public void AtKEqualsOne_VaeAndIwaeLossesAndGradientsCoincide()
    {
        var x = BinaryData<double>(4, 6, 1);
        (double, double[]) LossAndGrad(Iwae<double> m)
        {
            var t = new Tape<double>();
            m.Parameters.ZeroGrad();
            var loss = m.Loss(t, m.LogWeights(t, t.Constant(x), 1, new Rng(11)));
            t.Backward(loss);
            return (loss.Item, m.Parameters.SelectMany(p => p.Grad.ToArray()).ToArray());
        }
        var (li, gi) = LossAndGrad(Iwae<double>.Create(Small(ModelKind.Iwae, 1), new Rng(7)));
        var (lv, gv) = LossAndGrad(Iwae<double>.Create(Small(ModelKind.Vae, 1), new Rng(7)));
        Assert.That(lv, Is.EqualTo(li));
        Assert.That(gv, Is.EqualTo(gi));
        Assert.That(gi.Max(Math.Abs), Is.GreaterThan(1e-3));
    }

    [Test]
    public void LogWeights_AreTheFiveDensities_WithTheirSigns()
    {
        var model = Iwae<double>.Create(Small(k: 4), new Rng(2));
        var x = BinaryData<double>(3, 6, 5);
        var t = new Tape<double>();
        var xv = t.Constant(x);
        var s = model.Sample(t, xv, 4, new Rng(3));
        var logW = model.LogWeights(t, xv, s).Value;                                            // [k,B]
        var (pMu, pLs) = model.DecoderH1!.Encode(t, s.H2);
        var (qMu, qLs) = model.EncoderH2!.Encode(t, s.H1);
        var terms = new[]
        {
            model.Decoder.LogLikelihood(t, s.H1, t.RepeatRows(xv, 4)).Value,                      // + log p(x|h1)
            t.GaussianLogDensity(s.H1, pMu, pLs).Value,                                          // + log p(h1|h2)
            t.StandardNormalLogDensity(s.H2).Value,                                              // + log p(h2)
            t.Scale(t.GaussianLogDensity(s.H1, s.Mu1, s.LogSigma1), -1).Value,                   // - log q(h1|x)
            t.Scale(t.GaussianLogDensity(s.H2, qMu, qLs), -1).Value,                             // - log q(h2|h1)
        };
        for (int r = 0; r < 12; r++)
            Assert.That(logW.Span[r], Is.EqualTo(terms.Sum(v => v.Span[r])).Within(1e-12), $"row {r}");
        Assert.That(s.H1.Cols, Is.EqualTo(3));
        Assert.That(s.H2.Cols, Is.EqualTo(2));
    }

    [Test]
    public void K5000Estimate_MatchesQuadratureOfTheTwoLayerMarginal()
    {
        // h1 and h2 one-dimensional: log p(x) = log int int p(x|h1) p(h1|h2) N(h2; 0, 1) dh1 dh2 on a grid, against
        // L_5000 from Evaluation (float32, chunked, with q(h2|h1) run per chunk). A wrong sign or a missing term in
        // log w would not converge to it.
        var config = new ModelConfig { K = 5, InputSize = 12, Hidden = [6], Latent = 1, Layers = 2, Hidden2 = [4], Latent2 = 1 };
        var (m64, x64, m32, x32) = SmallModels.Trained(config, epochs: 20, inputs: 4, seed: 21);
        const int n = 1201;
        const double lo = -8, h = 16.0 / (n - 1);
        var grid = Tensor<double>.Zeros(n, 1);
        for (int i = 0; i < n; i++) grid.Span[i] = lo + i * h;
        var t = new Tape<double> { NoGrad = true };
        var g = t.Constant(grid);
        var (pMu, pLs) = m64.DecoderH1!.Encode(t, g);                      // p(h1|h2) at every h2 of the grid
        var estimate = Evaluation.LogLikelihoods(m32, x32, k: 5000, seed: 3);
        for (int b = 0; b < x64.Rows; b++)
        {
            var logPx = m64.Decoder.LogLikelihood(t, g, t.RepeatRows(t.Constant(x64.RowSlice(b, 1)), n)).Value.Span;
            var logJoint = new double[n * n];                              // [h2 index, h1 index]
            for (int j = 0; j < n; j++)
            {
                double mu = pMu.Value.Span[j], ls = pLs.Value.Span[j], h2 = grid.Span[j];
                for (int i = 0; i < n; i++)
                {
                    double u = (grid.Span[i] - mu) * Math.Exp(-ls);
                    logJoint[j * n + i] = logPx[i] - 0.5 * u * u - ls - 0.5 * Math.Log(2 * Math.PI) - 0.5 * h2 * h2 - 0.5 * Math.Log(2 * Math.PI);
                }
            }
            double m = logJoint.Max(), sum = 0;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < n; i++)
                    sum += (j == 0 || j == n - 1 ? 0.5 : 1) * (i == 0 || i == n - 1 ? 0.5 : 1) * Math.Exp(logJoint[j * n + i] - m);
            double exact = m + Math.Log(sum * h * h);
            TestContext.Out.WriteLine($"x{b}: quadrature {exact:F4}, L_5000 {estimate[b]:F4}");
            Assert.That(estimate[b], Is.EqualTo(exact).Within(0.05), $"input {b}");
        }
    }

    [Test]
    public void WithLayers2_HasBurdasArchitecture_AndOneLayerNamesAreUnchanged()
    {
        var two = Iwae<float>.Create(new ModelConfig().WithLayers(2), new Rng(1));
        Assert.That(two.Config.Architecture, Is.EqualTo("784-200-200-100|100-100-100-50"));
        var shapes = two.Parameters.Where(p => p.Name.EndsWith(".W")).ToDictionary(p => p.Name, p => (p.Rows, p.Cols));
        Assert.That(shapes, Is.EquivalentTo(new Dictionary<string, (int, int)>
        {
            ["encoder.hidden.0.W"] = (784, 200), ["encoder.hidden.1.W"] = (200, 200), ["encoder.mu.W"] = (200, 100), ["encoder.logsigma.W"] = (200, 100),
            ["encoder.h2.hidden.0.W"] = (100, 100), ["encoder.h2.hidden.1.W"] = (100, 100), ["encoder.h2.mu.W"] = (100, 50), ["encoder.h2.logsigma.W"] = (100, 50),
            ["decoder.h1.hidden.0.W"] = (50, 100), ["decoder.h1.hidden.1.W"] = (100, 100), ["decoder.h1.mu.W"] = (100, 100), ["decoder.h1.logsigma.W"] = (100, 100),
            ["decoder.hidden.0.W"] = (100, 200), ["decoder.hidden.1.W"] = (200, 200), ["decoder.out.W"] = (200, 784),
        }));
        Assert.That(two.EncoderParameters.Concat(two.DecoderParameters), Is.EqualTo(two.Parameters));
        Assert.That(two.EncoderParameters.All(p => p.Name.StartsWith("encoder.")) && two.DecoderParameters.All(p => p.Name.StartsWith("decoder.")), Is.True);

        var one = Iwae<float>.Create(new ModelConfig(), new Rng(1));
        string[] layer(string n) => [n + ".W", n + ".b"];
        Assert.That(one.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "encoder.hidden.0", "encoder.hidden.1", "encoder.mu", "encoder.logsigma",
            "decoder.hidden.0", "decoder.hidden.1", "decoder.out" }.SelectMany(layer)), "checkpoint names of 1-layer models stay as they were");
        Assert.That(new ModelConfig().WithLayers(1).ToJson(), Is.EqualTo(new ModelConfig().ToJson()));
    }

    [Test]
    public void Config_RoundTripsThroughJson_AndValidatesTheLayers()
    {
        var c = new ModelConfig { Model = ModelKind.Vae, K = 50 }.WithLayers(2);
        Assert.That(c.ToJson(), Does.Contain("\"layers\":2").And.Contain("\"hidden2\":[100,100]").And.Contain("\"latent2\":50"));
        Assert.That(ModelConfig.FromJson(c.ToJson()).ToJson(), Is.EqualTo(c.ToJson()));
        // A config written before the field existed reads as one layer.
        Assert.That(ModelConfig.FromJson("{\"model\":\"iwae\",\"k\":5,\"input_size\":784,\"hidden\":[200,200],\"latent\":50}").Layers, Is.EqualTo(1));
        Assert.That(() => (c with { Layers = 3 }).Validate(), Throws.InstanceOf<SettingException>().With.Message.EqualTo("layers must be 1 or 2, got 3"));
        Assert.That(() => (c with { Hidden2 = [100, 0] }).Validate(), Throws.InstanceOf<SettingException>().With.Property(nameof(SettingException.Field)).EqualTo("hidden2"));
        Assert.That(() => (c with { Latent2 = 0 }).Validate(), Throws.InstanceOf<SettingException>().With.Property(nameof(SettingException.Field)).EqualTo("latent2"));
    }

    [Test]
    public void Checkpoint_RoundTripsTheTwoLayerModel_AndResumesWithItsEstimatorExactly()
    {
        string dir = Path.Combine(Path.GetTempPath(), "iwae-2layer-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var options = new TrainOptions { Epochs = 1, Seed = 9, Estimator = GradientEstimator.Piwae, Groups = 2 };
            var full = Runs.CreateModel(Mnist2, _small, 1);
            var t1 = new Trainer(full, _small, options);
            t1.RunEpoch(1, 1);
            t1.RunEpoch(2, 1);

            var first = Runs.CreateModel(Mnist2, _small, 1);
            var t2 = new Trainer(first, _small, options);
            t2.RunEpoch(1, 1);
            string path = Path.Combine(dir, "iwae.safetensors");
            RunCheckpoint.Save(path, first, t2);

            var saved = Checkpoint.Load(path);
            Assert.That(saved.Parameters.Keys, Is.EquivalentTo(first.Parameters.Select(p => p.Name)));
            Assert.That(saved.Parameters.Keys, Does.Contain("encoder.h2.mu.W").And.Contain("decoder.h1.logsigma.b"));
            Assert.That(saved.Optimizer, Is.Not.Null);
            var (config, readOptions, _) = RunCheckpoint.Read(path).Continue();
            Assert.That(config.Layers, Is.EqualTo(2));
            Assert.That(readOptions, Is.EqualTo(options), "the estimator and its M travel with the checkpoint");

            var loaded = RunCheckpoint.LoadModel(path);
            Assert.That(loaded.Config.ToJson(), Is.EqualTo(first.Config.ToJson()));
            Assert.That(Flat(loaded), Is.EqualTo(Flat(first)));
            var t3 = new Trainer(loaded, _small, readOptions);
            RunCheckpoint.Read(path).Restore(t3);
            t3.RunEpoch(2, 1);
            Assert.That(Flat(loaded), Is.EqualTo(Flat(full)), "resumed run is bit-identical to the uninterrupted one");

            var x = Binarize.Fixed(_small.Images.RowSlice(0, 10), 1);
            Assert.That(Evaluation.Nll(loaded, x, 20), Is.EqualTo(Evaluation.Nll(full, x, 20)));
            var au = Evaluation.ActiveUnitsPerLayer(loaded, x);
            Assert.That(au.Select(a => a.Variances.Length), Is.EqualTo(new[] { 8, 4 }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Training_RaisesTheBound_WithEveryEstimator([Values] GradientEstimator estimator, [Values(1, 2)] int layers)
    {
        var config = layers == 2 ? Mnist2 : Mnist2 with { Layers = 1 };
        var m = Runs.CreateModel(config, _small, 1);
        var options = new TrainOptions { Epochs = 4, Seed = 2, LearningRate = 3e-3, Estimator = estimator, Groups = 2, Beta = 0.5 };
        var epochs = new Trainer(m, _small, options).Train();
        TestContext.Out.WriteLine($"{estimator}, {layers} layer(s): train bound {epochs[0].TrainBound:F2} -> {epochs[^1].TrainBound:F2}");
        Assert.That(epochs[^1].TrainBound, Is.GreaterThan(epochs[0].TrainBound + 5));
    }

    [Test]
    public void SteadyStateTrainingStep_AllocatesNothing([Values] GradientEstimator estimator, [Values(1, 2)] int layers)
    {
        var config = layers == 2 ? Mnist2 : Mnist2 with { Layers = 1 };
        var t = new Trainer(Runs.CreateModel(config, _small, 1), _small, new TrainOptions { Epochs = 1, Estimator = estimator, Groups = 2 });
        int[] rows = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
        t.Step(rows);
        Assert.That(LeastAllocatedOverWindows(() => t.Step(rows)), Is.Zero);
    }

    [Test]
    public void EvaluationChunk_AllocatesNothing_AndChunkingKeepsTheSamples([Values(1, 2)] int layers)
    {
        var config = layers == 2 ? Mnist2 : Mnist2 with { Layers = 1 };
        var m = Runs.CreateModel(config, _small, 1);
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 1), 3);

        // One image: the noise stream is consumed in the same order whatever the chunk size (both layers' noise is drawn row by row).
        double whole = Evaluation.LogLikelihoods(m, x, 203, seed: 1, chunk: 203)[0];
        foreach (int chunk in new[] { 1, 7, 50 })
            Assert.That(Evaluation.LogLikelihoods(m, x, 203, seed: 1, chunk: chunk)[0], Is.EqualTo(whole).Within(1e-4), $"chunk {chunk}");

        // What Evaluation does per chunk, given the cached first-layer encoder output.
        var t = new Tape<float> { NoGrad = true };
        var (mu, logSigma) = m.Encoder.Encode(t, t.Constant(x));
        var (muC, lsC) = (mu.Value.Clone(), logSigma.Value.Clone());
        var rng = new Rng(5);
        float Chunk()
        {
            t.Reset();
            return t.LogSumExp(m.LogWeights(t, t.Constant(x), t.Constant(muC), t.Constant(lsC), 50, rng), axis: 0).Item;
        }
        Chunk();
        Assert.That(LeastAllocatedOverWindows(() => Chunk()), Is.Zero);
    }

    /// <summary>
    /// The fewest bytes this thread allocated in any of 4 windows of 5 calls. After other tests have run in the same
    /// process the runtime itself now and then allocates a few KB on this thread at an arbitrary call (seen here with
    /// 1 kernel thread as well as 2, and never when these tests run alone); an allocation made by the step itself
    /// would show in every window.
    /// </summary>
    private static long LeastAllocatedOverWindows(Action call)
    {
        long least = long.MaxValue;
        for (int w = 0; w < 4; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++) call();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
