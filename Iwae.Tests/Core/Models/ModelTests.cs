using Iwae.Autodiff;
using Iwae.Core.Models;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Core.Models;

/// <summary>The IWAE and VAE: their bounds, their one difference, gradients through the real model code.</summary>
public class ModelTests
{
    private static ModelConfig Small(ModelKind kind = ModelKind.Iwae, int k = 3, int input = 6, int latent = 2) =>
        new() { Model = kind, K = k, InputSize = input, Hidden = [5, 4], Latent = latent };

    private static Tensor<T> BinaryData<T>(int rows, int cols, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var x = Random<T>(rows, cols, seed);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x.Span[i] > T.Zero ? T.One : T.Zero;
        return x;
    }

    [Test]
    public void Vae_DiffersFromIwae_OnlyInGetWeights()
    {
        // Vae declares exactly one member of its own beyond its constructor: the GetWeights override.
        var declared = typeof(Vae<float>).GetMembers(System.Reflection.BindingFlags.DeclaredOnly | System.Reflection.BindingFlags.Instance |
                                                     System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)
            .Where(m => m.MemberType != System.Reflection.MemberTypes.Constructor).Select(m => m.Name).ToArray();
        Assert.That(declared, Is.EqualTo(new[] { "GetWeights" }));
        Assert.That(typeof(Vae<float>).BaseType, Is.EqualTo(typeof(Iwae<float>)));
    }

    [Test]
    public void AtKEqualsOne_VaeAndIwaeLossesAndGradientsCoincide()
    {
        var x = BinaryData<double>(4, 6, 1);
        var iwae = Iwae<double>.Create(Small(ModelKind.Iwae, k: 1), new Rng(7));
        var vae = Iwae<double>.Create(Small(ModelKind.Vae, k: 1), new Rng(7));
        Assert.That(vae, Is.InstanceOf<Vae<double>>());
        var (li, gi) = LossAndGrad(iwae, x, 1);
        var (lv, gv) = LossAndGrad(vae, x, 1);
        Assert.That(lv, Is.EqualTo(li));
        Assert.That(gv, Is.EqualTo(gi));
    }

    [Test]
    public void AtKAboveOne_VaeAndIwaeGradientsDiffer_VaeLossIsMinusTheElbo()
    {
        var x = BinaryData<double>(4, 6, 1);
        var iwae = Iwae<double>.Create(Small(ModelKind.Iwae, k: 5), new Rng(7));
        var vae = Iwae<double>.Create(Small(ModelKind.Vae, k: 5), new Rng(7));
        var (_, gi) = LossAndGrad(iwae, x, 5);
        var (lv, gv) = LossAndGrad(vae, x, 5);
        Assert.That(MaxAbsDiff(gi, gv), Is.GreaterThan(1e-4));
        var t = new Tape<double>();
        var lw = vae.LogWeights(t, t.Constant(x), 5, new Rng(11)).Value.ToArray();
        Assert.That(lv, Is.EqualTo(-lw.Sum() / (4 * 5)).Within(1e-12), "VAE loss = -mean_b (1/k) sum_s log w");
    }

    private static (double Loss, double[] Grad) LossAndGrad(Iwae<double> m, Tensor<double> x, int k)
    {
        var t = new Tape<double>();
        m.Parameters.ZeroGrad();
        var loss = m.Loss(t, m.LogWeights(t, t.Constant(x), k, new Rng(11)));
        t.Backward(loss);
        return (loss.Item, m.Parameters.SelectMany(p => p.Grad.ToArray()).ToArray());
    }

    [Test]
    public void IwaeBound_IsAtLeastTheElbo_OnTheSameSamples()
    {
        var model = Iwae<double>.Create(Small(k: 10), new Rng(3));
        var x = BinaryData<double>(7, 6, 2);
        var t = new Tape<double>();
        var logW = model.LogWeights(t, t.Constant(x), 10, new Rng(5));         // [k,B]
        var lk = t.Sub(t.LogSumExp(logW, 0), t.Fill(1, 1, Math.Log(10))).Value; // [1,B] per input
        var elbo = t.Mean(logW, 0).Value;                                      // [1,B]
        for (int b = 0; b < 7; b++) Assert.That(lk[0, b], Is.GreaterThanOrEqualTo(elbo[0, b]), $"input {b}");
        Assert.That(Iwae<double>.Bound(t, logW).Item, Is.EqualTo(lk.ToArray().Average()).Within(1e-12));
    }

    [Test]
    public void WholeModel_Float64GradCheck_BernoulliAndGaussianDecoders([Values] ModelKind kind, [Values] Observation obs, [Values(1, 3)] int k)
    {
        var config = Small(kind, k) with { Observation = obs, DecoderSigma = 0.5 };
        var model = Iwae<double>.Create(config, new Rng(17));
        var x = obs == Observation.Bernoulli ? BinaryData<double>(3, 6, 4) : Random<double>(3, 6, 4);
        var r = GradCheck.Check(t => model.Loss(t, model.LogWeights(t, t.Constant(x), k, new Rng(23))), model.Parameters.ToArray());
        Assert.That(r.Passed, Is.True, r.ToString());
    }

