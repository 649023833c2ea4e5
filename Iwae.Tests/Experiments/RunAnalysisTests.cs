using Iwae.Autodiff;
using Iwae.Core.Analysis;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;
using Iwae.Experiments.Sweeps;
using Iwae.Tests.Cli;

namespace Iwae.Tests.Experiments;

/// <summary>
/// <see cref="RunAnalysis"/> and <see cref="FolderAnalysis"/>: a run folder read back into the plain records the figures
/// are drawn from, <see cref="Runs.CompareAndAnalyze"/> (`iwae compare`) and <see cref="Runs.CompareShapes"/>
/// (`iwae compare --sweep`), on 120 tiny 4x4 images so that each comparison takes a moment.
/// </summary>
public class RunAnalysisTests : TempDirTests
{
    private static readonly ModelConfig Config = new() { K = 2, Hidden = [8], Latent = 2 };

    private static readonly TrainOptions Options = new() { Epochs = 1, BatchSize = 20, Seed = 1 };

    /// <summary><paramref name="n"/> grey images of <paramref name="d"/> pixels in [0, 1] (times <paramref name="scale"/>), as a .npy file.</summary>
    private string Images(string name = "images.npy", int n = 120, int d = 16, float scale = 1)
    {
        var rng = new Rng(9);
        var x = new float[n * d];
        for (int i = 0; i < x.Length; i++) x[i] = scale * rng.NextFloat();
        string path = Path.Combine(Dir, name);
        DataFormatsCliTests.WriteNpy(path, x, n, d);
        return path;
    }

    private RunSettings Settings(string data, string run) => new() { Data = data, TestFraction = 0.25, EvalK = 10, OutDir = run };

    [Test]
    public void CompareAndAnalyze_ReadsTheRunBack_AsPlotDoes()
    {
        string run = Path.Combine(Dir, "run");
        var settings = Settings(Images(), run);
        var log = new List<string>();
        var a = Runs.CompareAndAnalyze(Config, Options, settings, log: log.Add);

        var folder = new RunFolder(run);
        Assert.That(a.Folder, Is.EqualTo(run));
        Assert.That(a.Results.ToJson(), Is.EqualTo(folder.ReadResults().ToJson()), "results.json as written");
        Assert.That(a.Curves.Select(c => c.Model), Is.EqualTo(new[] { "vae", "iwae" }));
        foreach (var c in a.Curves)
        {
            Assert.That(c.Epochs, Is.EqualTo(new[] { 1.0 }));
            Assert.That(c.TrainBound, Is.EqualTo(folder.ReadMetrics(c.Model).Select(m => m.TrainBound)));
            Assert.That(c.StageTestNll, Is.EqualTo(folder.ReadStages(c.Model).Select(s => s.TestNll)));
        }
        Assert.That(a.FirstStage, Is.EqualTo(folder.ReadStages("vae")[0]));

        // Each model's analysis is Core's, of the checkpoint on the test set as the models saw it (binarised once).
        var data = Runs.LoadData(settings, Config.Observation);
        Assert.That(a.Models.Select(m => m.Model), Is.EqualTo(new[] { "vae", "iwae" }));
        foreach (var (name, analysis) in a.Models)
        {
            var expected = ModelAnalysis.Of(RunCheckpoint.LoadModel(folder.Checkpoint(name)), data.TestX);
            Assert.That(analysis.LatentMeans.ToArray(), Is.EqualTo(expected.LatentMeans.ToArray()), name);
            Assert.That(analysis.Reconstructions!.Value.ToArray(), Is.EqualTo(expected.Reconstructions!.Value.ToArray()), name);
            Assert.That(analysis.PriorSamples!.Value.ToArray(), Is.EqualTo(expected.PriorSamples!.Value.ToArray()), name);
            Assert.That(analysis.Manifold!.Value.ToArray(), Is.EqualTo(expected.Manifold!.Value.ToArray()), name);
        }
        Assert.That((a.TestCount, a.ValuesPerExample, a.ImageSide), Is.EqualTo((30, 16, 4)));
        Assert.That(a.TestImages!.Value.ToArray(), Is.EqualTo(data.Test.Images.RowSlice(0, 16).ToArray()), "the first 16 test images as read");
        Assert.That(a.Binarized!.Value.ToArray(), Is.EqualTo(data.TestX.RowSlice(0, 16).ToArray()), "and as the models saw them");
        Assert.That(a.Binarized.Value.ToArray(), Is.All.EqualTo(0f).Or.EqualTo(1f));
        Assert.That(a.HasLabels, Is.False, "a .npy file has no labels");
        Assert.That(log, Does.Contain("plot: encoding 30 test images with vae and iwae"));

        // Read again, as `iwae plot` does: the same bits.
        var again = RunAnalysis.Read(run);
        Assert.That(again.Models[1].Analysis.Latent.X, Is.EqualTo(a.Models[1].Analysis.Latent.X));
        Assert.That(again.Models[1].Analysis.PriorSamples!.Value.ToArray(), Is.EqualTo(a.Models[1].Analysis.PriorSamples!.Value.ToArray()));
    }

