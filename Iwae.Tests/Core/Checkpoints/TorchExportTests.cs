using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;

namespace Iwae.Tests.Core.Checkpoints;

/// <summary>
/// The PyTorch state_dict export: names and shapes as nn.Linear has them, the config in the metadata, and an export
/// followed by an import that gives back the same bits (weights and log-likelihoods); every malformed file is one
/// <see cref="CheckpointFormatException"/> naming the file and the tensor.
/// </summary>
public class TorchExportTests : TempDirTests
{
    private string File(string name) => Path.Combine(Dir, name);

    private static readonly ModelConfig OneLayer = new() { InputSize = 12, Hidden = [8, 7], Latent = 3, K = 4 };
    private static readonly ModelConfig TwoLayers = new() { InputSize = 12, Hidden = [8], Latent = 5, Layers = 2, Hidden2 = [6], Latent2 = 2, K = 3, Model = ModelKind.Vae };

    /// <summary>A model with random weights everywhere (biases too), so a transposition mistake cannot hide behind zeros.</summary>
    private static Iwae<float> Random(ModelConfig config, ulong seed)
    {
        var model = Iwae<float>.Create(config, new Rng(seed));
        var rng = new Rng(seed + 1);
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Value.Length; i++) p.Value.Span[i] = (float)(rng.NextDouble() - 0.5);
        return model;
    }

    private static Tensor<float> Binary(int rows, int cols, ulong seed)
    {
        var rng = new Rng(seed);
        var x = Tensor<float>.Zeros(rows, cols);
        for (int i = 0; i < x.Length; i++) x.Span[i] = rng.NextFloat() < 0.3f ? 1 : 0;
        return x;
    }

    private static IEnumerable<ModelConfig> Configs() => [OneLayer, TwoLayers];

    [TestCaseSource(nameof(Configs))]
    public void ExportThenImport_GivesTheSameBitsAndLogLikelihoods(ModelConfig config)
    {
        var model = Random(config, 7);
        TorchExport.Export(model, File("m.safetensors"));
        var back = TorchExport.Import(File("m.safetensors"));

        Assert.That(back.Config.ToJson(), Is.EqualTo(config.ToJson()));
        Assert.That(back, Is.InstanceOf(model.GetType()));
        Assert.That(back.Parameters.Select(p => p.Name), Is.EqualTo(model.Parameters.Select(p => p.Name)));
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            var (a, b) = (model.Parameters[i], back.Parameters[i]);
            Assert.That((b.Rows, b.Cols), Is.EqualTo((a.Rows, a.Cols)), a.Name);
            Assert.That(Bits(b.Value.Span), Is.EqualTo(Bits(a.Value.Span)), a.Name);
        }
        var x = Binary(23, config.InputSize, 3);
        Assert.That(Evaluation.LogLikelihoods(back, x, k: 60), Is.EqualTo(Evaluation.LogLikelihoods(model, x, k: 60)));
    }

    [TestCaseSource(nameof(Configs))]
    public void ExportedFile_HasNnLinearNamesAndShapes_TheConfig_AndNothingElse(ModelConfig config)
    {
        var model = Random(config, 8);
        TorchExport.Export(model, File("m.safetensors"));
        var file = SafeTensors.Read(File("m.safetensors"));

        Assert.That(file.Metadata, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "iwae.net/torch-1", ["iwae.config"] = config.ToJson() }));
        var expected = new List<string>();
        foreach (var p in model.Parameters)
        {
            bool weight = p.Name.EndsWith(".W");
            string name = p.Name[..^2] + (weight ? ".weight" : ".bias");
            expected.Add(name);
            var e = file[name];
            Assert.That(e.DType, Is.EqualTo(SafeTensorDType.F32), name);
            var values = e.ToF32();
            if (weight)
            {
                // nn.Linear: weight [out, in] with y = x weight^T + bias, so weight[o, i] = W[i, o].
                Assert.That(e.ShapeArray(), Is.EqualTo(new[] { p.Cols, p.Rows }), name);
                for (int i = 0; i < p.Rows; i++)
                    for (int o = 0; o < p.Cols; o++)
                        Assert.That(BitConverter.SingleToInt32Bits(values[o * p.Rows + i]), Is.EqualTo(BitConverter.SingleToInt32Bits(p.Value.Span[i * p.Cols + o])));
            }
            else
            {
                Assert.That(e.ShapeArray(), Is.EqualTo(new[] { p.Cols }), name + " is 1-D");
                Assert.That(Bits(values), Is.EqualTo(Bits(p.Value.Span)), name);
            }
        }
        Assert.That(file.Entries.Select(e => e.Name), Is.EquivalentTo(expected), "no optimiser or RNG state, nothing else");
        Assert.That(expected, Does.Contain("encoder.hidden.0.weight").And.Contain("encoder.mu.bias").And.Contain("encoder.logsigma.weight")
            .And.Contain("decoder.hidden.0.weight").And.Contain("decoder.out.bias"));
        if (config.Layers == 2) Assert.That(expected, Does.Contain("encoder.h2.mu.weight").And.Contain("decoder.h1.logsigma.bias"));
    }

    [Test]
    public void FileWithoutConfig_NeedsOne_AndTakesTheGivenOne()
    {
        var model = Random(OneLayer, 9);
        TorchExport.Export(model, File("m.safetensors"));
        string bare = Rewrite("bare", meta => meta.Remove("iwae.config"), e => e);

        var err = Assert.Throws<CheckpointFormatException>(() => TorchExport.Import(bare))!;
        Assert.That(err.Message, Does.Contain(bare).And.Contain("no model config"));

        var back = TorchExport.Import(bare, OneLayer);
        Assert.That(Bits(back.Parameters[0].Value.Span), Is.EqualTo(Bits(model.Parameters[0].Value.Span)));
    }

    [Test]
    public void GivenConfig_MustMatchTheFiles()
    {
        TorchExport.Export(Random(OneLayer, 9), File("m.safetensors"));
        Assert.That(TorchExport.Import(File("m.safetensors"), OneLayer).Config.ToJson(), Is.EqualTo(OneLayer.ToJson()));
        var err = Assert.Throws<CheckpointFormatException>(() => TorchExport.Import(File("m.safetensors"), OneLayer with { K = 9 }))!;
        Assert.That(err.Message, Does.Contain("k=4").And.Contain("k=9"));
    }

    private static IEnumerable<TestCaseData> BadFiles()
    {
        TestCaseData C(string name, Action<Dictionary<string, string>> meta, Func<SafeTensorEntry, SafeTensorEntry?> map, string message)
            => new TestCaseData(meta, map, message).SetName($"Import_BadFile({name})");
        yield return C("missing tensor", _ => { }, e => e.Name == "decoder.out.bias" ? null : e, "missing tensor 'decoder.out.bias'");
        yield return C("weight not transposed", _ => { }, e => e.Name == "encoder.mu.weight" ? SafeTensorEntry.FromF32(e.Name, [7, 3], e.ToF32()) : e,
            "tensor 'encoder.mu.weight' has shape [7,3], expected [3,7]");
        yield return C("bias 2-D", _ => { }, e => e.Name == "encoder.mu.bias" ? SafeTensorEntry.FromF32(e.Name, [1, 3], e.ToF32()) : e,
            "tensor 'encoder.mu.bias' has shape [1,3], expected [3]");
        yield return C("F64", _ => { }, e => e.Name == "decoder.out.weight" ? SafeTensorEntry.FromF64(e.Name, e.Shape, e.ToF32().Select(v => (double)v).ToArray()) : e,
            "tensor 'decoder.out.weight' is F64, expected F32");
        yield return C("config invalid", m => m["iwae.config"] = "{\"k\":0}", e => e, "metadata 'iwae.config': k must be from 1 to 100000, got 0");
        yield return C("NaN weight", _ => { }, e => e.Name == "encoder.mu.weight" ? SafeTensorEntry.FromF32(e.Name, e.Shape, With(e.ToF32(), 4, float.NaN)) : e,
            "tensor 'encoder.mu.weight' holds NaN at [0,4]; weights must be finite");
        yield return C("infinite bias", _ => { }, e => e.Name == "decoder.out.bias" ? SafeTensorEntry.FromF32(e.Name, e.Shape, With(e.ToF32(), 11, float.NegativeInfinity)) : e,
            "tensor 'decoder.out.bias' holds -Infinity at [11]; weights must be finite");
        yield return C("more layers than the config", m => m["iwae.config"] = (OneLayer with { Hidden = [8] }).ToJson(), e => e, "unexpected tensor 'encoder.hidden.1.weight'");
    }

    private static float[] With(float[] values, int index, float value)
    {
        values[index] = value;
        return values;
    }

    [TestCaseSource(nameof(BadFiles))]
    public void Import_BadFile_ThrowsNamingFileAndTensor(Action<Dictionary<string, string>> meta, Func<SafeTensorEntry, SafeTensorEntry?> map, string message)
    {
        TorchExport.Export(Random(OneLayer, 10), File("m.safetensors"));
        string bad = Rewrite("bad", meta, map);
        var err = Assert.Throws<CheckpointFormatException>(() => TorchExport.Import(bad))!;
        Assert.That(err.Message, Does.StartWith(bad + ": ").And.Contain(message));
        Assert.That(err.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void TorchName_MapsWeightsAndBiases_AndRejectsOtherNames()
    {
        Assert.That(TorchExport.TorchName("encoder.hidden.0.W"), Is.EqualTo("encoder.hidden.0.weight"));
        Assert.That(TorchExport.TorchName("decoder.h1.mu.b"), Is.EqualTo("decoder.h1.mu.bias"));
        Assert.Throws<ArgumentException>(() => TorchExport.TorchName("rng.state"));
    }

    /// <summary>A copy of m.safetensors with its metadata edited and each tensor mapped (null: dropped).</summary>
    private string Rewrite(string name, Action<Dictionary<string, string>> meta, Func<SafeTensorEntry, SafeTensorEntry?> map)
    {
        var file = SafeTensors.Read(File("m.safetensors"));
        var metadata = file.Metadata.ToDictionary();
        meta(metadata);
        string path = File(name + ".safetensors");
        SafeTensors.Write(path, metadata, file.Entries.Select(map).OfType<SafeTensorEntry>());
        return path;
    }

    private static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++) bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        return bits;
    }
}
