using Iwae.Autodiff;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Tests.Core.Models;

/// <summary>Extreme but legal inputs keep the bound finite, in float32, through the real model code.</summary>
public class RobustnessTests
{
    private static readonly ModelConfig Config = new() { K = 5, Hidden = [64, 32], Latent = 8 };

    private static Dataset Images(float value, int n = 20)
    {
        var x = Tensor<float>.Full(n, 784, value);
        return new Dataset(x, new byte[n], 28, 28);
    }

    private static float TrainStep(Iwae<float> m, Dataset d, int batch)
    {
        var t = new Trainer(m, d, new TrainOptions { Epochs = 1, BatchSize = batch });
        return t.Step(Enumerable.Range(0, batch).ToArray());
    }

    private static void SetBias(Iwae<float> m, string name, float value) =>
        m.Parameters.Single(p => p.Name == name).Value.Span.Fill(value);

    [TestCase(1e4f)]
    [TestCase(-1e4f)]
    [TestCase(30f)]
    [TestCase(-30f)]
    public void HugeLogits_KeepTheBoundFinite(float logit)
    {
        foreach (float pixel in new[] { 0f, 1f })
        {
            var m = Iwae<float>.Create(Config, new Rng(1));
            SetBias(m, "decoder.out.b", logit);
            float bound = TrainStep(m, Images(pixel), 20);
            Assert.That(float.IsFinite(bound), Is.True, $"logit {logit}, pixels {pixel}: {bound}");
            Assert.That(m.Parameters.All(p => p.Value.ToArray().All(float.IsFinite)), Is.True);
        }
    }

    [TestCase(20f)]
    [TestCase(-20f)]
    public void ExtremeLogSigma_KeepsTheBoundFinite(float logSigma)
    {
        var m = Iwae<float>.Create(Config, new Rng(2));
        SetBias(m, "encoder.logsigma.b", logSigma);
        Assert.That(float.IsFinite(TrainStep(m, Images(0.5f), 20)), Is.True);
        var x = Binarize.Fixed(Images(0.5f, 3).Images, 1);
        Assert.That(double.IsFinite(Evaluation.Nll(m, x, 50)), Is.True);
    }

    [TestCase(0f)]
    [TestCase(1f)]
    public void AllZeroAndAllOneImages_BatchOfOne(float pixel)
    {
        var m = Iwae<float>.Create(Config, new Rng(3));
        for (int i = 0; i < 5; i++) Assert.That(float.IsFinite(TrainStep(m, Images(pixel, 1), 1)), Is.True);
        var ll = Evaluation.LogLikelihoods(m, Images(pixel, 2).Images, 100);
        Assert.That(ll.All(double.IsFinite), Is.True);
    }

    [Test]
    public void K5000_TrainStepAndEvaluation_StayFinite()
    {
        var m = Iwae<float>.Create(Config with { K = 5000 }, new Rng(4));
        var d = Images(0.3f, 2);
        Assert.That(float.IsFinite(TrainStep(m, d, 2)), Is.True);
        var x = Binarize.Fixed(d.Images, 2);
        Assert.That(Evaluation.LogLikelihoods(m, x, 5000).All(double.IsFinite), Is.True);
    }
}