    [Test]
    public void DataThatAreNotSquareImages_GiveTheLatentSpaceOnly()
    {
        string run = Path.Combine(Dir, "run");
        var gaussian = Config with { Observation = Observation.Gaussian, Latent = 3 };
        var log = new List<string>();
        var a = Runs.CompareAndAnalyze(gaussian, Options, Settings(Images(d: 10), run), log: log.Add);
        Assert.That(a.ImageSide, Is.Null);
        Assert.That((a.TestImages, a.Binarized), Is.EqualTo(((Tensor<float>?)null, (Tensor<float>?)null)));
        foreach (var (_, m) in a.Models)
        {
            Assert.That((m.LatentMeans.Rows, m.LatentMeans.Cols), Is.EqualTo((30, 3)));
            Assert.That(m.Latent.IsPrincipal, Is.True);
            Assert.That((m.Reconstructions, m.PriorSamples, m.Manifold), Is.EqualTo(((Tensor<float>?)null, (Tensor<float>?)null, (Tensor<float>?)null)));
        }
        Assert.That(log, Does.Contain("plot: 10 values per example are not a square image; reconstructions and samples are not drawn"));
    }

    [Test]
    public void Read_OtherData_AreUsed_AndDataOfAnotherSize_AreRefused()
    {
        string run = Path.Combine(Dir, "run");
        Runs.Compare(Config, Options, Settings(Images(), run));
        var other = RunAnalysis.Read(run, Images("more.npy", n: 200));
        Assert.That(other.TestCount, Is.EqualTo(50), "a quarter of 200 held out");
        Assert.That(() => RunAnalysis.Read(run, Images("wide.npy", d: 25)), Throws.InstanceOf<DataFormatException>().With.Message.Contains("wide.npy"));
    }

