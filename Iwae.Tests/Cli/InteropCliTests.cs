using System.Globalization;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;
using Iwae.Tests.Core.Checkpoints;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `iwae export`, `iwae import` and `iwae score` end to end: an exported and re-imported checkpoint evaluates to the same
/// figures, a state_dict without a config takes the model options, and the scores CSV holds eval's log-likelihoods.
/// </summary>
[NonParallelizable]
public class InteropCliTests
{
    private static string _root = "";
    private static string Checkpoint => Path.Combine(_root, "iwae.safetensors");
    private static readonly ModelConfig Config = new() { Hidden = [8], Latent = 2, K = 2 };

    [OneTimeSetUp]
    public void Build()
    {
        Directory.CreateDirectory(_root = Path.Combine(Path.GetTempPath(), "iwae-interop-" + Guid.NewGuid().ToString("N")[..8]));
        var (train, _) = Mnist.Load(Mnist.DefaultFolder());
        var model = Runs.CreateModel(Config, train, 1);
        var trainer = new Trainer(model, train, new TrainOptions { Epochs = 1 });
        trainer.Train();
        RunCheckpoint.Save(Checkpoint, model, trainer);
    }

    [OneTimeTearDown]
    public void Remove() => Directory.Delete(_root, recursive: true);

    private static string File(string name) => Path.Combine(_root, name);


    private static string Ok(params string[] args)
    {
        var (code, output, err) = Run(args);
        Assert.That(code, Is.Zero, $"iwae {string.Join(" ", args)}: {err}");
        return output;
    }

    /// <summary>"test NLL (k=..) X, bound k=1 Y, ..., active units N" from eval's last line, without the timings.</summary>
    private static string Figures(string evalOutput)
    {
        string last = evalOutput.TrimEnd().Split('\n')[^1];
        return last[..last.IndexOf(", eval ", StringComparison.Ordinal)];
    }

    [Test]
    public void ExportThenImport_EvaluatesToTheSameFigures_AndTheTestSetIsEvals()
    {
        Ok("export", "--checkpoint", Checkpoint, "--format", "torch", "--out", File("torch.safetensors"), "--test-data-out", File("test.safetensors"));
        string output = Ok("import", "--from", File("torch.safetensors"), "--out", File("back.safetensors"));
        Assert.That(output, Does.Contain("imported 784-8-2 (iwae, k=2)"));

        var (original, back) = (RunCheckpoint.LoadModel(Checkpoint), RunCheckpoint.LoadModel(File("back.safetensors")));
        Assert.That(back.Config.ToJson(), Is.EqualTo(original.Config.ToJson()));
        for (int i = 0; i < original.Parameters.Count; i++)
            Assert.That(back.Parameters[i].Value.Span.ToArray(), Is.EqualTo(original.Parameters[i].Value.Span.ToArray()), original.Parameters[i].Name);
        var data = SafeTensors.Read(File("back.safetensors"));
        Assert.That(data.Entries.Select(e => e.Name), Has.None.StartsWith("optimizer.").And.None.StartsWith("rng."));

        Assert.That(Figures(Ok("eval", "--checkpoint", File("back.safetensors"), "--k", "20")),
            Is.EqualTo(Figures(Ok("eval", "--checkpoint", Checkpoint, "--k", "20"))));

        var test = SafeTensors.Read(File("test.safetensors"));
        var testX = Runs.LoadData(new RunSettings(), Config).TestX;
        Assert.That(test.GetF32("x", out var shape), Is.EqualTo(testX.Span.ToArray()));
        Assert.That(shape, Is.EqualTo(new[] { testX.Rows, 784 }));
        Assert.That(test.Metadata["binarization_seed"], Is.EqualTo(new RunSettings().TestBinarizationSeed.ToString(CultureInfo.InvariantCulture)));
    }

