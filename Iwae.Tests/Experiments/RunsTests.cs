using System.Diagnostics;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;
using Iwae.Tests.Cli;

namespace Iwae.Tests.Experiments;

/// <summary>
/// <see cref="Runs.Train(ModelConfig, TrainOptions, RunSettings, Iwae.Autodiff.Execution?, Action{string}?, RunCheckpoint?)"/> end to end in this process, on a small Gaussian data set: a cancellation in any evaluation
/// stops it at once and keeps the training checkpoint, a resumed run makes up what was cut, and a run that fails
/// says which checkpoint (if any) holds the last good weights and leaves no folder it made for nothing.
/// </summary>
public class RunsTests : TempDirTests
{
    private static readonly ModelConfig Config = new() { K = 3, Hidden = [16], Latent = 2, Observation = Observation.Gaussian };

    private static readonly TrainOptions Options = new() { Epochs = 2, BatchSize = 20, Seed = 1 };

    /// <summary>300 points in 10 dimensions, x = z A + 0.1 noise with a 2-D z, times <paramref name="scale"/>, as a .npy file.</summary>
    private string Points(float scale = 1, string name = "points.npy")
    {
        const int n = 300, d = 10;
        var rng = new Rng(5);
        var a = new double[2 * d];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextNormal();
        var x = new float[n * d];
        for (int r = 0; r < n; r++)
        {
            double z0 = rng.NextNormal(), z1 = rng.NextNormal();
            for (int j = 0; j < d; j++) x[r * d + j] = scale * (float)(z0 * a[j] + z1 * a[d + j] + 0.1 * rng.NextNormal());
        }
        string path = Path.Combine(Dir, name);
        DataFormatsCliTests.WriteNpy(path, x, n, d);
        return path;
    }

    private RunSettings Settings(string run, float scale = 1) => new() { Data = Points(scale), TestFraction = 0.25, EvalK = 200, OutDir = run };

    /// <summary>Cancels <paramref name="cts"/> at the first report that <paramref name="when"/> accepts, and times it.</summary>
    private sealed class CancelAt(CancellationTokenSource cts, Func<RunProgress, bool> when) : IProgress<RunProgress>
    {
        public Stopwatch? SinceCancel { get; private set; }

        public void Report(RunProgress p)
        {
            if (SinceCancel is not null || !when(p)) return;
            SinceCancel = Stopwatch.StartNew();
            cts.Cancel();
        }
    }

    [Test]
    public void CancelInTheFinalEvaluation_StopsAtOnce_KeepsTheCheckpoint_AndTheResumedRunEvaluates()
    {
        string whole = Path.Combine(Dir, "whole"), cut = Path.Combine(Dir, "cut");
        var expected = Runs.Train(Config, Options, Settings(whole));

        using var cts = new CancellationTokenSource();
        string ckpt = new RunFolder(cut).Checkpoint(ModelKind.Iwae);
        byte[]? before = null;
        var at = new CancelAt(cts, p =>
        {
            if (p.Phase != RunPhase.Eval || p.Done == 0) return false;
            before = File.ReadAllBytes(ckpt);
            return true;
        });
        var settings = Settings(cut) with { EvalK = 5000 };
        var execution = Execution.Serial.WithCancellation(cts.Token).WithProgress(at);
        Assert.That(() => Runs.Train(Config, Options, settings, execution), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(at.SinceCancel, Is.Not.Null, "cancelled during the final evaluation");
        Assert.That(at.SinceCancel!.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "the evaluation stops within a chunk");
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before), "the training checkpoint is as it was, byte for byte");
        Assert.That(File.Exists(new RunFolder(cut).Results), Is.False);

