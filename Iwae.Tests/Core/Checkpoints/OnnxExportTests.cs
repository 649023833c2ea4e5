using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace Iwae.Tests.Core.Checkpoints;

/// <summary>
/// The exported ONNX graphs run in ONNX Runtime, directly and through ML.NET's ApplyOnnxModel, and give our forward
/// pass's values (encoder mu and log sigma, decoder logits and probabilities or mean) within 1e-5 on random inputs.
/// </summary>
public class OnnxExportTests
{
    // float32 sums in another order (ONNX Runtime's GEMM) and another tanh: a few ulps of values of order 1 to 10.
    private const float Tolerance = 1e-5f;

    public static IEnumerable<TestCaseData> Models()
    {
        yield return new TestCaseData(new ModelConfig { InputSize = 12, Hidden = [8, 7], Latent = 3 }).SetArgDisplayNames("bernoulli 12-8-7-3");
        yield return new TestCaseData(new ModelConfig { InputSize = 12, Hidden = [8, 7], Latent = 3, Observation = Observation.Gaussian, DecoderSigma = 0.3 })
            .SetArgDisplayNames("gaussian 12-8-7-3");
        yield return new TestCaseData(new ModelConfig { InputSize = 5, Hidden = [], Latent = 2, Observation = Observation.Gaussian }).SetArgDisplayNames("gaussian linear 5-2");
        yield return new TestCaseData(new ModelConfig()).SetArgDisplayNames("default 784-200-200-50");
        yield return new TestCaseData(new ModelConfig { Model = ModelKind.Vae, Observation = Observation.Gaussian }).SetArgDisplayNames("vae default gaussian");
        yield return new TestCaseData(new ModelConfig { InputSize = 12, Hidden = [8, 7], Latent = 3, Observation = Observation.Gaussian, DecoderVariance = DecoderVariance.PerDimension })
            .SetArgDisplayNames("gaussian per-dimension sigma 12-8-7-3");
        yield return new TestCaseData(new ModelConfig { InputSize = 12, Hidden = [8, 7], Latent = 3, Observation = Observation.Gaussian, DecoderVariance = DecoderVariance.Shared, Standardize = true })
            .SetArgDisplayNames("gaussian shared sigma standardised 12-8-7-3");
        yield return new TestCaseData(new ModelConfig { InputSize = 20, Hidden = [16], Latent = 4, Observation = Observation.Gaussian, DecoderVariance = DecoderVariance.PerDimension, Standardize = true })
            .SetArgDisplayNames("gaussian per-dimension sigma standardised 20-16-4");
        yield return new TestCaseData(new ModelConfig { InputSize = 12, Hidden = [8], Latent = 3, Observation = Observation.Gaussian, Standardize = true })
            .SetArgDisplayNames("gaussian fixed sigma standardised 12-8-3");
    }

    /// <summary>
    /// A model with Glorot weights and biases drawn N(0, 0.5^2), so that every bias is exercised; a learned log sigma
    /// N(-1, 0.5^2) (one value or one per dimension); a standardising model's data means N(0, 2^2) and stds in [0.1, 3).
    /// </summary>
    internal static Iwae<float> RandomModel(ModelConfig config, ulong seed)
    {
        var model = Iwae<float>.Create(config, new Rng(seed));
        var rng = new Rng(seed + 1);
        foreach (var p in model.Parameters.Where(p => p.Name.EndsWith(".b", StringComparison.Ordinal) || p.Name == GaussianDecoder<float>.LogSigmaName))
        {
            rng.FillNormal(p.Value.Span);
            foreach (ref var v in p.Value.Span) v = p.Name.EndsWith(".b", StringComparison.Ordinal) ? 0.5f * v : 0.5f * v - 1;
        }
        if (config.Standardize)
        {
            var mean = new float[config.InputSize];
            rng.FillNormal(mean);
            model.SetStandardization(new Standardization(mean.Select(v => 2 * v).ToArray(),
                Enumerable.Range(0, config.InputSize).Select(_ => 0.1f + 2.9f * rng.NextFloat()).ToArray()));
        }
        return model;
    }

    private static float[] Normal(int count, ulong seed)
    {
        var values = new float[count];
        new Rng(seed).FillNormal(values);
        return values;
    }