    [Test]
    public void Read_NoFolder_OrNoResults_SaysWhich()
    {
        string none = Path.Combine(Dir, "none");
        Assert.That(() => RunAnalysis.Read(none), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.EqualTo($"{none}: run folder not found"));
        Assert.That(() => FolderAnalysis.Read(none), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.EqualTo($"{none}: run folder not found"));
        Assert.That(() => FolderAnalysis.Read(Dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("results.json: file not found"));
    }

    [Test]
    public void CompareShapes_RunsAVaeAndAnIwaePerShape_ThenReadsEveryRunAndTheSweep()
    {
        string sweepDir = Path.Combine(Dir, "sweep");
        var log = new List<string>();
        var outcome = Runs.CompareShapes(Config, Options, Settings(Images(), sweepDir), [[4], [4, 4]], log: log.Add);

        Assert.That(outcome.Failed, Is.Null);
        Assert.That(outcome.Outcomes.Select(o => (o.Run.Name, o.Kind)), Is.EqualTo(new[]
        {
            ("h4-vae", SweepOutcomeKind.Trained), ("h4-iwae", SweepOutcomeKind.Trained), ("h4-4-vae", SweepOutcomeKind.Trained), ("h4-4-iwae", SweepOutcomeKind.Trained),
        }));
        Assert.That(log[0], Is.EqualTo($"iwae compare --sweep: 4 runs -> {sweepDir}"));
        var plan = new SweepFolder(sweepDir).ReadPlan();
        Assert.That(plan.Runs.Select(r => r.Options.Config.Architecture), Is.EqualTo(new[] { "16-4-2", "16-4-2", "16-4-4-2", "16-4-4-2" }),
            "sweep.json holds the input size the data have, as `sweep plan` writes it");

        var analysis = outcome.Analysis!;
        Assert.That(analysis.Runs.Select(r => Path.GetFileName(r.Folder)), Is.EqualTo(new[] { "h4-vae", "h4-iwae", "h4-4-vae", "h4-4-iwae" }));
        Assert.That(analysis.Runs.Select(r => r.Models.Single().Model), Is.EqualTo(new[] { "vae", "iwae", "vae", "iwae" }));
        var sweep = analysis.Sweep!;
        Assert.That(sweep.Rows.Select(r => r.Status), Is.All.EqualTo(SweepRunStatus.Done));
        Assert.That(sweep.Pairs.Select(p => (p.Label, p.Vae.Name, p.Iwae.Name)), Is.EqualTo(new[] { ("16-4-2", "h4-vae", "h4-iwae"), ("16-4-4-2", "h4-4-vae", "h4-4-iwae") }));
        Assert.That(sweep.Table1, Is.Null, "not the Table 1 preset");
        Assert.That(File.ReadAllLines(sweep.ResultsCsv), Has.Length.EqualTo(5));
        Assert.That(File.Exists(sweep.ResultsJson), Is.True);

        // Again into the same folder: nothing to train, the same analysis.
        var again = Runs.CompareShapes(Config, Options, Settings(Images(), sweepDir), [[4], [4, 4]]);
        Assert.That(again.Outcomes.Select(o => o.Kind), Is.All.EqualTo(SweepOutcomeKind.AlreadyDone));
        Assert.That(again.Analysis!.Runs[3].Models[0].Analysis.LatentMeans.ToArray(), Is.EqualTo(analysis.Runs[3].Models[0].Analysis.LatentMeans.ToArray()));

        // `iwae plot` on the sweep folder: the runs that have results, and the sweep with the others' state.
        File.Delete(new SweepFolder(sweepDir).Run(plan.Runs[1]).Results);
        var plotted = FolderAnalysis.Read(sweepDir);
        Assert.That(plotted.Runs.Select(r => Path.GetFileName(r.Folder)), Is.EqualTo(new[] { "h4-vae", "h4-4-vae", "h4-4-iwae" }));
        Assert.That(plotted.Sweep!.Rows[1].Status, Is.EqualTo(SweepRunStatus.Interrupted), "a checkpoint without results");
        Assert.That(plotted.Sweep.States[1].Status, Is.EqualTo(SweepRunStatus.Interrupted));
    }

    [Test]
    public void CompareShapes_BadData_WriteNothing()
    {
        string sweepDir = Path.Combine(Dir, "sweep");
        string bad = Images("bad.npy", scale: 3);      // outside [0, 1]: not for a Bernoulli model
        Assert.That(() => Runs.CompareShapes(Config, Options, Settings(bad, sweepDir), [[4]]),
            Throws.InstanceOf<DataFormatException>().With.Message.Contains("outside [0, 1]"));
        Assert.That(Directory.Exists(sweepDir), Is.False);

        Assert.That(() => Runs.CompareShapes(Config, Options, Settings(bad, bad), [[4]]),
            Throws.ArgumentException.With.Message.Contains("--out"), "the sweep folder may not be the data");
    }

    [Test]
    public void CompareShapes_OnADataSetNotFetched_SaysHowToFetchIt_AndWritesNothing()
    {
        string name = $"analysis-test-{Guid.NewGuid():N}"[..24];
        var set = TestHttpServer.SetOf(name, TestHttpServer.FileFor("a.bin", "http://127.0.0.1/a.bin", [1, 2, 3]));
        using var registered = DataSets.Register(set);
        string sweepDir = Path.Combine(Dir, "sweep");
        Assert.That(() => Runs.CompareShapes(Config, Options, new RunSettings { Data = name, EvalK = 10, OutDir = sweepDir }, [[4]]),
            Throws.InstanceOf<DataFormatException>().With.Message.Contains($"iwae data fetch {name}"));
        Assert.That(Directory.Exists(sweepDir), Is.False);
    }
}