    [Test]
    public void ExportOnnx_WritesBothGraphs_WhichGiveOurEncoderAndDecoderOnTheTestSet()
    {
        string dir = File("onnx-" + Guid.NewGuid().ToString("N")[..6]);
        string output = Ok("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", Path.Combine(dir, "mnist.onnx"), "--test-data-out", Path.Combine(dir, "test.safetensors"));
        string encoder = Path.Combine(dir, "mnist.encoder.onnx"), decoder = Path.Combine(dir, "mnist.decoder.onnx");
        Assert.That(output, Does.Contain($"exported 784-8-2 (iwae, k=2) to {encoder} and {decoder}"));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "mnist.encoder.onnx", "mnist.decoder.onnx", "test.safetensors" }));

        var model = RunCheckpoint.LoadModel(Checkpoint);
        var x = SafeTensors.Read(Path.Combine(dir, "test.safetensors")).GetF32("x", out _).AsSpan(0, 100 * 784).ToArray();
        var (mu, logSigma) = OnnxExportTests.OurEncoder(model, x, 100);
        var encoded = OnnxExportTests.RunOrt(System.IO.File.ReadAllBytes(encoder), OnnxExport.X, x, 100);
        OnnxExportTests.AssertClose(encoded[OnnxExport.Mu], mu, "mu");
        OnnxExportTests.AssertClose(encoded[OnnxExport.LogSigma], logSigma, "log_sigma");
        var ours = OnnxExportTests.OurDecoder(model, mu, 100);
        var decoded = OnnxExportTests.RunOrt(System.IO.File.ReadAllBytes(decoder), OnnxExport.Z, mu, 100);
        foreach (var (name, expected) in ours) OnnxExportTests.AssertClose(decoded[name], expected, name);
    }

    [Test]
    public void ExportOnnx_WhenAnyOutputCannotBeWritten_WritesNone()
    {
        string testData = File(new string('t', 240) + ".safetensors");
        var before = Snapshot();
        string err = Fails("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", File("none"), "--test-data-out", testData);
        Assert.That(err, Does.Contain("--test-data-out " + testData + ": cannot write it ("));
        Assert.That(Snapshot(), Is.EqualTo(before), "neither graph written, no temporary left");

        Directory.CreateDirectory(File("taken.decoder.onnx"));
        before = Snapshot();
        Assert.That(Fails("export", "--checkpoint", Checkpoint, "--format", "onnx", "--out", File("taken")),
            Does.Contain($"--out {File("taken.decoder.onnx")} is a folder; give the file to write"));
        Assert.That(Snapshot(), Is.EqualTo(before), "the encoder is not written without the decoder");
    }

    [Test]
    public void ExportOnnx_OfATwoLayerModel_WritesFourGraphs()
    {
        string twoLayers = File("two-layers.safetensors");
        RunCheckpoint.SaveModel(twoLayers, Iwae<float>.Create(new ModelConfig { Hidden = [8], Latent = 3, Layers = 2, Hidden2 = [6], Latent2 = 2 }, new Iwae.Autodiff.Rng(1)));
        string stem = File("two");
        string output = Ok("export", "--checkpoint", twoLayers, "--format", "onnx", "--out", stem);
        Assert.That(output, Does.Contain($"exported 784-8-3|3-6-2 (iwae, k=5) to {stem}.encoder.onnx, {stem}.encoder.h2.onnx, {stem}.decoder.h1.onnx and {stem}.decoder.onnx"));
        foreach (var network in new[] { "encoder", "encoder.h2", "decoder.h1", "decoder" })
        {
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession($"{stem}.{network}.onnx");
            Assert.That(session.ModelMetadata.CustomMetadataMap["graph"], Is.EqualTo(network));
        }
    }

    [Test]
    public void Import_OfAStateDictWithoutConfig_TakesTheModelOptions()
    {
        TorchExport.Export(RunCheckpoint.LoadModel(Checkpoint), File("with-config.safetensors"));
        var file = SafeTensors.Read(File("with-config.safetensors"));
        SafeTensors.Write(File("bare.safetensors"), new Dictionary<string, string> { ["format"] = "pt" }, file.Entries);

        Ok("import", "--from", File("bare.safetensors"), "--out", File("bare-back.safetensors"), "--hidden", "8", "--latent", "2", "--k", "2");
        Assert.That(RunCheckpoint.Read(File("bare-back.safetensors")).Config.ToJson(), Is.EqualTo(Config.ToJson()));
        Assert.That(Figures(Ok("eval", "--checkpoint", File("bare-back.safetensors"), "--k", "5")),
            Is.EqualTo(Figures(Ok("eval", "--checkpoint", Checkpoint, "--k", "5"))));
    }

    [Test]
    public void Score_WritesEvalsLogLikelihoodsAndStandardErrors_AsCsv()
    {
        string output = Ok("score", "--checkpoint", Checkpoint, "--k", "20", "--out", File("scores.csv"));
        Assert.That(System.IO.File.Exists(File("scores.csv.part")), Is.False);
        var lines = System.IO.File.ReadAllLines(File("scores.csv"));
        Assert.That(lines[0], Is.EqualTo("split,row,log_px,stderr"));

        var model = RunCheckpoint.LoadModel(Checkpoint);
        var expected = Evaluation.LogLikelihoods(model, Runs.LoadData(new RunSettings(), Config).TestX, k: 20);
        Assert.That(lines, Has.Length.EqualTo(expected.Length + 1));
        for (int i = 0; i < expected.Length; i++)
        {
            var cells = lines[i + 1].Split(',');
            Assert.That(cells, Has.Length.EqualTo(4), lines[i + 1]);
            Assert.That(cells[0], Is.EqualTo("test"));
            Assert.That(int.Parse(cells[1], CultureInfo.InvariantCulture), Is.EqualTo(i + 1), "the image in the IDX test file, from 1");
            Assert.That(double.Parse(cells[2], CultureInfo.InvariantCulture), Is.EqualTo(expected[i]), "round-trip formatted");
            double se = double.Parse(cells[3], CultureInfo.InvariantCulture);
            Assert.That(double.IsFinite(se) && se > 0, lines[i + 1]);
        }
        string nll = (-expected.Average()).ToString("F2", CultureInfo.InvariantCulture);
        Assert.That(output, Does.Contain($"({expected.Length} examples, k=20, mean log p(x) -{nll})"));
        Assert.That(Ok("eval", "--checkpoint", Checkpoint, "--k", "20"), Does.Contain($"test NLL (k=20) {nll}"));
    }

    /// <summary>Runs a command that must fail on bad input: exit 2, one line naming what is wrong, no .NET internals.</summary>
    private static string Fails(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), $"iwae {string.Join(" ", args)}: {err}");
        Assert.That(err, Does.StartWith("iwae: "));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        foreach (var leak in new[] { "(Parameter", "Could not find", ".tmp-", "   at ", "Exception" })
            Assert.That(err, Does.Not.Contain(leak), err);
        return err;
    }

    /// <summary>Every file under the test folder and a hash of its bytes.</summary>
    private static Dictionary<string, string> Snapshot() => Directory.GetFiles(_root, "*", SearchOption.AllDirectories)
        .ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.IO.File.ReadAllBytes(f))));

    /// <summary>A copy of the checkpoint with one value of one tensor replaced.</summary>
    private static string CheckpointWith(string name, string tensor, int index, float value)
    {
        string path = File(name);
        var file = SafeTensors.Read(Checkpoint);
        SafeTensors.Write(path, file.Metadata, file.Entries.Select(e =>
        {
            if (e.Name != tensor) return e;
            var v = e.ToF32();
            v[index] = value;
            return SafeTensorEntry.FromF32(e.Name, e.Shape, v);
        }));
        return path;
    }

    // The cases are built at discovery, before the checkpoint exists: paths only inside the lambdas.
    private static IEnumerable<TestCaseData> OutputIsAnInput()
    {
        TestCaseData C(string name, Func<string[]> args, params string[] mentions) => new TestCaseData(args, mentions).SetArgDisplayNames(name);
        string Data() => Write("data.csv", "0,1\n1,0\n");
        string Torch() => Exported("in.safetensors");
        string sep = Path.DirectorySeparatorChar.ToString();
        yield return C("export --out is --checkpoint", () => ["export", "--checkpoint", Checkpoint, "--out", Checkpoint], "--out", "iwae.safetensors is the same file as --checkpoint");
        yield return C("export --out spells --checkpoint with ..", () => ["export", "--checkpoint", Checkpoint, "--out", Path.Combine(_root, "sub", "..", "iwae.safetensors")],
            "--out", "is the same file as --checkpoint");
        yield return C("export --out is a link to --checkpoint", () => ["export", "--checkpoint", Checkpoint, "--out", Link("link.safetensors", Checkpoint)],
            "--out", "is the same file as --checkpoint");
        yield return C("export --test-data-out is --out", () => ["export", "--checkpoint", Checkpoint, "--out", File("m.safetensors"), "--test-data-out", _root + sep + "." + sep + "m.safetensors"],
            "--test-data-out", "is the same file as --out");
        yield return C("export --test-data-out is --checkpoint", () => ["export", "--checkpoint", Checkpoint, "--out", File("m.safetensors"), "--test-data-out", Checkpoint],
            "--test-data-out", "is the same file as --checkpoint");
        yield return C("import --out is --from", () => { string t = Torch(); return ["import", "--from", t, "--out", t]; }, "--out", "is the same file as --from");
        yield return C("score --out is --checkpoint", () => ["score", "--checkpoint", Checkpoint, "--k", "2", "--out", Checkpoint], "--out", "is the same file as --checkpoint");
        yield return C("score --out is --data", () => { string d = Data(); return ["score", "--checkpoint", Checkpoint, "--data", d, "--out", d]; }, "--out", "is the same file as --data");
        yield return C("sample --out is --checkpoint", () => ["sample", "--checkpoint", Checkpoint, "--out", Checkpoint], "--out", "iwae.safetensors is the --checkpoint file");
        yield return C("sample --out is --data", () => { string d = Data(); return ["sample", "--checkpoint", Checkpoint, "--posterior", "--data", d, "--out", d]; }, "is the --data file");
        yield return C("snr --out is --checkpoint", () => ["snr", "--checkpoint", Checkpoint, "--ks", "1", "--draws", "2", "--out", Checkpoint], "--out", "iwae.safetensors is the --checkpoint file");
        yield return C("train --out is --data", () => { string d = Data(); return ["train", "--epochs", "1", "--data", d, "--out", d]; }, "is the --data file");
        yield return C("compare --out is --data", () => { string d = Data(); return ["compare", "--epochs", "1", "--data", d, "--out", d]; }, "is the --data file");
    }

    private static string Write(string name, string text)
    {
        System.IO.File.WriteAllText(File(name), text);
        return File(name);
    }

    private static string Exported(string name)
    {
        if (!System.IO.File.Exists(File(name))) TorchExport.Export(RunCheckpoint.LoadModel(Checkpoint), File(name));
        return File(name);
    }

    private static string Link(string name, string target)
    {
        if (!System.IO.File.Exists(File(name))) System.IO.File.CreateSymbolicLink(File(name), target);
        return File(name);
    }

    [TestCaseSource(nameof(OutputIsAnInput))]
    public void AnOutputThatIsAnInput_IsRefusedBeforeAnyWork_AndNoFileChanges(Func<string[]> makeArgs, string[] mentions)
    {
        var args = makeArgs();
        var before = Snapshot();
        string err = Fails(args);
        foreach (var m in mentions) Assert.That(err, Does.Contain(m));
        Assert.That(Snapshot(), Is.EqualTo(before), "no file created or changed");
    }

    [Test]
    public void Export_WhenTheSecondOutputCannotBeWritten_WritesNeither()
    {
        // A name the file system takes, but not with a temporary suffix: writing the test set fails after the model is done.
        string testData = File(new string('t', 240) + ".safetensors");
        string model = File("both-or-none.safetensors");
        var before = Snapshot();
        string err = Fails("export", "--checkpoint", Checkpoint, "--out", model, "--test-data-out", testData);
        Assert.That(err, Does.Contain("--test-data-out " + testData + ": cannot write it ("));
        Assert.That(System.IO.File.Exists(model), Is.False, "the model is not written without the test set");
        Assert.That(Snapshot(), Is.EqualTo(before), "no file created or changed, no temporary left");
    }

    [Test]
    public void SingleFileOutputs_GoIntoFoldersCreatedAsNeeded()
    {
        string root = File("made-" + Guid.NewGuid().ToString("N")[..6]);
        Ok("export", "--checkpoint", Checkpoint, "--out", Path.Combine(root, "a", "m.safetensors"), "--test-data-out", Path.Combine(root, "b", "t.safetensors"));
        Ok("import", "--from", Path.Combine(root, "a", "m.safetensors"), "--out", Path.Combine(root, "c", "d", "back.safetensors"));
        Ok("score", "--checkpoint", Path.Combine(root, "c", "d", "back.safetensors"), "--k", "2", "--out", Path.Combine(root, "e", "s.csv"));
        Assert.That(Directory.GetFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')),
            Is.EquivalentTo(new[] { "a/m.safetensors", "b/t.safetensors", "c/d/back.safetensors", "e/s.csv" }));
    }

    [Test]
    public void NonFiniteWeights_AreRefusedByImport_AndByEveryCommandThatReadsACheckpoint()
    {
        var file = SafeTensors.Read(Exported("finite.safetensors"));
        SafeTensors.Write(File("nan-torch.safetensors"), file.Metadata, file.Entries.Select(e =>
            e.Name == "decoder.out.bias" ? SafeTensorEntry.FromF32(e.Name, e.Shape, [.. e.ToF32().Select((v, i) => i == 3 ? float.NaN : v)]) : e));
        string imported = File("nan-imported.safetensors");
        Assert.That(Fails("import", "--from", File("nan-torch.safetensors"), "--out", imported),
            Does.Contain(File("nan-torch.safetensors") + ": tensor 'decoder.out.bias' holds NaN at [3]; weights must be finite"));
        Assert.That(System.IO.File.Exists(imported), Is.False);

        string nan = CheckpointWith("nan-weight.safetensors", "encoder.mu.W", 1, float.NaN);
        string inf = CheckpointWith("inf-moment.safetensors", "optimizer.v.decoder.out.b", 0, float.PositiveInfinity);
        string weight = nan + ": tensor 'encoder.mu.W' holds NaN at [0,1]; weights must be finite";
        string moment = inf + ": tensor 'optimizer.v.decoder.out.b' holds Infinity at [0,0]; optimizer state must be finite";
        var before = Snapshot();
        Assert.That(Fails("eval", "--checkpoint", nan, "--k", "2"), Does.Contain(weight));
        Assert.That(Fails("score", "--checkpoint", nan, "--k", "2", "--out", File("nan.csv")), Does.Contain(weight));
        Assert.That(Fails("sample", "--checkpoint", nan, "--out", File("nan-sample")), Does.Contain(weight));
        Assert.That(Fails("snr", "--checkpoint", nan, "--ks", "1", "--draws", "2", "--out", File("nan-snr")), Does.Contain(weight));
        Assert.That(Fails("export", "--checkpoint", nan, "--out", File("nan-export.safetensors")), Does.Contain(weight));
        Assert.That(Fails("eval", "--checkpoint", inf, "--k", "2"), Does.Contain(moment));
        Assert.That(Snapshot(), Is.EqualTo(before), "nothing written");
    }

    [Test]
    public void ExportAndImport_ToANameOtherThanSafetensors_AreRefused()
    {
        var before = Snapshot();
        Assert.That(Fails("export", "--checkpoint", Checkpoint, "--out", File("model.pt")), Does.Contain(
            $"--out {File("model.pt")}: the file is a PyTorch state_dict in safetensors format, which torch.load cannot read (load it with safetensors.torch.load_file, or as docs/interop.md shows); name it {File("model.safetensors")}"));
        Assert.That(Fails("export", "--checkpoint", Checkpoint, "--out", File("m.safetensors"), "--test-data-out", File("test.npy")),
            Does.Contain($"--test-data-out {File("test.npy")}: the file is the test set in safetensors format"));
        Assert.That(Fails("import", "--from", Exported("in.safetensors"), "--out", File("back.ckpt")),
            Does.Contain($"--out {File("back.ckpt")}: the file is a checkpoint in safetensors format, as train writes and eval reads; name it {File("back.safetensors")}"));
        Assert.That(Snapshot().Keys, Is.EquivalentTo(before.Keys.Append(File("in.safetensors")).Distinct()), "nothing written");
    }

    [Test]
    public void BadPaths_AreNamedByTheirOption()
    {
        Assert.That(Fails("export", "--checkpoint", Checkpoint, "--out", ""), Does.Contain("--out is empty"));
        Assert.That(Fails("export", "--checkpoint", "", "--out", File("m.safetensors")), Does.Contain("--checkpoint is empty"));
        Assert.That(Fails("import", "--from", "", "--out", File("m.safetensors")), Does.Contain("--from is empty"));
        Assert.That(Fails("score", "--checkpoint", Checkpoint, "--out", ""), Does.Contain("--out is empty"));
        Assert.That(Fails("sample", "--checkpoint", Checkpoint, "--out", ""), Does.Contain("--out is empty"));
        Assert.That(Fails("snr", "--checkpoint", Checkpoint, "--ks", "1", "--draws", "2", "--out", ""), Does.Contain("--out is empty"));
        Assert.That(Fails("export", "--checkpoint", Checkpoint, "--out", _root), Does.Contain($"--out {_root} is a folder"));
        Assert.That(Fails("score", "--checkpoint", Checkpoint, "--out", _root), Does.Contain($"--out {_root} is a folder"));
        Assert.That(Fails("import", "--from", Exported("in.safetensors"), "--out", Path.Combine(Checkpoint, "m.safetensors")),
            Does.Contain($"{Checkpoint} is a file, not a folder"));
        Assert.That(Fails("import", "--from", File("model.pt.safetensors"), "--out", File("x.safetensors")), Does.Contain("model.pt.safetensors: file not found"));
    }

    [Test]
    public void Help_ListsTheNewCommandsAndTheirOptions()
    {
        Assert.That(Ok("--help"), Does.Contain("export").And.Contain("import").And.Contain("score"));
        Assert.That(Ok("export", "--help"), Does.Contain("--checkpoint").And.Contain("--format").And.Contain("--out").And.Contain("--test-data-out"));
        Assert.That(Ok("import", "--help"), Does.Contain("--from").And.Contain("--hidden").And.Contain("--latent").And.Contain("--layers").And.Contain("--k"));
        Assert.That(Ok("score", "--help"), Does.Contain("--checkpoint").And.Contain("--k").And.Contain("--data").And.Contain("--out"));
    }
}
