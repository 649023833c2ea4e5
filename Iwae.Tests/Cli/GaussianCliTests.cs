using System.Globalization;
using System.Text.Json;
using Iwae.Autodiff;
using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Experiments;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `--decoder-variance`, `--sigma-floor` and `--standardize` from the command line to the checkpoint, and back through
/// eval and sample: the learned log sigma and the training split's statistics travel with the model, and the samples
/// come out in the data's units.
/// </summary>
public class GaussianCliTests : TempDirTests
{
    /// <summary>n points of a 1-D latent in 5 dimensions, each scaled by 1000 and shifted by 5000: raw units far from 1.</summary>
    private static float[] ScaledPoints(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n * 5];
        for (int r = 0; r < n; r++)
        {
            double z = rng.NextNormal();
            for (int j = 0; j < 5; j++) x[r * 5 + j] = (float)(5000 + 1000 * (z * (j + 1) / 5 + 0.3 * rng.NextNormal()));
        }
        return x;
    }

    [Test]
    public void Train_WithALearnedSigmaAndStandardisation_SavesBoth_AndEvalAndSampleUseThem()
    {
        string data = Path.Combine(Dir, "points.npy");
        DataFormatsCliTests.WriteNpy(data, ScaledPoints(300, 1), 300, 5);
        string run = Path.Combine(Dir, "run");
        var (code, output, err) = Run("train", "--data", data, "--observation", "gaussian", "--decoder-variance", "per-dimension", "--sigma-floor", "0.01",
            "--standardize", "--test-fraction", "0.2", "--hidden", "16", "--latent", "2", "--k", "3", "--epochs", "5", "--batch", "20", "--eval-k", "30",
            "--threads", "1", "--out", run);
        Assert.That(code, Is.Zero, err + output);

        string ckpt = Path.Combine(run, "iwae.safetensors");
        var model = RunCheckpoint.LoadModel(ckpt);
        Assert.That((model.Config.DecoderVariance, model.Config.SigmaFloor, model.Config.Standardize), Is.EqualTo((DecoderVariance.PerDimension, 0.01, true)));
        var stats = model.Standardization!;
        Assert.That(stats.Mean, Has.All.InRange(3000f, 7000f), "the training split's mean, in the data's units");
        Assert.That(stats.Std, Has.All.InRange(100f, 3000f));
        Assert.That(((GaussianDecoder<float>)model.Decoder).LogSigma!.Value.ToArray(), Is.Not.All.Zero, "log sigma trained");
        var names = SafeTensors.Read(ckpt).Entries.Select(e => e.Name).ToArray();
        Assert.That(names, Does.Contain("decoder.log_sigma").And.Contain("data.mean").And.Contain("data.std").And.Contain("optimizer.m.decoder.log_sigma"));
        Assert.That(names, Has.None.EqualTo("optimizer.m.data.mean"), "the statistics are not trained");

        // Log p(x) in the data's units: about -5 log 1000 below what the standardised data would give, so far below zero.
        var iwae = new RunFolder(run).ReadResults().Model("iwae")!;
        Assert.That(iwae.TestNll, Is.GreaterThan(25), "an NLL in raw units (each dimension spreads over ~1000)");
        var (c2, o2, e2) = Run("eval", "--checkpoint", ckpt, "--eval-k", "30", "--threads", "1");
        Assert.That(c2, Is.Zero, e2);
        Assert.That(o2, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"test NLL (k=30) {iwae.TestNll:F2}")));

        string samples = Path.Combine(Dir, "samples");
        var (c3, _, e3) = Run("sample", "--checkpoint", ckpt, "--n", "50", "--out", samples);
        Assert.That(c3, Is.Zero, e3);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(samples, RunFolder.PriorSamplesFile)));
        var means = doc.RootElement.GetProperty("mean").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetDouble())).ToArray();
        Assert.That(means.Average(), Is.InRange(3000, 7000), "prior samples' means mapped back to the data's units");
    }

    [Test]
    public void TrainHelp_ListsTheGaussianOptions()
    {
        var (code, output, _) = Run("train", "--help");
        Assert.That(code, Is.Zero);
        foreach (var opt in new[] { "--decoder-variance", "--decoder-sigma", "--sigma-floor", "--standardize" })
            Assert.That(output, Does.Contain(opt));
    }

    [TestCase("--decoder-variance", "learned", "--decoder-variance must be fixed, shared or per-dimension, got 'learned'")]
    [TestCase("--sigma-floor", "-1", "--sigma-floor must be a positive number, got -1")]
    public void BadGaussianOptions_AreOneLine(string option, string value, string message)
    {
        string none = Path.Combine(Dir, "none");
        string[] variance = option == "--decoder-variance" ? [] : ["--decoder-variance", "shared"];
        var (code, _, err) = Run(["train", "--observation", "gaussian", .. variance, option, value, "--epochs", "1", "--out", none]);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(Directory.Exists(none), Is.False);
    }
}