    /// <summary>Our encoder: x [N,D] -> (mu, log sigma) [N,Z], row-major.</summary>
    internal static (float[] Mu, float[] LogSigma) OurEncoder(Iwae<float> model, float[] x, int n)
    {
        var t = new Tape<float> { NoGrad = true };
        var (mu, logSigma) = model.Encode(t, t.Constant(Tensor<float>.FromArray(n, model.Config.InputSize, x)));
        return (mu.Value.Span.ToArray(), logSigma.Value.Span.ToArray());
    }

    /// <summary>
    /// Our decoder: z [N,Z] -> the graph's outputs by name (logits and probs, or mean and log sigma), row-major [N,D], in
    /// the data's units (the model's <c>DecoderMean</c>; log sigma from the decoder's sigma and the data's std).
    /// </summary>
    internal static Dictionary<string, float[]> OurDecoder(Iwae<float> model, float[] z, int n)
    {
        var t = new Tape<float> { NoGrad = true };
        var zv = t.Constant(Tensor<float>.FromArray(n, model.Latent, z));
        var mean = model.DecoderMean(t, zv).Value.Span.ToArray();
        if (model.Decoder is BernoulliDecoder<float> bernoulli)
            return new() { [OnnxExport.Logits] = bernoulli.Logits(t, zv).Value.Span.ToArray(), [OnnxExport.Probs] = mean };
        var sigma = ((GaussianDecoder<float>)model.Decoder).Sigma();
        int d = model.Config.InputSize;
        var logSigma = new float[n * d];
        for (int i = 0; i < logSigma.Length; i++)
            logSigma[i] = (float)(Math.Log(sigma[i % d]) + (model.Standardization is { } s ? Math.Log(s.Std[i % d]) : 0));
        return new() { [OnnxExport.Mean] = mean, [OnnxExport.LogSigma] = logSigma };
    }

