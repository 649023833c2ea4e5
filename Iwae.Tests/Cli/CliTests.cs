using Iwae.Cli;
using Iwae.Core.Checkpoints;
using Iwae.Experiments;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

public class CliTests : TempDirTests
{
    protected override bool CreateDir => false;

    [Test]
    public void Help_DescribesEverySubcommandAndOption()
    {
        var (code, output, _) = Run("--help");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("compare").And.Contain("train").And.Contain("eval"));
        foreach (var sub in new[] { "compare", "train" })
        {
            var (c, o, _) = Run(sub, "--help");
            Assert.That(c, Is.Zero);
            foreach (var opt in new[] { "--data", "--k", "--hidden", "--latent", "--stages", "--epochs", "--batch", "--seed", "--threads", "--fixed-threads", "--out" })
                Assert.That(o, Does.Contain(opt), $"{sub} --help lists {opt}");
        }
        Assert.That(Run("eval", "--help").Out, Does.Contain("--checkpoint"));
    }

    [TestCase("train", "--k", "0", "--k must be from 1 to 100000, got 0")]
    [TestCase("train", "--batch", "0", "--batch must be from 1 to 1000000, got 0")]
    [TestCase("train", "--threads", "0", "--threads must be from 1 to 1024, got 0")]
    [TestCase("train", "--epochs", "-1", "--epochs must be from 0 to 1000000, got -1")]
    [TestCase("train", "--latent", "0", "--latent must be from 1 to 4096, got 0")]
    [TestCase("train", "--stages", "0", "--stages must be from 1 to 12, got 0")]
    [TestCase("train", "--hidden", "200,0", "--hidden must be widths from 1 to 65536")]
    [TestCase("train", "--hidden", "200,x", "--hidden must be widths from 1 to 65536")]
    [TestCase("train", "--model", "gan", "--model must be iwae or vae")]
    [TestCase("compare", "--eval-k", "0", "--eval-k must be from 1 to 1000000, got 0")]
    [TestCase("compare", "--data", "/no/such/folder", "/no/such/folder: no such file or folder, and not a known data set")]
    [TestCase("eval", "--checkpoint", "/no/such/file.safetensors", "/no/such/file.safetensors: file not found")]
    public void BadInput_IsOneLineOnStderr_NonZeroExit_NothingWritten(string sub, string opt, string value, string message)
    {
        var args = sub == "eval" ? new[] { sub, opt, value } : new[] { sub, opt, value, "--out", Dir };
        var (code, _, err) = Run(args);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        Assert.That(err, Does.Contain(message));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(Directory.Exists(Dir), Is.False, "nothing written");
    }

    [Test]
    public void UnparsableOption_IsRejectedByTheParser()
    {
        var (code, _, err) = Run("train", "--k", "five");
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("five"));
    }

    [Test]
    public void Train_ThenEval_OnATinyModel()
    {
        var (code, output, err) = Run("train", "--model", "vae", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2",
                                      "--batch", "100", "--eval-k", "10", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("vae k=2: test NLL (k=10)"));
        string ckpt = Path.Combine(Dir, "vae.safetensors");
        Assert.That(File.Exists(ckpt), Is.True);
        Assert.That(File.ReadAllLines(Path.Combine(Dir, "vae-metrics.jsonl")), Has.Length.EqualTo(1));
        var (c2, o2, e2) = Run("eval", "--checkpoint", ckpt, "--k", "10");
        Assert.That(c2, Is.Zero, e2);
        Assert.That(o2, Does.Contain("vae k=2: test NLL (k=10)"));
        var (c3, o3, e3) = Run("eval", "--checkpoint", ckpt, "--eval-k", "10", "--threads", "1");
        Assert.That(c3, Is.Zero, e3);
        Assert.That(Last(o3).Split(", eval")[0], Is.EqualTo(Last(o2).Split(", eval")[0]), "--eval-k is --k, and the thread count changes nothing");
        Assert.That(o2, Does.Not.Contain("train"), "eval trains nothing, so it shows no training time");
    }

    [Test]
    public void EvalJson_IsOneObjectOnStdout_AtFullPrecision()
    {
        var (code, _, err) = Run("train", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2", "--batch", "100", "--eval-k", "10", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        string ckpt = Path.Combine(Dir, "iwae.safetensors");
        var (c2, o2, e2) = Run("eval", "--checkpoint", ckpt, "--eval-k", "10", "--json");
        Assert.That(c2, Is.Zero, e2);
        Assert.That(e2, Does.Contain("evaluating"), "log lines go to stderr");
        using var doc = System.Text.Json.JsonDocument.Parse(o2);       // the whole of stdout is one JSON value
        var e = doc.RootElement;
        Assert.That(e.ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Object));
        var saved = new RunFolder(Dir).ReadResults().Models[0];
        Assert.That(e.GetProperty("test_nll").GetDouble(), Is.EqualTo(saved.TestNll), "every bit of the NLL train wrote");
        Assert.That((e.GetProperty("eval_k").GetInt32(), e.GetProperty("k").GetInt32(), e.GetProperty("model").GetString(), e.GetProperty("checkpoint").GetString()),
            Is.EqualTo((10, 2, "iwae", ckpt)));
        Assert.That(e.GetProperty("test_bound_k1").GetDouble(), Is.EqualTo(saved.TestBoundK1));
        Assert.That(e.TryGetProperty("train_seconds", out _), Is.False, "nothing about training");
    }

    [Test]
    public void Help_OfTrainAndCompare_SaysWhatTheStageCheckMeasures()
    {
        foreach (var sub in new[] { "train", "compare" })
            Assert.That(Run(sub, "--help").Out.ReplaceLineEndings(" "), Does.Contain("k = min(--eval-k, 1000)"), sub);
    }

    [Test]
    public void GaussianDataTooLargeToSquare_IsBadInput_AndDataThatDiverge_SayNoCheckpointWasWritten()
    {
        Directory.CreateDirectory(Dir);
        string big = Path.Combine(Dir, "big.npy"), run = Path.Combine(Dir, "run");
        DataFormatsCliTests.WriteNpy(big, Enumerable.Range(0, 200 * 16).Select(i => 1e30f * (i % 7 + 1)).ToArray(), 200, 16);
        var (code, _, err) = Run("train", "--data", big, "--observation", "gaussian", "--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "10", "--out", run);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput), err);
        Assert.That(err, Does.StartWith($"iwae: {big}: row ").And.Match(@": row \d+, column \d+: value \dE\+30 is too large for the Gaussian observation model"));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(Directory.Exists(run), Is.False);

        // 1e18 squares fine but the density's (x / 0.1)^2 over 16 values does not: the first step's bound is -infinity.
        DataFormatsCliTests.WriteNpy(big, Enumerable.Range(0, 200 * 16).Select(i => 1e18f * (i % 7 + 1)).ToArray(), 200, 16);
        (code, _, err) = Run("train", "--data", big, "--observation", "gaussian", "--epochs", "1", "--hidden", "8", "--latent", "2", "--eval-k", "10", "--out", run);
        Assert.That(code, Is.EqualTo(IwaeCommand.Diverged), err);
        Assert.That(err, Does.StartWith("iwae: training stopped: step 1:").And.Contain("no iwae checkpoint was written").And.Not.Contain("the last checkpoint is unchanged"));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(Directory.Exists(run), Is.False, "a run that failed before its first checkpoint leaves no folder");
    }

    private static string Last(string output) => output.TrimEnd().Split('\n')[^1];

    [Test]
    public void Eval_OfAKEqualsOneModel_NamesTheBoundAtKEqualsOneOnce()
    {
        var (code, _, err) = Run("train", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "1", "--batch", "100", "--eval-k", "10", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        var (c2, o2, e2) = Run("eval", "--checkpoint", Path.Combine(Dir, "iwae.safetensors"), "--eval-k", "10");
        Assert.That(c2, Is.Zero, e2);
        string line = Last(o2);
        Assert.That(line, Does.StartWith("iwae k=1: test NLL (k=10)"));
        Assert.That(line.Split("bound k=1").Length - 1, Is.EqualTo(1), line);
    }

    [Test]
    public void FixedThreads_IsKeptInTheCheckpoint_AndAdaptiveIsTheDefault()
    {
        foreach (var (flag, adaptive) in new[] { ((string?)null, true), ("--fixed-threads", false) })
        {
            string dir = Path.Combine(Dir, adaptive ? "adaptive" : "fixed");
            var args = new List<string> { "train", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2", "--batch", "100", "--eval-k", "10", "--out", dir };
            if (flag is not null) args.Add(flag);
            var (code, _, err) = Run([.. args]);
            Assert.That(code, Is.Zero, err);
            var (_, options, _) = RunCheckpoint.Read(Path.Combine(dir, "iwae.safetensors")).Continue();
            Assert.That(options.AdaptiveThreads, Is.EqualTo(adaptive), flag ?? "default");
        }
        // Given anew on resume, the flag turns it off for the rest of the run: here all of it, the run stopped before its first step.
        string resumed = Path.Combine(Dir, "resumed");
        int stopped = IwaeCommand.Run(["train", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2", "--batch", "100", "--eval-k", "10", "--out", resumed],
                                      TextWriter.Null, TextWriter.Null, new CancellationToken(canceled: true));
        Assert.That(stopped, Is.EqualTo(IwaeCommand.Interrupted));
        Assert.That(RunCheckpoint.Read(Path.Combine(resumed, "iwae.safetensors")).Options().AdaptiveThreads, Is.True);
        var (c2, _, e2) = Run("train", "--resume", resumed, "--fixed-threads");
        Assert.That(c2, Is.Zero, e2);
        Assert.That(RunCheckpoint.Read(Path.Combine(resumed, "iwae.safetensors")).Options().AdaptiveThreads, Is.False);
    }

    [Test]
    public void Compare_WritesResultsJsonWithEveryField()
    {
        var (code, output, err) = Run("compare", "--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2",
                                      "--batch", "100", "--eval-k", "10", "--out", Dir);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("VAE").And.Contain("IWAE").And.Contain("test NLL (k=10)"));
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "results.json")));
        var models = doc.RootElement.GetProperty("models");
        Assert.That(models.GetArrayLength(), Is.EqualTo(2));
        Assert.That(models[0].GetProperty("model").GetString(), Is.EqualTo("vae"));
        Assert.That(models[1].GetProperty("model").GetString(), Is.EqualTo("iwae"));
        foreach (var m in models.EnumerateArray())
        {
            foreach (var key in new[] { "model", "k", "test_nll", "eval_k", "test_bound_k1", "test_bound_k", "active_units", "train_seconds", "epochs" })
                Assert.That(m.TryGetProperty(key, out _), Is.True, key);
            Assert.That(m.GetProperty("eval_k").GetInt32(), Is.EqualTo(10), "the NLL's k beside it");
        }
        Assert.That(File.Exists(Path.Combine(Dir, "iwae.safetensors")) && File.Exists(Path.Combine(Dir, "vae.safetensors")), Is.True);
        Assert.That(Directory.GetFiles(Dir, "*.tmp-*"), Is.Empty);
    }
}
