using System.Globalization;
using Iwae.Autodiff;
using Iwae.Cli;
using Iwae.Core;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
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
        Assert.That(lines[0], Is.EqualTo("index,log_px,stderr"));

        var model = RunCheckpoint.LoadModel(Checkpoint);
        var expected = Evaluation.LogLikelihoods(model, Runs.LoadData(new RunSettings(), Config).TestX, k: 20);
        Assert.That(lines, Has.Length.EqualTo(expected.Length + 1));
        for (int i = 0; i < expected.Length; i++)
        {
            var cells = lines[i + 1].Split(',');
            Assert.That(cells, Has.Length.EqualTo(3), lines[i + 1]);
            Assert.That(int.Parse(cells[0], CultureInfo.InvariantCulture), Is.EqualTo(i));
            Assert.That(double.Parse(cells[1], CultureInfo.InvariantCulture), Is.EqualTo(expected[i]), "round-trip formatted");
            double se = double.Parse(cells[2], CultureInfo.InvariantCulture);
            Assert.That(double.IsFinite(se) && se > 0, lines[i + 1]);
        }
        string nll = (-expected.Average()).ToString("F2", CultureInfo.InvariantCulture);
        Assert.That(output, Does.Contain($"({expected.Length} examples, k=20, mean log p(x) -{nll})"));
        Assert.That(Ok("eval", "--checkpoint", Checkpoint, "--k", "20"), Does.Contain($"test NLL (k=20) {nll}"));
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
