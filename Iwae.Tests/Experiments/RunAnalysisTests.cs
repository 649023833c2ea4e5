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
/// are drawn from, and <see cref="Runs.CompareAndAnalyze"/> (`iwae compare`), on 120 tiny 4x4 images so that each
/// comparison takes a moment.
/// </summary>
public class RunAnalysisTests : TempDirTests
{
    private static readonly ModelConfig Config = new() { K = 2, Hidden = [8], Latent = 2 };

    private static readonly TrainOptions Options = new() { Epochs = 1, BatchSize = 20, Seed = 1, Threads = 1, AdaptiveThreads = false };

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
        var a = Runs.CompareAndAnalyze(Config, Options, settings, log.Add);

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
        var a = Runs.CompareAndAnalyze(gaussian, Options, Settings(Images(d: 10), run), log.Add);
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
}