        // `train --resume` of a run whose training is done: no training, an evaluation, results.json; the same figures.
        var checkpoint = new RunFolder(cut).CheckpointToResume(null);
        var (config, options, resumed) = checkpoint.Continue(evalK: 200);
        var result = Runs.Train(config, options, resumed with { OutDir = cut }, resume: checkpoint);
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before), "evaluating again leaves the checkpoint as it was");
        var written = new RunFolder(cut).ReadResults().Models[0];
        Assert.That((written.TestNll, written.TestBoundK1, written.TestBoundK, written.Epochs, written.FinalTrainBound),
            Is.EqualTo((expected.TestNll, expected.TestBoundK1, expected.TestBoundK, expected.Epochs, expected.FinalTrainBound)));
        Assert.That(result.TrainSeconds, Is.GreaterThan(0), "the training time of the earlier session is counted");
        Assert.That(new RunFolder(cut).ReadMetrics("iwae"), Has.Count.EqualTo(2), "no epoch trained again");
    }

    [Test]
    public void CancelInAStageEvaluation_StopsAtOnce_AndTheResumedRunMakesUpItsPoint()
    {
        string whole = Path.Combine(Dir, "whole"), cut = Path.Combine(Dir, "cut");
        var staged = Options with { Epochs = null, Stages = 2 };      // 1 epoch, then 3
        Runs.Train(Config, staged, Settings(whole));

        using var cts = new CancellationTokenSource();
        var at = new CancelAt(cts, p => p.Phase == RunPhase.StageEval && p.Stage == 1 && p.Done > 0);
        Assert.That(() => Runs.Train(Config, staged, Settings(cut), Execution.Serial.WithCancellation(cts.Token).WithProgress(at)),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(at.SinceCancel!.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
        var folder = new RunFolder(cut);
        Assert.That(folder.ReadStages("iwae"), Is.Empty);

        var checkpoint = folder.CheckpointToResume(null);
        var (config, options, settings) = checkpoint.Continue();
        Runs.Train(config, options, settings with { OutDir = cut }, resume: checkpoint);
        static object[] Points(RunFolder f) => f.ReadStages("iwae").Select(s => (object)(s.Stage, s.Epoch, s.TrainBound, s.TestNll, s.K, s.Images)).ToArray();
        Assert.That(Points(folder), Has.Length.EqualTo(2));
        Assert.That(Points(folder), Is.EqualTo(Points(new RunFolder(whole))), "the learning curve of the uninterrupted run");
        Assert.That(folder.ReadResults().Models[0].TestNll, Is.EqualTo(new RunFolder(whole).ReadResults().Models[0].TestNll));
    }

    [Test]
    public void NonFiniteAtTheFirstStep_SaysNoCheckpointWasWritten_AndLeavesNoFolder()
    {
        // 1e18 passes the data check (its square fits in a float) but not the Gaussian density's (x / 0.1)^2 summed over pixels.
        string top = Path.Combine(Dir, "new"), run = Path.Combine(top, "deeper", "run");
        var settings = Settings(run, scale: 1e18f);
        Assert.That(() => Runs.Train(Config, Options, settings),
            Throws.InstanceOf<NonFiniteException>().With.Message.Contains("step 1:").And.Message.Contains("no iwae checkpoint was written")
                  .And.Message.Not.Contains("learning rate"));
        Assert.That(Directory.Exists(top), Is.False, "the folders the run made are gone");

        Assert.That(() => Runs.Compare(Config, Options, settings), Throws.InstanceOf<NonFiniteException>().With.Message.Contains("no vae checkpoint was written"));
        Assert.That(Directory.Exists(top), Is.False);

        Directory.CreateDirectory(run);
        Assert.That(() => Runs.Train(Config, Options, settings), Throws.InstanceOf<NonFiniteException>());
        Assert.That(Directory.Exists(run), Is.True, "a folder that was there stays");
        Assert.That(Directory.GetFiles(run), Is.Empty, "and holds nothing of the failed run");
    }

    [Test]
    public void NonFiniteAfterACheckpoint_NamesIt_AndLeavesItUnchanged()
    {
        string run = Path.Combine(Dir, "run");
        var settings = Settings(run);
        var data = Runs.LoadData(settings, Observation.Gaussian);
        var config = Config with { InputSize = data.Train.PixelsPerImage };
        string ckpt = new RunFolder(run).Create().Checkpoint(ModelKind.Iwae);
        long perEpoch = (data.Train.Count + Options.BatchSize - 1) / Options.BatchSize;
        byte[]? before = null;
        // After epoch 2's first step the data turn huge, so its second step is the first non-finite one.
        var execution = Execution.Serial.WithProgress((Action<RunProgress>)(p =>
        {
            if (p.Phase != RunPhase.Train || p.Done != perEpoch + 1) return;
            before = File.ReadAllBytes(ckpt);
            data.Train.Images.Span.Fill(1e18f);
        }));
        Assert.That(() => Runs.TrainAndEvaluate(config, Options, settings, data, execution),
            Throws.InstanceOf<NonFiniteException>().With.Message.Contains($"step {perEpoch + 2}:")
                  .And.Message.Contains($"the last checkpoint, {ckpt} (after 1 epoch), is unchanged"));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before));
        Assert.That(new RunFolder(run).ReadMetrics("iwae"), Has.Count.EqualTo(1), "the metrics of the checkpointed epoch stay");
    }

    [Test]
    public void GaussianDataWhoseSquaresOverflow_AreRefusedUpFront_NamingFileAndValue()
    {
        string run = Path.Combine(Dir, "run");
        var settings = Settings(run, scale: 1e30f);
        Assert.That(() => Runs.LoadData(settings, Observation.Gaussian),
            Throws.InstanceOf<DataFormatException>().With.Message.Contains(settings.Data!).And.Message.Contains("too large for the Gaussian observation model"));
        Assert.That(() => Runs.Train(Config, Options, settings), Throws.InstanceOf<DataFormatException>());
        Assert.That(Directory.Exists(run), Is.False, "nothing created");
        Assert.That(Runs.MaxGaussianValue * Runs.MaxGaussianValue, Is.LessThanOrEqualTo(float.MaxValue));
    }

    [Test]
    public void StageEvaluation_UsesAtMostTheEvalK_AndRecordsWhatItUsed()
    {
        Assert.That(new RunSettings().StageEvalK, Is.EqualTo(1000), "the default eval k of 5000 keeps 1000");
        Assert.That(new RunSettings { EvalK = 30 }.StageEvalK, Is.EqualTo(30));
        Assert.That(new RunSettings { EvalK = 30, StageEvalK = 0 }.StageEvalK, Is.Zero, "0 still skips it");

        string run = Path.Combine(Dir, "run");
        Runs.Train(Config, Options, Settings(run) with { EvalK = 30 });
        var stage = new RunFolder(run).ReadStages("iwae").Single();
        Assert.That((stage.K, stage.Images), Is.EqualTo((30, 75)), "k = min(eval k, 1000) on the 75 test points (fewer than 500)");
    }
}
