using Iwae.Core.Analysis;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Tests.Experiments;

/// <summary><see cref="RunFolder"/>: every file it writes reads back as written, under the names the CLI and reports use.</summary>
public class RunFolderTests : TempDirTests
{
    protected override bool CreateDir => false;

    [Test]
    public void FileNames_AreTheDocumentedOnes()
    {
        var f = new RunFolder(Dir);
        Assert.That(Path.GetFileName(f.Checkpoint(ModelKind.Vae)), Is.EqualTo("vae.safetensors"));
        Assert.That(Path.GetFileName(f.Checkpoint("iwae")), Is.EqualTo("iwae.safetensors"));
        Assert.That(Path.GetFileName(f.Metrics("iwae")), Is.EqualTo("iwae-metrics.jsonl"));
        Assert.That(Path.GetFileName(f.Stages("vae")), Is.EqualTo("vae-stages.jsonl"));
        Assert.That(Path.GetFileName(f.Results), Is.EqualTo("results.json"));
        Assert.That(Path.GetFileName(f.Report), Is.EqualTo("report.html"));
        Assert.That(RunFolder.Timestamped().Path, Does.Match(@"^runs[/\\]\d{8}-\d{6}$"));
    }

    [Test]
    public void MetricsAndStages_AreAppendedLineByLine_AndReadBack()
    {
        var f = new RunFolder(Dir).Create();
        var e1 = new EpochMetrics(1, 1, 1e-3, -150.25, 0.5, 401) { OneThreadSteps = 12 };
        var e2 = new EpochMetrics(2, 2, 7.2e-4, double.NaN, 0.6, 802);
        using (var w = f.WriteMetrics("iwae", append: false)) w.Write(e1);
        using (var w = f.WriteMetrics("iwae", append: true)) w.Write(e2);      // a resumed run appends
        Assert.That(f.ReadMetrics("iwae"), Is.EqualTo(new[] { e1, e2 }));
        Assert.That(File.ReadAllLines(f.Metrics("iwae"))[0], Does.Contain("\"train_bound\":-150.25").And.Contain("\"one_thread_steps\":12"));

        var s = new StageMetrics(3, 4, -120.5, 118.25, 1000, 500, 2.5);
        using (var w = f.WriteStages("vae", append: false)) w.Write(s);
        Assert.That(f.ReadStages("vae"), Is.EqualTo(new[] { s }));
        Assert.That(f.ReadStages("iwae"), Is.Empty, "a missing file reads as no stages");
    }

    [Test]
    public void ABadMetricsLine_NamesTheFileAndLine()
    {
        var f = new RunFolder(Dir).Create();
        File.WriteAllLines(f.Metrics("vae"), ["{\"epoch\":1,\"stage\":1,\"learning_rate\":0.001,\"train_bound\":-1,\"seconds\":1,\"steps\":1}", "{oops"]);
        Assert.That(() => f.ReadMetrics("vae"), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("vae-metrics.jsonl:2"));
    }

    [Test]
    public void Results_RoundTrip_WithTheSnakeCaseFieldsOfResultsJson()
    {
        var f = new RunFolder(Dir).Create();
        var results = new RunResults
        {
            Models = [new ModelResult { Model = "vae", K = 5, TestNll = 96.11, TestBoundK1 = -101.98, TestBoundK = -99.11, ActiveUnits = 19,
                                        TrainSeconds = 60, EvalSeconds = 20, Epochs = 121, FinalTrainBound = -95.7, UnitVariances = [0.5, 0.001] }],
            Config = new ModelConfig { K = 5 },
            Train = new TrainOptions { Stages = 5 },
            EvalK = 5000, Data = "data/mnist-subset", TrainImages = 8004, TestImages = 1996, Kernels = "Vector512", Machine = "2 cores",
        };
        f.WriteResults(results);
        string json = File.ReadAllText(f.Results);
        foreach (var field in new[] { "models", "config", "train", "eval_k", "data", "train_images", "test_images", "kernels", "machine",
                                      "test_nll", "test_bound_k1", "test_bound_k", "active_units", "unit_variances", "active_units_per_layer" })
            Assert.That(json, Does.Contain($"\"{field}\":"), field);
        Assert.That(json, Does.Not.Contain("test_nll_k5000"), "the result is named for what it is, its k beside it");
        var back = f.ReadResults();
        Assert.That(back.Model("VAE")!.TestNll, Is.EqualTo(96.11));
        Assert.That(back.Models[0].UnitVariances, Is.EqualTo(new[] { 0.5, 0.001 }));
        Assert.That((back.EvalK, back.TrainImages, back.TestImages, back.Kernels, back.Train!.Stages), Is.EqualTo((5000, 8004, 1996, "Vector512", 5)));
        Assert.That(back.Config.ToJson(), Is.EqualTo(results.Config.ToJson()));
        Assert.That(back.Settings, Does.Contain(("train", "stages", "5")).And.Contain(("run", "eval_k", "5000")));
        Assert.That(Directory.GetFiles(Dir, "*.tmp-*"), Is.Empty, "written through a temporary file");
    }

