using System.Security.Cryptography;
using Iwae.Cli;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>A new run into a folder that holds a run is refused, the earlier run's files untouched.</summary>
public class RunFolderOverwriteTests : TempDirTests
{
    [Test]
    public void TrainOrCompare_IntoAFolderHoldingARun_IsRefused_AndTheRunIsKept()
    {
        string run = Path.Combine(Dir, "run");
        string[] tiny = ["--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--threads", "1", "--out", run];
        var (c0, _, e0) = Run(["train", .. tiny]);
        Assert.That(c0, Is.Zero, e0);
        var before = Directory.GetFiles(run).ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

        foreach (var command in new[] { "train", "compare" })
        {
            var (code, _, err) = Run([command, .. tiny]);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), err);
            Assert.That(err, Does.StartWith($"iwae: --out {run} already holds a run (").And.Contain($"iwae train --resume {run}"));
            Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        }
        Assert.That(Directory.GetFiles(run).ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), Is.EqualTo(before));
    }

    [Test]
    public void NoCommand_WritesOverARunsTrainingCheckpoint()
    {
        string run = Path.Combine(Dir, "run"), other = Path.Combine(Dir, "other");
        string[] tiny = ["--epochs", "1", "--hidden", "4", "--latent", "2", "--eval-k", "2", "--threads", "1"];
        Assert.That(Run(["train", .. tiny, "--out", run]).Code, Is.Zero);
        Assert.That(Run(["train", .. tiny, "--seed", "2", "--out", other]).Code, Is.Zero);
        string ckpt = Path.Combine(run, "iwae.safetensors"), torch = Path.Combine(Dir, "m.safetensors");
        Assert.That(Run("export", "--checkpoint", Path.Combine(other, "iwae.safetensors"), "--out", torch).Code, Is.Zero);
        var before = File.ReadAllBytes(ckpt);

        foreach (var args in new[]
        {
            new[] { "import", "--from", torch, "--out", ckpt },
            ["export", "--checkpoint", Path.Combine(other, "iwae.safetensors"), "--out", ckpt],
        })
        {
            var (code, _, err) = Run(args);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), string.Join(" ", args));
            Assert.That(err, Does.StartWith($"iwae: --out {ckpt} is a run's training checkpoint"));
        }
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before));

        // A model alone (what import writes) is an ordinary output: writing it again replaces it.
        string model = Path.Combine(Dir, "model.safetensors");
        Assert.That(Run("import", "--from", torch, "--out", model).Code, Is.Zero);
        Assert.That(Run("import", "--from", torch, "--out", model).Code, Is.Zero);
    }
}
