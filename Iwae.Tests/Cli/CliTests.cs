using System.Text.Json;
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

    /// <summary>
    /// How a run executes (--threads, --fixed-threads) is the session's: results.json records it as information, the
    /// checkpoint's training options hold none of it, and a resumed run takes it anew. A checkpoint written before that
    /// was so, with "threads" and "adaptive_threads" in its options, still resumes.
    /// </summary>
    [Test]
    public void HowARunExecutes_IsRecordedInItsResults_NeverInItsCheckpoint_AndResumeTakesItAnew()
    {
        string[] tiny = ["--epochs", "1", "--hidden", "16", "--latent", "3", "--k", "2", "--batch", "100", "--eval-k", "10"];
        foreach (var (flags, threads, policy) in new[] { (Array.Empty<string>(), Math.Min(2, Environment.ProcessorCount), "adaptive"), (["--threads", "1", "--fixed-threads"], 1, "fixed") })
        {
            string dir = Path.Combine(Dir, policy);
            var (code, _, err) = Run(["train", .. tiny, "--out", dir, .. flags]);
            Assert.That(code, Is.Zero, err);
            var execution = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement.GetProperty("execution");
            Assert.That((execution.GetProperty("threads").GetInt32(), execution.GetProperty("thread_policy").GetString()), Is.EqualTo((threads, policy)), policy);
            string train = Checkpoint.Load(Path.Combine(dir, "iwae.safetensors")).Metadata["train"];
            Assert.That(train, Does.Not.Contain("threads"), "the checkpoint's options are what trains, not how");
        }

        // A run stopped before its first step, its checkpoint rewritten as an older version wrote it, resumed on other settings.
        string resumed = Path.Combine(Dir, "resumed");
        int stopped = IwaeCommand.Run(["train", .. tiny, "--out", resumed], TextWriter.Null, TextWriter.Null, new CancellationToken(canceled: true));
        Assert.That(stopped, Is.EqualTo(IwaeCommand.Interrupted));
        string ckpt = Path.Combine(resumed, "iwae.safetensors");
        var file = SafeTensors.Read(ckpt);
        var metadata = file.Metadata.ToDictionary();
        var options = System.Text.Json.Nodes.JsonNode.Parse(metadata["train"])!;
        options["threads"] = 7;
        options["adaptive_threads"] = false;
        metadata["train"] = options.ToJsonString();
        SafeTensors.Write(ckpt, metadata, file.Entries);
        var (c2, _, e2) = Run("train", "--resume", resumed, "--threads", "1");
        Assert.That(c2, Is.Zero, e2);
        var recorded = JsonDocument.Parse(File.ReadAllText(Path.Combine(resumed, "results.json"))).RootElement.GetProperty("execution");
        Assert.That((recorded.GetProperty("threads").GetInt32(), recorded.GetProperty("thread_policy").GetString()), Is.EqualTo((1, "adaptive")),
            "this session's --threads, and the policy's default: the old checkpoint's are ignored");
        Assert.That(Checkpoint.Load(ckpt).Metadata["train"], Does.Not.Contain("threads"), "rewritten without them");
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
