using Iwae.Autodiff;
using Iwae.Cli;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Core;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// A command line that does not parse, and sizes beyond their limits: exit 2 and one line on stderr naming the option
/// and the value, with nothing on stdout (no help dump), no .NET type names and no stack trace.
/// </summary>
public class ParseErrorTests
{
    private static readonly string Dir = Path.Combine(Path.GetTempPath(), "iwae-parse-" + Guid.NewGuid().ToString("N")[..8]);

    [TestCase(new[] { "train", "--k", "abc" }, "iwae train: --k: 'abc' is not a whole number")]
    [TestCase(new[] { "train", "--stages", "99999999999" }, "iwae train: --stages: '99999999999' is out of range (a whole number up to 2147483647)")]
    [TestCase(new[] { "train", "--seed", "-1" }, "iwae train: --seed: '-1' is out of range (a whole number from 0 to 18446744073709551615)")]
    [TestCase(new[] { "train", "--beta", "x" }, "iwae train: --beta: 'x' is not a number")]
    [TestCase(new[] { "eval", "--checkpoint", "c.safetensors", "--k", "" }, "iwae eval: --k: an empty value is not a whole number")]
    [TestCase(new[] { "train", "--kk", "3" }, "iwae train: unknown option '--kk' (did you mean --k?)")]
    [TestCase(new[] { "train", "--k" }, "iwae train: --k needs a value")]
    [TestCase(new[] { "train", "--k", "1", "2" }, "iwae train: unexpected argument '2'")]
    [TestCase(new[] { "eval" }, "iwae eval: --checkpoint is required")]
    [TestCase(new[] { "data", "fetch" }, "iwae data fetch: <name> is required")]
    [TestCase(new[] { "sweep" }, "iwae sweep: a command is needed: plan, run")]
    [TestCase(new string[0], "iwae: a command is needed: compare, train, eval")]
    [TestCase(new[] { "trian" }, "iwae: unknown command 'trian' (did you mean train?)")]
    public void ParseError_IsOneLineNamingTheOptionAndValue_Exit2(string[] args, string expected)
    {
        var (code, o, e) = Run(args);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(o, Is.Empty, "no help on stdout");
        Assert.That(e, Does.StartWith(expected));
        Assert.That(e.TrimEnd().Split('\n'), Has.Length.EqualTo(1), e);
        Assert.That(e, Does.Not.Contain("System.").And.Not.Contain("   at "));
    }

    [TestCase("--help")]
    [TestCase("-h")]
    public void Help_StillPrintsOnStdout_Exit0(string help)
    {
        var (code, o, e) = Run("eval", help);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(o, Does.Contain("--checkpoint"));
        Assert.That(e, Is.Empty);
    }

    /// <summary>Every size has a limit, and so does the largest tensor a run allocates from them: one line, exit 2, no folder.</summary>
    [TestCase(new[] { "--stages", "40" }, "--stages must be from 1 to 12, got 40")]
    [TestCase(new[] { "--stages", "2147483647" }, "--stages must be from 1 to 12")]
    [TestCase(new[] { "--k", "2147483647" }, "--k must be from 1 to 100000, got 2147483647")]
    [TestCase(new[] { "--eval-k", "2147483647" }, "--eval-k must be from 1 to 1000000")]
    [TestCase(new[] { "--hidden", "2147483647" }, "--hidden must be widths from 1 to 65536")]
    [TestCase(new[] { "--hidden", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1" }, "--hidden must have from 0 to 64 layers, got 65")]
    [TestCase(new[] { "--latent", "2147483647" }, "--latent must be from 1 to 4096")]
    [TestCase(new[] { "--epochs", "2147483647" }, "--epochs must be from 0 to 1000000")]
    [TestCase(new[] { "--batch", "2147483647" }, "--batch must be from 1 to 1000000")]
    [TestCase(new[] { "--threads", "2147483647" }, "--threads must be from 1 to 1024")]
    [TestCase(new[] { "--k", "100000", "--batch", "100" }, "one step's activations (k x batch rows, the widest layer's columns) is 10000000 x 784")]
    [TestCase(new[] { "--hidden", "65536,65536" }, "a weight matrix is 65536 x 65536")]
    public void HugeSizes_AreRefusedBeforeAnythingIsAllocated(string[] option, string expected)
    {
        string o = Path.Combine(Dir, Guid.NewGuid().ToString("N")[..8]);
        var (code, _, e) = Run(["train", .. option, "--out", o]);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), e);
        Assert.That(e, Does.Contain(expected));
        Assert.That(e.TrimEnd().Split('\n'), Has.Length.EqualTo(1), e);
        Assert.That(Directory.Exists(o), Is.False);
    }

    [Test]
    public void Config_SizesBeyondTheLimits_AreRefusedNamingTheField()
    {
        Assert.That(() => new ModelConfig { InputSize = int.MaxValue }.Validate(), Throws.InstanceOf<SettingException>().With.Message.EqualTo($"input_size must be from 1 to {1 << 24}, got {int.MaxValue}"));
        Assert.That(() => new ModelConfig { Latent2 = 0, Layers = 2 }.Validate(), Throws.InstanceOf<SettingException>().With.Message.StartWith("latent2 must be from 1"));
        Assert.That(() => new TrainOptions { Stages = 21 }.Validate(), Throws.InstanceOf<SettingException>().With.Message.EqualTo("stages must be from 1 to 12, got 21"));
        Assert.That(() => new TrainOptions { LearningRate = double.PositiveInfinity }.Validate(), Throws.InstanceOf<SettingException>().With.Message.Contains("learning_rate"));
        Assert.That(() => new TrainOptions { Beta1 = 1 }.Validate(), Throws.InstanceOf<SettingException>().With.Message.Contains("beta1"));
        Assert.That(new TrainOptions { Stages = Limits.Stages.Check(Limits.Stages.Max) }.TotalEpochs, Is.EqualTo(265720), "the largest schedule still counts in an int");
    }

    /// <summary>The checks add nothing to a checkpoint's config: the default compare's checkpoints keep their bytes.</summary>
    [Test]
    public void ConfigJson_KeepsItsFields()
        => Assert.That(new ModelConfig().ToJson(), Is.EqualTo(
            "{\"model\":\"iwae\",\"k\":5,\"input_size\":784,\"layers\":1,\"hidden\":[200,200],\"latent\":50,\"hidden2\":[100,100],\"latent2\":50,\"observation\":\"bernoulli\",\"decoder_sigma\":0.1,\"architecture\":\"784-200-200-50\"}"));
}

/// <summary>Slurm's --time: a huge value is a limit in one line, not "TimeSpan overflowed".</summary>
public class SlurmTimeLimitTests
{
    [TestCase("99999:00:00")]
    [TestCase("999999999-00:00:00")]
    [TestCase("0:2147483647")]
    public void HugeTime_IsRefusedNamingTheLimit(string time)
        => Assert.That(() => Iwae.Cli.Commands.Sweeps.SweepSlurmCommand.ParseSlurmTime(time),
            Throws.ArgumentException.With.Message.EqualTo($"--time must be at most 365 days (as sbatch takes it), got '{time}'"));

    [TestCase("04:00:00", 4 * 3600)]
    [TestCase("1-00:00:01", 86401)]
    [TestCase("90", 90 * 60)]
    public void Time_ParsesAsSbatchDoes(string time, int seconds)
        => Assert.That(Iwae.Cli.Commands.Sweeps.SweepSlurmCommand.ParseSlurmTime(time), Is.EqualTo(TimeSpan.FromSeconds(seconds)));
}
