using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Estimators;
using Iwae.Core.Models;
using Iwae.Core.Training;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core.Models;

/// <summary>
/// The Gaussian decoder with a learned sigma (shared or per dimension, above a soft floor) and the model's
/// standardisation: gradients in float64, the floor, the change of variables, checkpoints, settings, and the gain of a
/// learned sigma over the fixed 0.1 on a small mixture.
/// </summary>
public class GaussianDecoderTests
{
    private static ModelConfig Small(DecoderVariance variance, bool standardize = false, int k = 3) => new()
    {
        K = k, InputSize = 6, Hidden = [5, 4], Latent = 2, Observation = Observation.Gaussian, DecoderVariance = variance, Standardize = standardize,
    };

    private static Standardization RandomStats(int d, ulong seed)
    {
        var rng = new Rng(seed);
        var mean = new float[d];
        var std = new float[d];
        // Multiples of 1/64: a x + b of them below (a = 4) is exact in float32, so the stats carry no rounding of their own.
        for (int j = 0; j < d; j++) { mean[j] = MathF.Round((float)(10 * rng.NextDouble() - 5) * 64) / 64; std[j] = MathF.Round((float)(0.2 + 5 * rng.NextDouble()) * 64) / 64; }
        return new Standardization(mean, std);
    }

    /// <summary>Gives the learned log sigma values away from 0 (r in [-1.5, 1.5)), so checks see a non-trivial sigma.</summary>
    private static void SpreadLogSigma<T>(Iwae<T> model, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var p = ((GaussianDecoder<T>)model.Decoder).LogSigma!;
        var rng = new Rng(seed);
        for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] = T.CreateTruncating(3 * rng.NextDouble() - 1.5);
    }

    [Test]
    public void LearnedSigma_Float64GradCheck([Values(DecoderVariance.Shared, DecoderVariance.PerDimension)] DecoderVariance variance,
        [Values] bool standardize, [Values(ModelKind.Iwae, ModelKind.Vae)] ModelKind kind)
    {
        var model = Iwae<double>.Create(Small(variance, standardize) with { Model = kind }, new Rng(17), standardization: standardize ? RandomStats(6, 3) : null);
        SpreadLogSigma(model, 5);
        var x = Random<double>(3, 6, 4, scale: standardize ? 6 : 1);
        var r = GradCheck.Check(t => model.Loss(t, model.LogWeights(t, t.Constant(x), 3, new Rng(23))), model.Parameters.ToArray());
        Assert.That(r.Passed, Is.True, r.ToString());
        Assert.That(r.Checks, Is.EqualTo(model.Parameters.Sum(p => p.Value.Length)), "every parameter element, log sigma included, is checked");
    }

    [Test]
    public void LearnedSigma_DetachedPaths_Float64GradCheck([Values(GradientEstimator.Dreg, GradientEstimator.Stl, GradientEstimator.Piwae)] GradientEstimator kind)
    {
        // DReG and PIWAE take the decoder's gradient from one log w and the encoder's from another, detaching theta (log sigma
        // included) in the second: a log sigma that leaked through would fail this check.
        var model = Iwae<double>.Create(Small(DecoderVariance.PerDimension, standardize: true, k: 4), new Rng(17), standardization: RandomStats(6, 3));
        SpreadLogSigma(model, 6);
        var x = Random<double>(3, 6, 4, scale: 6);
        var e = Estimator<double>.Create(kind, groups: 2);
        var r = GradCheck.Check(t => e.Surrogate(t, model, t.Constant(x), 4, new Rng(23)).Loss, model.Parameters.ToArray());
        Assert.That(r.Passed, Is.True, r.ToString());
    }

    [Test]
    public void LogSigma_IsOneParameter_Shared_OrOnePerDimension()
    {
        var shared = Iwae<float>.Create(Small(DecoderVariance.Shared), new Rng(1));
        var perDim = Iwae<float>.Create(Small(DecoderVariance.PerDimension), new Rng(1));
        var fixedSigma = Iwae<float>.Create(Small(DecoderVariance.Fixed), new Rng(1));
        Assert.That(shared.Parameters.Single(p => p.Name == "decoder.log_sigma").Value.ShapeString, Is.EqualTo("[1,1]"));
        Assert.That(perDim.Parameters.Single(p => p.Name == "decoder.log_sigma").Value.ShapeString, Is.EqualTo("[1,6]"));
        Assert.That(fixedSigma.Parameters.Select(p => p.Name), Has.None.EqualTo("decoder.log_sigma"));
        Assert.That(perDim.DecoderParameters, Does.Contain(perDim.Parameters.Single(p => p.Name == "decoder.log_sigma")), "log sigma is part of theta");
        // The other weights are drawn as before: a learned sigma takes nothing from the initialisation's stream.
        for (int i = 0; i < fixedSigma.Parameters.Count; i++)
            Assert.That(perDim.Parameters[i].Value.ToArray(), Is.EqualTo(fixedSigma.Parameters[i].Value.ToArray()), fixedSigma.Parameters[i].Name);
        // r = 0 at the start: sigma = f + softplus(-log f) in log space, just above 1.
        Assert.That(perDim.Decoder is GaussianDecoder<float> g ? g.Sigma() : null, Is.All.EqualTo(1.0).Within(2e-3));
    }

    [Test]
    public void Sigma_NeverFallsBelowTheFloor_AndTheLikelihoodUsesIt()
    {
        var config = Small(DecoderVariance.PerDimension) with { SigmaFloor = 0.05 };
        var model = Iwae<double>.Create(config, new Rng(2));
        var decoder = (GaussianDecoder<double>)model.Decoder;
        decoder.LogSigma!.Value.Span.Fill(-200);                         // far below the floor
        Assert.That(decoder.Sigma(), Is.All.EqualTo(0.05).Within(1e-12));
        // The likelihood is then that of a fixed sigma equal to the floor, to rounding.
        var fixedModel = Iwae<double>.Create(Small(DecoderVariance.Fixed) with { DecoderSigma = 0.05 }, new Rng(2));
        var z = Random<double>(4, 2, 8);
        var x = Random<double>(4, 6, 9);
        var t = new Tape<double>();
        var a = model.Decoder.LogLikelihood(t, t.Constant(z), t.Constant(x)).Value.ToArray();
        var b = fixedModel.Decoder.LogLikelihood(t, t.Constant(z), t.Constant(x)).Value.ToArray();
        Assert.That(a, Is.EqualTo(b).Within(1e-9));
        // Above it, log sigma = log f + softplus(r - log f), which tends to r itself.
        decoder.LogSigma.Value.Span.Fill(1.0);
        double logF = Math.Log(0.05);
        Assert.That(decoder.Sigma(), Is.All.EqualTo(Math.Exp(logF + Math.Log(1 + Math.Exp(1.0 - logF)))).Within(1e-12));
        decoder.LogSigma.Value.Span.Fill(8.0);
        Assert.That(decoder.Sigma(), Is.All.EqualTo(Math.Exp(8.0)).Within(1e-4 * Math.Exp(8.0)));
    }

    [Test]
    public void Standardising_IsTheChangeOfVariables_Exactly()
    {
        // One model, stats (m, s), on x; the same weights with stats (a m + b, a s) on a x + b: every log w shifts by -D log a.
        const double a = 4, b = -41.5;
        var stats = RandomStats(6, 11);
        var scaled = new Standardization(stats.Mean.Select(m => (float)(a * m + b)).ToArray(), stats.Std.Select(s => (float)(a * s)).ToArray());
        var config = Small(DecoderVariance.PerDimension, standardize: true, k: 7);
        var m1 = Iwae<double>.Create(config, new Rng(4), standardization: stats);
        var m2 = Iwae<double>.Create(config, new Rng(4), standardization: scaled);
        SpreadLogSigma(m1, 3);
        SpreadLogSigma(m2, 3);
        var x = Random<double>(5, 6, 12, scale: 8);
        var y = Tensor<double>.Zeros(5, 6);
        for (int i = 0; i < x.Length; i++) y.Span[i] = a * x.Span[i] + b;
        var t = new Tape<double>();
        var w1 = m1.LogWeights(t, t.Constant(x), 7, new Rng(30)).Value.ToArray();
        var w2 = m2.LogWeights(t, t.Constant(y), 7, new Rng(30)).Value.ToArray();
        for (int i = 0; i < w1.Length; i++) Assert.That(w2[i] - w1[i], Is.EqualTo(-6 * Math.Log(a)).Within(1e-9), $"log w {i}");

        // And it is the model without standardisation, same weights, on (x - m) / s, less sum log s.
        var plain = Iwae<double>.Create(config with { Standardize = false }, new Rng(4));
        SpreadLogSigma(plain, 3);
        var xs = Tensor<double>.Zeros(5, 6);
        for (int i = 0; i < x.Length; i++) xs.Span[i] = (x.Span[i] - (double)stats.Mean[i % 6]) / stats.Std[i % 6];
        var w0 = plain.LogWeights(t, t.Constant(xs), 7, new Rng(30)).Value.ToArray();
        double logDet = stats.Std.Sum(s => Math.Log(s));
        Assert.That(m1.LogDeterminant(), Is.EqualTo(logDet).Within(1e-12));
        for (int i = 0; i < w1.Length; i++) Assert.That(w1[i], Is.EqualTo(w0[i] - logDet).Within(1e-9), $"log w {i}");

        // The decoder's means come back in the data's units: m1's mean mapped by a x + b is m2's.
        var z = Random<double>(3, 2, 13);
        var mean1 = m1.DecoderMean(t, t.Constant(z)).Value.ToArray();
        var mean2 = m2.DecoderMean(t, t.Constant(z)).Value.ToArray();
        for (int i = 0; i < mean1.Length; i++) Assert.That(mean2[i], Is.EqualTo(a * mean1[i] + b).Within(1e-9));
    }

    [Test]
    public void Standardising_Float32Evaluation_ShiftsLogPByMinusDLogA()
    {
        const float a = 25f, b = 300f;
        var stats = RandomStats(6, 21);
        var scaled = new Standardization(stats.Mean.Select(m => a * m + b).ToArray(), stats.Std.Select(s => a * s).ToArray());
        var config = Small(DecoderVariance.Shared, standardize: true);
        var m1 = Iwae<float>.Create(config, new Rng(4), standardization: stats);
        var m2 = Iwae<float>.Create(config, new Rng(4), standardization: scaled);
        var x = Random<float>(9, 6, 22, scale: 5);
        var y = Tensor<float>.Zeros(9, 6);
        for (int i = 0; i < x.Length; i++) y.Span[i] = a * x.Span[i] + b;
        var l1 = Evaluation.LogLikelihoods(m1, x, k: 60);
        var l2 = Evaluation.LogLikelihoods(m2, y, k: 60);
        for (int i = 0; i < l1.Length; i++) Assert.That(l2[i] - l1[i], Is.EqualTo(-6 * Math.Log(a)).Within(1e-3), $"row {i}");
    }

    [Test]
    public void Standardization_Of_TakesMeanAndPopulationStd_AndAZeroStdAsOne()
    {
        var x = Tensor<float>.FromArray(4, 3, [1, 5, -2, 3, 5, -2, 5, 5, 8, 7, 5, 8]);
        var s = Standardization.Of(x);
        Assert.That(s.Mean, Is.EqualTo(new[] { 4f, 5f, 3f }));
        Assert.That(s.Std[0], Is.EqualTo((float)Math.Sqrt(5)).Within(1e-6));
        Assert.That(s.Std[1], Is.EqualTo(1f), "a constant dimension is only centred");
        Assert.That(s.Std[2], Is.EqualTo(5f).Within(1e-6));
        Assert.That(() => Standardization.Of(Tensor<float>.Zeros(0, 3)), Throws.ArgumentException);
    }

    [Test]
    public void StandardisingModel_StartsWithItsStats_RefusesBadOnes_AndStatsWithoutStandardising()
    {
        var stats = RandomStats(6, 1);
        var model = Iwae<float>.Create(Small(DecoderVariance.Fixed, standardize: true), new Rng(1), standardization: stats);
        Assert.That(model.Buffers.Select(p => p.Name), Is.EqualTo(new[] { "data.mean", "data.std" }));
        Assert.That(model.State, Is.EqualTo(model.Parameters.Concat(model.Buffers)));
        Assert.That(model.Standardization!.Mean, Is.EqualTo(stats.Mean));
        Assert.That(model.Standardization!.Std, Is.EqualTo(stats.Std));
        Assert.That(() => model.SetStandardization(stats with { Std = [1, 1, 0, 1, 1, 1] }), Throws.ArgumentException.With.Message.Contains("dimension 2"));
        Assert.That(() => Iwae<float>.Create(Small(DecoderVariance.Fixed), new Rng(1), standardization: stats), Throws.ArgumentException);
        var plain = Iwae<float>.Create(Small(DecoderVariance.Fixed), new Rng(1));
        Assert.That(plain.Buffers, Is.Empty);
        Assert.That(plain.Standardization, Is.Null);
        Assert.That(plain.LogDeterminant(), Is.Zero);
    }

    [Test]
    public void Checkpoint_RoundTrip_RestoresLogSigmaAndStats_AndGivesTheSameOutputs()
    {
        string dir = Path.Combine(Path.GetTempPath(), "iwae-gauss-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var config = Small(DecoderVariance.PerDimension, standardize: true) with { SigmaFloor = 0.01 };
            var x = Random<float>(40, 6, 5, scale: 20);
            var model = Iwae<float>.Create(config, new Rng(3), standardization: Standardization.Of(x));
            var trainer = new Trainer(model, Dataset.Vectors(x), new TrainOptions { Epochs = 2, BatchSize = 10 });
            trainer.Train();
            string path = Path.Combine(dir, "iwae.safetensors");
            RunCheckpoint.Save(path, model, trainer);
            var back = RunCheckpoint.LoadModel(path);
            Assert.That(back.Config.ToJson(), Is.EqualTo(config.ToJson()));
            Assert.That(back.State.Select(p => p.Name), Is.EqualTo(model.State.Select(p => p.Name)));
            for (int i = 0; i < model.State.Count; i++)
                Assert.That(back.State[i].Value.ToArray(), Is.EqualTo(model.State[i].Value.ToArray()), model.State[i].Name);
            Assert.That(((GaussianDecoder<float>)back.Decoder).LogSigma!.Value.ToArray(), Is.Not.All.Zero, "log sigma trained and restored");
            Assert.That(Evaluation.LogLikelihoods(back, x, k: 20), Is.EqualTo(Evaluation.LogLikelihoods(model, x, k: 20)));

            // A model alone, and through PyTorch's names.
            RunCheckpoint.SaveModel(Path.Combine(dir, "model.safetensors"), model);
            var alone = RunCheckpoint.LoadModel(Path.Combine(dir, "model.safetensors"));
            Assert.That(Evaluation.LogLikelihoods(alone, x, k: 20), Is.EqualTo(Evaluation.LogLikelihoods(model, x, k: 20)));
            string torch = Path.Combine(dir, "torch.safetensors");
            TorchExport.Export(model, torch);
            var file = SafeTensors.Read(torch);
            Assert.That(file.TryGet("decoder.log_sigma", out var ls) ? ls.ShapeString() : null, Is.EqualTo("[6]"));
            Assert.That(file.TryGet("data.mean", out var dm) ? dm.ShapeString() : null, Is.EqualTo("[6]"));
            Assert.That(file.TryGet("data.std", out var ds) ? ds.ToF32() : null, Is.EqualTo(model.Standardization!.Std));
            var imported = TorchExport.Import(torch);
            Assert.That(Evaluation.LogLikelihoods(imported, x, k: 20), Is.EqualTo(Evaluation.LogLikelihoods(model, x, k: 20)));

            // A checkpoint whose std holds a zero is refused, naming the file.
            var entries = file.Entries.Select(e => e.Name == "data.std" ? SafeTensorEntry.FromF32(e.Name, e.Shape, new float[6]) : e).ToArray();
            string bad = Path.Combine(dir, "bad.safetensors");
            SafeTensors.Write(bad, file.Metadata, entries);
            Assert.That(() => TorchExport.Import(bad), Throws.InstanceOf<CheckpointFormatException>().With.Message.Contains("bad.safetensors").And.Message.Contains("std"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Config_NewFields_LeaveOldJsonAlone_AndRoundTrip()
    {
        // Configs written before these fields existed: none of them in the JSON, and they read back as the defaults.
        string old = new ModelConfig { Observation = Observation.Gaussian }.ToJson();
        Assert.That(old, Is.EqualTo("{\"model\":\"iwae\",\"k\":5,\"input_size\":784,\"layers\":1,\"hidden\":[200,200],\"latent\":50,\"hidden2\":[100,100]," +
            "\"latent2\":50,\"observation\":\"gaussian\",\"decoder_sigma\":0.1,\"architecture\":\"784-200-200-50\"}"), "the JSON configs had before these fields");
        var read = ModelConfig.FromJson(old);
        Assert.That((read.DecoderVariance, read.SigmaFloor, read.Standardize), Is.EqualTo((DecoderVariance.Fixed, ModelConfig.DefaultSigmaFloor, false)));
        var learned = new ModelConfig { Observation = Observation.Gaussian, DecoderVariance = DecoderVariance.PerDimension, SigmaFloor = 0.02, Standardize = true };
        Assert.That(learned.ToJson(), Does.Contain("\"decoder_variance\":\"per_dimension\"").And.Contain("\"sigma_floor\":0.02").And.Contain("\"standardize\":true"));
        var back = ModelConfig.FromJson(learned.ToJson());
        Assert.That((back.DecoderVariance, back.SigmaFloor, back.Standardize), Is.EqualTo((DecoderVariance.PerDimension, 0.02, true)));
        Assert.That(back.ToJson(), Is.EqualTo(learned.ToJson()));
        Assert.That((learned with { SigmaFloor = ModelConfig.DefaultSigmaFloor }).ToJson(), Does.Not.Contain("sigma_floor"));
        Assert.That(learned.Describe(), Does.EndWith("gaussian per_dimension sigma standardized"));
    }

    [TestCase("sigma_floor", "must be a positive number, got -1")]
    [TestCase("sigma_floor", "must be a positive number, got 0")]
    [TestCase("standardize", "applies to the gaussian observation model only (bernoulli data are probabilities in [0, 1])")]
    [TestCase("decoder_variance", "applies to the gaussian observation model only")]
    [TestCase("sigma_floor", "applies to a learned decoder variance (shared or per_dimension) only")]
    [TestCase("decoder_variance", "must be fixed, shared or per_dimension, got 7")]
    public void BadSettings_AreRefused_NamingTheField(string field, string problem)
    {
        var gaussian = new ModelConfig { Observation = Observation.Gaussian, DecoderVariance = DecoderVariance.Shared };
        var config = problem switch
        {
            "must be a positive number, got -1" => gaussian with { SigmaFloor = -1 },
            "must be a positive number, got 0" => gaussian with { SigmaFloor = 0 },
            "applies to a learned decoder variance (shared or per_dimension) only" => gaussian with { DecoderVariance = DecoderVariance.Fixed, SigmaFloor = 0.01 },
            "must be fixed, shared or per_dimension, got 7" => gaussian with { DecoderVariance = (DecoderVariance)7 },
            _ => field == "standardize" ? new ModelConfig { Standardize = true } : new ModelConfig { DecoderVariance = DecoderVariance.PerDimension },
        };
        Assert.That(() => config.Validate(), Throws.InstanceOf<SettingException>()
            .With.Property(nameof(SettingException.Field)).EqualTo(field).And.Property(nameof(SettingException.Problem)).EqualTo(problem));
        Assert.That(() => ModelConfig.FromJson("{\"observation\":\"gaussian\",\"decoder_variance\":\"learned\"}"), Throws.ArgumentException);
    }

    /// <summary>
    /// A 4-D mixture of two Gaussians, means +-2 and noise 0.5 per dimension in its own units, each dimension then scaled
    /// by 10 to 200 and shifted: data whose raw units are far from 1 and whose noise is far from 0.1 once standardised.
    /// </summary>
    private static Tensor<float> TinyMixture(int n, Rng rng)
    {
        float[] scale = [10, 0.5f, 200, 3], shift = [100, -7, 5000, 0];
        float[][] means = [[2, -2, 2, 0], [-2, 2, 0, -2]];
        var x = Tensor<float>.Zeros(n, 4);
        for (int i = 0; i < n; i++)
        {
            var m = means[rng.NextDouble() < 0.4 ? 0 : 1];
            for (int j = 0; j < 4; j++) x[i, j] = scale[j] * (m[j] + 0.5f * (float)rng.NextNormal()) + shift[j];
        }
        return x;
    }

    [Test]
    public void OnATinyMixture_LearnedSigmaBeatsTheFixedOne_ByAWideMargin()
    {
        var rng = new Rng(8);
        var train = TinyMixture(600, rng);
        var test = TinyMixture(200, rng);
        double Nll(DecoderVariance variance)
        {
            var config = new ModelConfig { K = 5, InputSize = 4, Hidden = [16], Latent = 2, Observation = Observation.Gaussian, DecoderVariance = variance, Standardize = true };
            var model = Iwae<float>.Create(config, new Rng(1), standardization: Standardization.Of(train));
            new Trainer(model, Dataset.Vectors(train), new TrainOptions { Epochs = 40, BatchSize = 20, LearningRate = 3e-3 }).Train();
            return Evaluation.Nll(model, test, k: 200);
        }
        double fixedNll = Nll(DecoderVariance.Fixed), perDim = Nll(DecoderVariance.PerDimension), shared = Nll(DecoderVariance.Shared);
        TestContext.Out.WriteLine($"test NLL: fixed 0.1 {fixedNll:F2}, shared {shared:F2}, per dimension {perDim:F2}");
        // Once standardised, the noise is about 0.25 per dimension: a fixed 0.1 costs about 1.5 nats in each of the four.
        Assert.That(fixedNll - perDim, Is.GreaterThan(3), "per dimension against fixed 0.1");
        Assert.That(fixedNll - shared, Is.GreaterThan(3), "shared against fixed 0.1");
    }
}
