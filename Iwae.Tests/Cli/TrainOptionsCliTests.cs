using System.Text.Json;
using Iwae.Core.Checkpoints;
using Iwae.Experiments;
using static Iwae.Tests.Cli.CliRun;

namespace Iwae.Tests.Cli;

/// <summary>
/// `--lr`, `--validation-fraction`, `--validation-k` and `--patience` on `train` and `compare`: what is printed, what
/// results.json and the run folder hold, and that a run without them writes what it always did.
/// </summary>
public class TrainOptionsCliTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Path.Combine(Path.GetTempPath(), "iwae-topt-" + Guid.NewGuid().ToString("N")[..8]);

    [TearDown]
    public void RemoveDir()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly string[] Tiny = ["--hidden", "16", "--latent", "3", "--k", "2", "--batch", "100", "--eval-k", "4", "--threads", "1"];

    [Test]
    public void Help_ListsTheOptions()
    {
        foreach (var sub in new[] { "compare", "train" })
        {
            var (code, output, _) = Run(sub, "--help");
            Assert.That(code, Is.Zero);
            foreach (var opt in new[] { "--lr", "--validation-fraction", "--validation-k", "--patience" })
                Assert.That(output, Does.Contain(opt), $"{sub} --help lists {opt}");
        }
    }

    [Test]
    public void Train_WithValidation_EvaluatesTheBestEpoch_AndSaysSo()
    {
        string run = Path.Combine(_dir, "run");
        var (code, output, err) = Run(["train", .. Tiny, "--epochs", "6", "--lr", "0.03", "--validation-fraction", "0.2", "--validation-k", "3", "--patience", "2", "--out", run]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("schedule: constant: 6 epochs at lr 0.03"));
        Assert.That(output, Does.Match(@"iwae validation \(\d+ held-out training examples, k=3\): best bound -?\d+\.\d\d at epoch \d"));

        var folder = new RunFolder(run);
        var results = folder.ReadResults();
        var v = results.Models[0].Validation!;
        Assert.That(v, Is.Not.Null);
        Assert.That((v.K, v.Patience, v.EvaluatedWeights), Is.EqualTo((3, (int?)2, "best")));
        Assert.That(v.Images + results.TrainImages, Is.EqualTo(8004), "the validation examples come out of the training split");
        Assert.That(results.TestImages, Is.EqualTo(1996), "the test split is untouched");
        Assert.That(results.Schedule, Is.EqualTo(new ScheduleRecord("constant", 0.03, 6)));
        Assert.That(results.Train!.LearningRate, Is.EqualTo(0.03));
        Assert.That(v.Epochs, Is.EqualTo(results.Models[0].Epochs));
        Assert.That(v.StoppedEarly, Is.EqualTo(v.Epochs < 6));
        Assert.That(v.StoppedEarly ? v.Epochs - v.BestEpoch : 0, Is.EqualTo(v.StoppedEarly ? 2 : 0), "stopped after 2 epochs without a better bound");
        Assert.That(output, Does.Contain(v.StoppedEarly ? $"stopped early after epoch {v.Epochs} (patience 2)" : "trained all 6 epochs"));

        // The metrics file keeps each epoch's validation bound; the best is the highest, at the best epoch.
        var epochs = folder.ReadMetrics("iwae");
        Assert.That(epochs, Has.Count.EqualTo(v.Epochs));
        Assert.That(epochs.MaxBy(m => m.ValidationBound)!.Epoch, Is.EqualTo(v.BestEpoch));
        Assert.That(epochs.Max(m => m.ValidationBound), Is.EqualTo(v.BestBound));

        // The best weights sit beside the checkpoint; evaluated again they give the figures the run reported.
        Assert.That(v.Checkpoint, Is.EqualTo(folder.BestCheckpoint("iwae")));
        var best = RunCheckpoint.Read(folder.BestCheckpoint("iwae"));
        Assert.That(best.Metadata["best_epoch"], Is.EqualTo(v.BestEpoch.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var (c2, json, err2) = Run("eval", "--checkpoint", folder.BestCheckpoint("iwae"), "--eval-k", "4", "--threads", "1", "--json");
        Assert.That(c2, Is.Zero, err2);
        Assert.That(JsonDocument.Parse(json).RootElement.GetProperty("test_nll").GetDouble(), Is.EqualTo(results.Models[0].TestNll));
        var last = Checkpoint.Load(folder.Checkpoint("iwae"));
        Assert.That(last.Parameters.Keys, Has.Some.StartWith("best."), "the checkpoint keeps the best weights for a resume");
    }

    [Test]
    public void Train_WithValidation_OfAStandardisingLearnedSigmaModel_KeepsTheStatisticsInTheBestCheckpoint()
    {
        string run = Path.Combine(_dir, "gauss");
        var (code, _, err) = Run(["train", .. Tiny, "--epochs", "3", "--observation", "gaussian", "--decoder-variance", "per-dimension",
            "--standardize", "--validation-fraction", "0.2", "--out", run]);
        Assert.That(code, Is.Zero, err);
        var folder = new RunFolder(run);
        var results = folder.ReadResults();
        var best = Checkpoint.Load(folder.BestCheckpoint("iwae"));
        Assert.That(best.Parameters.Keys, Does.Contain("data.mean").And.Contain("data.std").And.Contain("decoder.log_sigma"));
        var last = Checkpoint.Load(folder.Checkpoint("iwae"));
        Assert.That(best.Parameters["data.std"].Values, Is.EqualTo(last.Parameters["data.std"].Values),
            "the statistics are the training part's, the same in both files");
        var (c2, json, err2) = Run("eval", "--checkpoint", folder.BestCheckpoint("iwae"), "--eval-k", "4", "--threads", "1", "--json");
        Assert.That(c2, Is.Zero, err2);
        Assert.That(JsonDocument.Parse(json).RootElement.GetProperty("test_nll").GetDouble(), Is.EqualTo(results.Models[0].TestNll));
    }

    [Test]
    public void Compare_WithLr_NamesTheSchedule_AndBothModelsValidate()
    {
        string run = Path.Combine(_dir, "cmp");
        var (code, output, err) = Run(["compare", .. Tiny, "--stages", "2", "--lr", "0.002", "--validation-fraction", "0.1", "--out", run]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("schedule: burda: 2 stages, 4 epochs, lr 0.002 * 10^(-(i-1)/7) in stage i"));
        Assert.That(output, Does.Contain("vae validation (").And.Contain("iwae validation ("));
        var results = new RunFolder(run).ReadResults();
        Assert.That(results.Schedule, Is.EqualTo(new ScheduleRecord("burda", 0.002, 4)));
        Assert.That(results.Models.Select(m => m.Validation?.Patience), Is.EqualTo(new int?[] { null, null }));
        Assert.That(results.Models.Select(m => m.Validation!.Epochs), Is.EqualTo(new[] { 4, 4 }), "without --patience the whole schedule runs");
        Assert.That(File.Exists(Path.Combine(run, "vae-best.safetensors")) && File.Exists(Path.Combine(run, "iwae-best.safetensors")));
    }

    [Test]
    public void Train_WithoutTheOptions_WritesWhatItAlwaysDid()
    {
        string run = Path.Combine(_dir, "plain");
        var (code, output, err) = Run(["train", .. Tiny, "--epochs", "1", "--out", run]);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("schedule: constant: 1 epochs at lr 0.001").And.Not.Contain("validation"));
        string json = File.ReadAllText(Path.Combine(run, "results.json"));
        Assert.That(json, Does.Not.Contain("validation").And.Not.Contain("patience").And.Not.Contain("best"));
        Assert.That(File.ReadAllText(Path.Combine(run, "iwae-metrics.jsonl")), Does.Not.Contain("validation"));
        Assert.That(Directory.GetFiles(run, "*.safetensors").Select(Path.GetFileName), Is.EqualTo(new[] { "iwae.safetensors" }));
        var ckpt = Checkpoint.Load(Path.Combine(run, "iwae.safetensors"));
        Assert.That(ckpt.Metadata.Keys, Has.None.StartWith("validation"));
        Assert.That(ckpt.Parameters.Keys, Has.None.StartWith("best."));
        Assert.That(ckpt.Metadata["train"], Does.Not.Contain("validation").And.Not.Contain("patience"));
    }
}