    [Test]
    public void Float32Gradient_MatchesFloat64_WithinDocumentedTolerance()
    {
        // The paper's shapes, scaled down: float32 keeps about 7 digits, and the loss sums 784 log-likelihood terms
        // per sample, so we accept a relative error of 1e-3 in the gradient (2-norm) and 1e-5 in the loss.
        var config = new ModelConfig { K = 5, InputSize = 784, Hidden = [50, 40], Latent = 10 };
        var m32 = Iwae<float>.Create(config, new Rng(5));
        var m64 = Iwae<double>.Create(config, new Rng(5));
        CopyWeights(m32.Parameters, m64.Parameters);     // identical weights
        var x32 = BinaryData<float>(8, 784, 6);
        var x64 = Tensor<double>.Zeros(8, 784);
        for (int i = 0; i < x32.Length; i++) x64.Span[i] = x32.Span[i];

        var t32 = new Tape<float>();
        var l32 = m32.Loss(t32, m32.LogWeights(t32, t32.Constant(x32), 5, new Rng(9)));
        t32.Backward(l32);
        var t64 = new Tape<double>();
        var l64 = m64.Loss(t64, m64.LogWeights(t64, t64.Constant(x64), 5, new Rng(9)));
        t64.Backward(l64);

        Assert.That(l32.Item, Is.EqualTo(l64.Item).Within(1e-5 * Math.Abs(l64.Item)));
        double diff = 0, norm = 0;
        for (int p = 0; p < m32.Parameters.Count; p++)
        {
            var a = m32.Parameters[p].Grad.Span;
            var b = m64.Parameters[p].Grad.Span;
            for (int i = 0; i < a.Length; i++) { diff += (a[i] - b[i]) * (a[i] - b[i]); norm += b[i] * b[i]; }
        }
        double rel = Math.Sqrt(diff / norm);
        TestContext.Out.WriteLine($"float32 vs float64 gradient: relative 2-norm error {rel:E2}");
        Assert.That(rel, Is.LessThan(1e-3));
    }

    [Test]
    public void DecoderOutputBias_StartsAtLogitOfTheMeanPixel()
    {
        float[] mean = [0.0f, 0.5f, 0.9f, 1.0f, 0.25f, 0.0005f];
        var model = Iwae<float>.Create(Small(), new Rng(1), mean);
        var bias = model.Parameters.Single(p => p.Name == "decoder.out.b").Value.ToArray();
        double Logit(double p) => Math.Log(p / (1 - p));
        Assert.That(bias[0], Is.EqualTo(Logit(0.001)).Within(1e-5));
        Assert.That(bias[1], Is.EqualTo(0).Within(1e-6));
        Assert.That(bias[2], Is.EqualTo(Logit(0.9)).Within(1e-5));
        Assert.That(bias[3], Is.EqualTo(Logit(0.999)).Within(1e-4));
        Assert.That(model.Parameters.Where(p => p.Name.EndsWith(".b") && p.Name != "decoder.out.b").SelectMany(p => p.Value.ToArray()), Is.All.Zero);
    }

    [Test]
    public void ParameterNames_AreUniqueAndReadable()
    {
        var model = Iwae<float>.Create(new ModelConfig(), new Rng(1));
        var names = model.Parameters.Select(p => p.Name).ToArray();
        Assert.That(names, Is.Unique);
        Assert.That(names, Does.Contain("encoder.hidden.0.W").And.Contain("encoder.mu.W").And.Contain("encoder.logsigma.b").And.Contain("decoder.out.W"));
        Assert.That(model.Parameters.Single(p => p.Name == "encoder.hidden.0.W").Value.Rows, Is.EqualTo(784));
        Assert.That(model.Parameters.Single(p => p.Name == "decoder.hidden.0.W").Value.Rows, Is.EqualTo(50));
    }

    [Test]
    public void Config_RoundTripsThroughJson_AndRejectsBadValues()
    {
        var c = new ModelConfig { Model = ModelKind.Vae, K = 50, Hidden = [300, 100], Latent = 7, Observation = Observation.Gaussian };
        var back = ModelConfig.FromJson(c.ToJson());
        Assert.That(back.ToJson(), Is.EqualTo(c.ToJson()));
        Assert.That(c.ToJson(), Does.Contain("\"model\":\"vae\""));
        Assert.That(() => (c with { K = 0 }).Validate(), Throws.InstanceOf<SettingException>().With.Message.EqualTo("k must be from 1 to 100000, got 0"));
        Assert.That(() => (c with { Hidden = [200, 0] }).Validate(), Throws.InstanceOf<SettingException>().With.Property(nameof(SettingException.Field)).EqualTo("hidden"));
        Assert.That(() => ModelConfig.FromJson("{not json"), Throws.ArgumentException);
    }
}