    [Test]
    public void Results_NameTheNllByWhatItIs_WithItsK_AndOldFilesStillRead()
    {
        var f = new RunFolder(Dir).Create();
        var model = new ModelResult { Model = "iwae", K = 5, TestNll = 101.5, EvalK = 50, TestBoundK1 = -110, TestBoundK = -105, ActiveUnits = 3,
                                      TrainSeconds = 1, EvalSeconds = 2, Epochs = 1, FinalTrainBound = -112, UnitVariances = [0.5] };
        f.WriteResults(new RunResults { Models = [model], Config = new ModelConfig(), EvalK = 50 });
        using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(f.Results)))
        {
            var m = doc.RootElement.GetProperty("models")[0];
            Assert.That((m.GetProperty("test_nll").GetDouble(), m.GetProperty("eval_k").GetInt32()), Is.EqualTo((101.5, 50)));
            Assert.That(m.TryGetProperty("test_nll_k5000", out _), Is.False);
        }

        // A results.json written before: test_nll_k5000 held the NLL at the run's eval_k (here 50), with no eval_k of its own.
        string old = File.ReadAllText(f.Results).Replace("\"test_nll\":", "\"test_nll_k5000\":").Replace("\"eval_k\":50,\"test_bound_k1\"", "\"test_bound_k1\"");
        Assert.That(old, Does.Contain("\"test_nll_k5000\":101.5").And.Not.Contain("\"test_nll\":"));
        File.WriteAllText(f.Results, old);
        var back = f.ReadResults().Models[0];
        Assert.That((back.TestNll, back.EvalK, back.TestBoundK1), Is.EqualTo((101.5, 50, -110.0)));
        File.WriteAllText(f.Results, old.Replace("\"eval_k\":50", "\"eval_k\":5000"));
        Assert.That(f.ReadResults().Models[0].EvalK, Is.EqualTo(5000));
    }

    [Test]
    public void Create_TracksTheFoldersItMade_AndRemoveIfEmptyTakesThemAwayOnlyIfEmpty()
    {
        var f = new RunFolder(Path.Combine(Dir, "a", "b", "run"));
        f.Create(out string? created);
        Assert.That(created, Is.EqualTo(Path.GetFullPath(Dir)), "the outermost folder made");
        new RunFolder(Path.Combine(Dir, "a", "b", "run")).Create(out string? again);
        Assert.That(again, Is.Null, "nothing made the second time");
        File.WriteAllText(Path.Combine(f.Path, "keep.txt"), "x");
        RunFolder.RemoveIfEmpty(created);
        Assert.That(File.Exists(Path.Combine(f.Path, "keep.txt")), Is.True, "a folder holding a file stays");
        File.Delete(Path.Combine(f.Path, "keep.txt"));
        RunFolder.RemoveIfEmpty(created);
        Assert.That(Directory.Exists(Dir), Is.False);
    }

    [Test]
    public void JsonLinesWriter_MakesNoFileBeforeItsFirstLine_AndDiscardDeletesOnlyAFileItMade()
    {
        var f = new RunFolder(Dir).Create();
        using (f.WriteMetrics("iwae", append: false)) { }
        Assert.That(File.Exists(f.Metrics("iwae")), Is.False, "no lines, no file");
        var w = f.WriteMetrics("iwae", append: false);
        w.Write(new EpochMetrics(1, 1, 1e-3, -150, 0.5, 10));
        w.Discard();
        Assert.That(File.Exists(f.Metrics("iwae")), Is.False, "the lines of a run that left no checkpoint");
        using (var a = f.WriteStages("iwae", append: false)) a.Write(new StageMetrics(1, 1, -150, 149, 10, 20, 0.1));
        var resumed = f.WriteStages("iwae", append: true);
        resumed.Write(new StageMetrics(2, 4, -140, 139, 10, 20, 0.1));
        resumed.Discard();
        Assert.That(f.ReadStages("iwae"), Has.Count.EqualTo(2), "a resumed run's file is not its own to delete");
    }

    [Test]
    public void Snr_RoundTrips_InSnakeCase()
    {
        var f = new RunFolder(Dir).Create();
        var report = new SnrReport(null, true, "20-20", 1, 100, 1, 7, [new SnrPoint("dreg", 10, 0.7, 0.9, 0.6, 0.8, 5.0)]);
        string path = f.WriteSnr(report);
        Assert.That(File.ReadAllText(path), Does.Contain("\"effective_sample_size\":5").And.Contain("\"encoder_norm\":0.6"));
        var back = f.ReadSnr();
        Assert.That(back with { Points = [] }, Is.EqualTo(report with { Points = [] }));
        Assert.That(back.Points, Is.EqualTo(report.Points));
    }

    [Test]
    public void FindCheckpoint_NamesWhatIsMissingOrAmbiguous()
    {
        var f = new RunFolder(Dir);
        Assert.That(() => f.FindCheckpoint(null), Throws.ArgumentException.With.Message.Contains("folder not found"));
        f.Create();
        Assert.That(() => f.FindCheckpoint(null), Throws.ArgumentException.With.Message.Contains("no iwae.safetensors or vae.safetensors"));
        File.WriteAllText(f.Checkpoint(ModelKind.Vae), "");
        Assert.That(f.FindCheckpoint(null), Is.EqualTo(f.Checkpoint(ModelKind.Vae)));
        Assert.That(() => f.FindCheckpoint(ModelKind.Iwae), Throws.ArgumentException.With.Message.Contains("no iwae.safetensors"));
        File.WriteAllText(f.Checkpoint(ModelKind.Iwae), "");
        Assert.That(() => f.FindCheckpoint(null), Throws.ArgumentException.With.Message.Contains("holds both"));
        Assert.That(f.FindCheckpoint(ModelKind.Iwae), Is.EqualTo(f.Checkpoint(ModelKind.Iwae)));
    }
}
