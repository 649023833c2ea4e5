using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;

namespace Iwae.Tests.Packaging;

/// <summary>README's library example, kept here verbatim: the test fails if the README and this copy drift apart.</summary>
public class ReadmeExampleTests
{
    // README example begin
    static double RunExample(ModelKind kind, int stages, int evalK, string checkpoint)
    {
        var (train, test) = Mnist.Load(Mnist.DefaultFolder());        // or any folder with the four MNIST IDX files
        var testX = Binarize.Fixed(test.Images, seed: 0x7E57);         // the test set, binarised once
        var config = new ModelConfig { Model = kind, K = 5, Hidden = [200, 200], Latent = 50 };
        var model = Iwae<float>.Create(config, new Rng(1), train.MeanPerPixel());   // an Iwae<float> or a Vae<float>

        using var execution = new Execution(threads: 2);              // how it runs: threads, cancellation, progress
        var trainer = new Trainer(model, train, new TrainOptions { Stages = stages, Seed = 1 }, execution);
        trainer.Train(e => Console.WriteLine($"epoch {e.Epoch}: train bound {e.TrainBound:F2} nats"));

        double nll = Evaluation.Nll(model, testX, k: evalK, execution: execution);   // -L_k averaged over the test set
        var active = Evaluation.ActiveUnits(model, testX, execution: execution);
        Console.WriteLine($"{kind}: test NLL {nll:F2} nats, {active.Count} active units");
        RunCheckpoint.Save(checkpoint, model, trainer);   // weights, config, Adam and RNG state
        return nll;
    }
    // README example end

    // README autodiff example begin
    static GradCheckResult AutodiffExample()
    {
        var logW = new Parameter<double>("logW", Tensor<double>.FromArray(3, 2, [-1.0, -5.0, -2.0, -0.5, -3.0, -9.0]));
        var tape = new Tape<double>();
        var lw = tape.Param(logW);                                   // [k=3, B=2]: row s holds sample s
        var w = tape.StopGradient(tape.Softmax(lw, axis: 0));        // normalised importance weights, constants
        var loss = tape.Neg(tape.Mean(tape.Sum(tape.Mul(w, lw), axis: 0)));
        tape.Backward(loss);                                         // logW.Grad == grad of -mean_b logsumexp_s logW

        // Check any graph against float64 central differences (StopGradient values are held fixed):
        var result = GradCheck.Check(t => t.Neg(t.Mean(t.LogSumExp(t.Param(logW), axis: 0))), [logW]);
        Console.WriteLine(result);                                   // gradcheck passed: max error ...
        return result;
    }
    // README autodiff example end

    // README rows example begin
    static double RowsExample(float[][] rows)
    {
        var data = Dataset.FromRows(rows);                      // one example per row; ragged rows, NaN and infinity refused
        var config = new ModelConfig { K = 5, Hidden = [32], Latent = 2 }.WithInput(data);   // InputSize = the rows' width
        var model = Iwae<float>.Create(config, new Rng(1), data);   // the decoder's output bias starts at the data's mean
        new Trainer(model, data, new TrainOptions { Epochs = 5, Seed = 1 }).Train();
        return Evaluation.Nll(model, data.Images, k: 100);      // -log p(x) per example, averaged
    }
    // README rows example end

    /// <summary>The lines between the markers, de-indented by one level, blank lines dropped.</summary>
    private static string Block(string source, string name)
    {
        int a = source.IndexOf($"// README {name} begin", StringComparison.Ordinal);
        int b = source.IndexOf($"    // README {name} end", StringComparison.Ordinal);
        var lines = source[a..b].ReplaceLineEndings("\n").Split('\n').Skip(1).Where(l => l.Trim().Length > 0).Select(l => l.Length >= 4 ? l[4..].TrimEnd() : l.TrimEnd());
        return string.Join("\n", lines);
    }

    [TestCase("example")]
    [TestCase("autodiff example")]
    [TestCase("rows example")]
    public void ReadmeContainsThisExampleVerbatim(string name)
    {
        string root = Path.GetDirectoryName(Path.GetDirectoryName(Mnist.DefaultFolder()))!;
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        string source = File.ReadAllText(Path.Combine(root, "Iwae.Tests", "Packaging", "ReadmeExampleTests.cs"));
        string block = Block(source, name);
        Assert.That(block.Split('\n'), Has.Length.GreaterThan(5));
        var readmeLines = string.Join("\n", readme.Split('\n').Where(l => l.Trim().Length > 0).Select(l => l.TrimEnd()));
        Assert.That(readmeLines, Does.Contain(block));
    }

    [Test]
    public void AutodiffExample_Runs()
    {
        Assert.That(AutodiffExample().Passed, Is.True);
    }

    [Test]
    public void RowsExample_Runs_AndAModelForOtherDataIsRefusedInOneLine()
    {
        var rng = new Rng(3);
        float[][] rows = [.. Enumerable.Range(0, 200).Select(i => Enumerable.Range(0, 12).Select(j => (j < 6) == (i % 2 == 0) ? 0.9f : 0.1f).ToArray())];
        double nll = RowsExample(rows);
        Assert.That(nll, Is.InRange(0.5, 12 * Math.Log(2)), "12 values near two patterns: below 12 ln 2 nats");

        var data = Dataset.FromRows(rows);
        var e = Assert.Throws<ArgumentException>(() => Iwae<float>.Create(new ModelConfig(), rng, data))!;
        Assert.That(e.Message, Is.EqualTo("the data has 12 values per example, the model expects 784"));
        var e2 = Assert.Throws<ArgumentException>(() => Iwae<float>.Create(new ModelConfig(), rng, data.MeanPerPixel()))!;
        Assert.That(e2.Message, Does.StartWith("the data has 12 values per example"));
    }

    [Test]
    public void ExampleRuns_OnATinySchedule()
    {
        string path = Path.Combine(Path.GetTempPath(), $"iwae-readme-{Guid.NewGuid():N}.safetensors");
        try
        {
            double nll = RunExample(ModelKind.Vae, stages: 1, evalK: 5, checkpoint: path);
            Assert.That(nll, Is.InRange(60.0, 300.0));
            Assert.That(RunCheckpoint.LoadModel(path), Is.InstanceOf<Vae<float>>());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