    /// <summary>Runs <paramref name="model"/> in ONNX Runtime on the single input [n, width]; returns every output by name.</summary>
    internal static Dictionary<string, float[]> RunOrt(byte[] model, string input, float[] values, int n)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory(values, [n, values.Length / n]);
        var names = session.OutputNames.ToArray();
        using var results = session.Run(new RunOptions(), [input], [value], names);
        return names.Zip(results).ToDictionary(r => r.First, r => r.Second.GetTensorDataAsSpan<float>().ToArray());
    }

    internal static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        TestContext.Out.WriteLine($"{what}: max abs difference {worst:G3} over {expected.Length} values");
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance), $"{what}: max abs difference");
        Assert.That(expected.Any(v => Math.Abs(v) > 0.1f), $"{what}: values too small for the comparison to mean anything");
    }

    [TestCaseSource(nameof(Models))]
    public void Encoder_InOnnxRuntime_GivesOurMuAndLogSigma(ModelConfig config)
    {
        var model = RandomModel(config, 11);
        const int n = 7;
        var x = Normal(n * config.InputSize, 12);
        var (mu, logSigma) = OurEncoder(model, x, n);
        var onnx = RunOrt(OnnxExport.Encoder(model), OnnxExport.X, x, n);

        Assert.That(onnx.Keys, Is.EqualTo(new[] { OnnxExport.Mu, OnnxExport.LogSigma, OnnxExport.LogVar }));
        AssertClose(onnx[OnnxExport.Mu], mu, "mu");
        AssertClose(onnx[OnnxExport.LogSigma], logSigma, "log_sigma");
        Assert.That(onnx[OnnxExport.LogVar], Is.EqualTo(onnx[OnnxExport.LogSigma].Select(v => 2 * v).ToArray()), "log_var = 2 log_sigma, exactly");
    }

    [TestCaseSource(nameof(Models))]
    public void Decoder_InOnnxRuntime_GivesOurLogitsAndMeans(ModelConfig config)
    {
        var model = RandomModel(config, 21);
        const int n = 6;
        var z = Normal(n * config.Latent, 22);
        var ours = OurDecoder(model, z, n);
        var onnx = RunOrt(OnnxExport.Decoder(model), OnnxExport.Z, z, n);

        Assert.That(onnx.Keys, Is.EqualTo(ours.Keys));
        foreach (var (name, expected) in ours) AssertClose(onnx[name], expected, name);
    }

    [Test]
    public void Graphs_DeclareABatchDimensionN_OurNamesAndShapes_AndTheConfigInTheirMetadata()
    {
        var config = new ModelConfig { InputSize = 12, Hidden = [8], Latent = 3, Observation = Observation.Gaussian, DecoderSigma = 0.25 };
        var model = RandomModel(config, 3);
        using var encoder = new InferenceSession(OnnxExport.Encoder(model));
        using var decoder = new InferenceSession(OnnxExport.Decoder(model));

        var x = encoder.InputMetadata[OnnxExport.X];
        Assert.That(x.ElementType, Is.EqualTo(typeof(float)));
        Assert.That(x.Dimensions, Is.EqualTo(new[] { -1, 12 }));
        Assert.That(x.SymbolicDimensions[0], Is.EqualTo("N"));
        foreach (var name in new[] { OnnxExport.Mu, OnnxExport.LogSigma, OnnxExport.LogVar })
            Assert.That(encoder.OutputMetadata[name].Dimensions, Is.EqualTo(new[] { -1, 3 }), name);
        Assert.That(decoder.InputMetadata.Keys, Is.EqualTo(new[] { OnnxExport.Z }));
        Assert.That(decoder.InputMetadata[OnnxExport.Z].Dimensions, Is.EqualTo(new[] { -1, 3 }));
        Assert.That(decoder.OutputMetadata.Keys, Is.EqualTo(new[] { OnnxExport.Mean, OnnxExport.LogSigma }));
        Assert.That(decoder.OutputMetadata[OnnxExport.Mean].Dimensions, Is.EqualTo(new[] { -1, 12 }));

        var meta = decoder.ModelMetadata;
        Assert.That(meta.ProducerName, Is.EqualTo("iwae.net"));
        Assert.That(meta.CustomMetadataMap["format"], Is.EqualTo(OnnxExport.Format));
        Assert.That(meta.CustomMetadataMap["graph"], Is.EqualTo("decoder"));
        Assert.That(encoder.ModelMetadata.CustomMetadataMap["graph"], Is.EqualTo("encoder"));
        Assert.That(ModelConfig.FromJson(meta.CustomMetadataMap[OnnxExport.ConfigKey]).ToJson(), Is.EqualTo(config.ToJson()));
        Assert.That(meta.CustomMetadataMap[OnnxExport.DecoderSigmaKey], Is.EqualTo("0.25"));
        Assert.That(encoder.ModelMetadata.CustomMetadataMap.ContainsKey(OnnxExport.DecoderSigmaKey), Is.False);
    }

    [TestCase(Observation.Bernoulli)]
    [TestCase(Observation.Gaussian)]
    public void TwoStochasticLayers_GiveFourGraphs_EachOurNetwork(Observation observation)
    {
        var config = new ModelConfig { InputSize = 12, Hidden = [8], Latent = 4, Layers = 2, Hidden2 = [6, 5], Latent2 = 3, Observation = observation };
        var model = RandomModel(config, 41);
        var graphs = OnnxExport.Graphs(model);
        Assert.That(graphs.Select(g => g.Network), Is.EqualTo(new[] { "encoder", "encoder.h2", "decoder.h1", "decoder" }));
        const int n = 5;
        var x = Normal(n * 12, 42);
        var h1 = Normal(n * 4, 43);
        var h2 = Normal(n * 3, 44);

        var t = new Tape<float> { NoGrad = true };
        var ours = new Dictionary<string, (float[] Mu, float[] LogSigma)>
        {
            ["encoder"] = OurEncoder(model, x, n),
            ["encoder.h2"] = Values(model.EncoderH2!.Encode(t, t.Constant(Tensor<float>.FromArray(n, 4, h1)))),
            ["decoder.h1"] = Values(model.DecoderH1!.Encode(t, t.Constant(Tensor<float>.FromArray(n, 3, h2)))),
        };
        var inputs = new Dictionary<string, (string Name, float[] Values)>
            { ["encoder"] = (OnnxExport.X, x), ["encoder.h2"] = (OnnxExport.H1, h1), ["decoder.h1"] = (OnnxExport.H2, h2) };
        foreach (var (network, bytes) in graphs.Where(g => g.Network != "decoder"))
        {
            var onnx = RunOrt(bytes, inputs[network].Name, inputs[network].Values, n);
            AssertClose(onnx[OnnxExport.Mu], ours[network].Mu, network + " mu");
            AssertClose(onnx[OnnxExport.LogSigma], ours[network].LogSigma, network + " log_sigma");
            using var session = new InferenceSession(bytes);
            Assert.That(session.ModelMetadata.CustomMetadataMap["graph"], Is.EqualTo(network));
        }
        var decoded = RunOrt(graphs[^1].Model, OnnxExport.Z, h1, n);
        foreach (var (name, expected) in OurDecoder(model, h1, n)) AssertClose(decoded[name], expected, "decoder " + name);
    }

    private static (float[] Mu, float[] LogSigma) Values((Var<float> Mu, Var<float> LogSigma) v) => (v.Mu.Value.Span.ToArray(), v.LogSigma.Value.Span.ToArray());

    [Test]
    public void TheSecondLayersGraphs_OfAOneLayerModel_AreRefused()
    {
        var model = RandomModel(new ModelConfig { InputSize = 12, Hidden = [8], Latent = 3 }, 1);
        Assert.That(() => OnnxExport.EncoderH2(model), Throws.ArgumentException.With.Message.EqualTo("the model has one stochastic layer, so no q(h2|h1)"));
        Assert.That(() => OnnxExport.DecoderH1(model), Throws.ArgumentException.With.Message.EqualTo("the model has one stochastic layer, so no p(h1|h2)"));
        Assert.That(OnnxExport.Graphs(model).Select(g => g.Network), Is.EqualTo(new[] { "encoder", "decoder" }));
    }

    [Test]
    public void Export_IsTheSameBytes_ForTheSameModel()
    {
        var config = new ModelConfig { InputSize = 12, Hidden = [8], Latent = 3 };
        byte[] first = OnnxExport.Encoder(RandomModel(config, 5)), second = OnnxExport.Encoder(RandomModel(config, 5));
        Assert.That(second, Is.EqualTo(first));
        Assert.That(OnnxExport.Decoder(RandomModel(config, 5)), Is.Not.EqualTo(OnnxExport.Decoder(RandomModel(config, 6))));
    }

    /// <summary>A row of ML.NET data: one vector column, sized at run time through the schema.</summary>
    public sealed class VectorRow
    {
        public float[] Input = [];
    }

    /// <summary>Scores <paramref name="values"/> [n, width] through ML.NET's ApplyOnnxModel; returns the outputs row-major.</summary>
    private static Dictionary<string, float[]> RunMlNet(byte[] model, string input, string[] outputs, float[] values, int n)
    {
        int width = values.Length / n;
        var ml = new MLContext(seed: 0);
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        var column = schema[nameof(VectorRow.Input)];
        column.ColumnName = input;
        column.ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        var rows = Enumerable.Range(0, n).Select(i => new VectorRow { Input = values.AsSpan(i * width, width).ToArray() }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows, schema);
        using var stream = new MemoryStream(model);
        var transformer = ml.Transforms.ApplyOnnxModel(outputs, [input], stream).Fit(data);
        try
        {
            var scored = transformer.Transform(data);
            return outputs.ToDictionary(o => o, o => scored.GetColumn<float[]>(o).SelectMany(r => r).ToArray());
        }
        finally
        {
            transformer.Dispose();
        }
    }

    [TestCaseSource(nameof(Models))]
    public void MlNetApplyOnnxModel_ScoresAsOurForwardPass(ModelConfig config)
    {
        var model = RandomModel(config, 31);
        const int n = 5;
        var x = Normal(n * config.InputSize, 32);
        var (mu, logSigma) = OurEncoder(model, x, n);
        var encoded = RunMlNet(OnnxExport.Encoder(model), OnnxExport.X, [OnnxExport.Mu, OnnxExport.LogSigma], x, n);
        AssertClose(encoded[OnnxExport.Mu], mu, "mu");
        AssertClose(encoded[OnnxExport.LogSigma], logSigma, "log_sigma");

        var z = Normal(n * config.Latent, 33);
        var ours = OurDecoder(model, z, n);
        var decoded = RunMlNet(OnnxExport.Decoder(model), OnnxExport.Z, ours.Keys.ToArray(), z, n);
        foreach (var (name, expected) in ours) AssertClose(decoded[name], expected, name);
    }
}
