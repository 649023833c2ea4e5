using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Experiments;

namespace Iwae.Tests.Core.Training;

public class TrainerTests
{
    private static Dataset _small = null!;

    [OneTimeSetUp]
    public void LoadSmallSubset()
    {
        _small = TestUtil.MnistHead(210);
    }

    private static readonly ModelConfig Config = new() { K = 3, Hidden = [32, 16], Latent = 4 };

    private static Iwae<float> Model(ModelKind kind = ModelKind.Iwae, ulong seed = 1)
        => Runs.CreateModel(Config with { Model = kind }, _small, seed);

    private static float[] Flat(Iwae<float> m) => m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    [Test]
    public void BurdaSchedule_HasThePapersStagesAndRates()
    {
        var s = new TrainOptions().Schedule();
        Assert.That(s, Has.Count.EqualTo(8));
        Assert.That(s.Select(x => x.Epochs), Is.EqualTo(new[] { 1, 3, 9, 27, 81, 243, 729, 2187 }));
        Assert.That(new TrainOptions().TotalEpochs, Is.EqualTo(3280));
        Assert.That(s[0].LearningRate, Is.EqualTo(1e-3));
        Assert.That(s[7].LearningRate, Is.EqualTo(1e-4).Within(1e-18));
        Assert.That(s[3].LearningRate, Is.EqualTo(0.001 * Math.Pow(10, -3.0 / 7)).Within(1e-18), "unrounded");
        var e = new TrainOptions { Epochs = 7 }.Schedule();
        Assert.That(e, Is.EqualTo(new[] { (1, 7, 1e-3) }));
    }

    [Test]
    public void SameSeed_GivesBitIdenticalParameters_OtherSeedDoesNot()
    {
        float[] Train(ulong seed)
        {
            var m = Model(seed: seed);
            new Trainer(m, _small, new TrainOptions { Epochs = 2, Seed = seed, BatchSize = 20 }).Train();
            return Flat(m);
        }
        var a = Train(3);
        var b = Train(3);
        var c = Train(4);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
    }

    [Test]
    public void Training_RaisesTheBound_AndKeepsThePartialLastBatch()
    {
        var m = Model();
        var trainer = new Trainer(m, _small, new TrainOptions { Epochs = 6, Seed = 2, BatchSize = 20, LearningRate = 3e-3 });
        var epochs = trainer.Train();
        Assert.That(epochs, Has.Count.EqualTo(6));
        Assert.That(epochs[^1].TrainBound, Is.GreaterThan(epochs[0].TrainBound + 5));
        Assert.That(trainer.Steps, Is.EqualTo(6 * 11), "210 images in batches of 20: 10 full batches and one of 10");
        Assert.That(epochs.All(e => double.IsFinite(e.TrainBound) && e.Seconds >= 0), Is.True);
    }

    [Test]
    public void VaeAndIwae_StartIdentical_AndTrainDifferently()
    {
        var iwae = Model(ModelKind.Iwae);
        var vae = Model(ModelKind.Vae);
        Assert.That(Flat(vae), Is.EqualTo(Flat(iwae)), "same seed, same initial weights");
        new Trainer(iwae, _small, new TrainOptions { Epochs = 1, Seed = 1 }).Train();
        new Trainer(vae, _small, new TrainOptions { Epochs = 1, Seed = 1 }).Train();
        Assert.That(Flat(vae), Is.Not.EqualTo(Flat(iwae)));
    }

    [Test]
    public void Checkpoint_RoundTripsTheModel_AndResumesTrainingExactly()
    {
        string dir = Path.Combine(Path.GetTempPath(), "iwae-trainer-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var options = new TrainOptions { Epochs = 1, Seed = 9 };
            // Uninterrupted: 2 epochs.
            var full = Model();
            var t1 = new Trainer(full, _small, options);
            t1.RunEpoch(1, 1);
            t1.RunEpoch(2, 1);

            // Interrupted after 1 epoch, saved, loaded into fresh objects, resumed.
            var first = Model();
            var t2 = new Trainer(first, _small, options);
            t2.RunEpoch(1, 1);
            string path = Path.Combine(dir, "m.safetensors");
            RunCheckpoint.Save(path, first, t2);

            var loaded = RunCheckpoint.LoadModel(path);
            Assert.That(loaded.Config.ToJson(), Is.EqualTo(first.Config.ToJson()));
            Assert.That(Flat(loaded), Is.EqualTo(Flat(first)));
            var t3 = new Trainer(loaded, _small, options);
            RunCheckpoint.Read(path).Restore(t3);
            Assert.That(t3.Position.EpochsDone, Is.EqualTo(1));
            t3.RunEpoch(2, 1);
            Assert.That(Flat(loaded), Is.EqualTo(Flat(full)), "resumed run is bit-identical to the uninterrupted one");

            // Evaluation of a loaded model gives the same figure as the original.
            var x = Binarize.Fixed(_small.Images.RowSlice(0, 10), 1);
            Assert.That(Evaluation.Nll(loaded, x, 20), Is.EqualTo(Evaluation.Nll(full, x, 20)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(5)]
    [TestCase(10)]
    public void CancelledMidEpoch_ThenResumed_IsBitIdenticalToAnUninterruptedRun(int stepsBeforeCancel)
    {
        var options = new TrainOptions { Epochs = 2, Seed = 4 };
        var full = Model();
        var reference = new Trainer(full, _small, options).Train();

        var second = Model();
        using var cts = new CancellationTokenSource();
        // 0: cancelled as the first epoch ends, so the stop comes before the second epoch's first step (a SIGTERM
        // during the epoch's checkpoint), after its shuffle.
        var t2 = new Trainer(second, _small, options, Execution.Serial.WithCancellation(cts.Token).WithProgress(
            (Action<StepProgress>)(s => { if (s.Epoch == 2 && s.Step == stepsBeforeCancel) cts.Cancel(); })));
        Assert.That(() => t2.Train(onEpoch: e => { if (stepsBeforeCancel == 0 && e.Epoch == 1) cts.Cancel(); }),
            Throws.InstanceOf<OperationCanceledException>());
        Assert.That(t2.Position.EpochsDone, Is.EqualTo(1));
        Assert.That(t2.Position.StepInEpoch, Is.EqualTo(stepsBeforeCancel), "the current step finishes, no further one starts");
        string path = Path.Combine(Path.GetTempPath(), $"iwae-cancel-{Guid.NewGuid():N}.safetensors");
        try
        {
            RunCheckpoint.Save(path, second, t2);
            var resumed = RunCheckpoint.LoadModel(path);
            var t3 = new Trainer(resumed, _small, options);
            RunCheckpoint.Read(path).Restore(t3);
            var rest = t3.Train();
            Assert.That(rest, Has.Count.EqualTo(1));
            Assert.That(Flat(resumed), Is.EqualTo(Flat(full)), "resumed mid-epoch, bit-identical");
            Assert.That(rest[0].TrainBound, Is.EqualTo(reference[1].TrainBound), "the interrupted epoch's metric too");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void SteadyStateTrainingStep_AllocatesNothing([Values] ModelKind kind)
    {
        var m = Model(kind);
        var t = new Trainer(m, _small, new TrainOptions { Epochs = 1 });
        int[] rows = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
        Assert.That(TestUtil.LeastAllocated(() => t.Step(rows)), Is.Zero);
    }

    [Test]
    public void NonFiniteBound_StopsTrainingWithAMessageNamingTheStep()
    {
        var m = Model();
        m.Parameters[0].Value.Span[0] = float.NaN;
        var trainer = new Trainer(m, _small, new TrainOptions { Epochs = 1 });
        Assert.That(() => trainer.Train(), Throws.InstanceOf<NonFiniteException>().With.Message.Contains("step 1"));
    }

    [Test]
    public void Evaluation_IsDeterministic_AndActiveUnitsCountsHighVarianceDimensions()
    {
        var m = Model();
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 25), 3);
        var first = Evaluation.LogLikelihoods(m, x, 100);
        Assert.That(Evaluation.LogLikelihoods(m, x, 100), Is.EqualTo(first));
        var au = Evaluation.ActiveUnits(m, x);
        Assert.That(au.Variances, Has.Length.EqualTo(4));
        Assert.That(au.Count, Is.EqualTo(au.Variances.Count(v => v > 0.01)));
        // Silence one encoder-mean dimension: it must drop out.
        var w = m.Parameters.Single(p => p.Name == "encoder.mu.W").Value;
        for (int r = 0; r < w.Rows; r++) w[r, 2] = 0;
        Assert.That(Evaluation.ActiveUnits(m, x).Variances[2], Is.Zero);
    }

    [Test]
    public void ChunkedRunningLogSumExp_EqualsOneLogSumExpOverTheSameSamples()
    {
        var m = Model();
        // One image: its samples use the noise stream in the same order whatever the chunk size.
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 1), 3);
        double whole = Evaluation.LogLikelihoods(m, x, 203, seed: 1, chunk: 203)[0];
        foreach (int chunk in new[] { 1, 7, 50 })
            Assert.That(Evaluation.LogLikelihoods(m, x, 203, seed: 1, chunk: chunk)[0], Is.EqualTo(whole).Within(1e-4), $"chunk {chunk}");
    }

    [Test]
    public void Evaluation_IsBitIdenticalForAnyThreadCount()
    {
        var m = Model();
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 65), 3);     // 4 groups, the last one partial
        var one = Evaluation.LogLikelihoods(m, x, 120, execution: TestUtil.Threads(1));
        Assert.That(Evaluation.LogLikelihoods(m, x, 120, execution: TestUtil.Threads(2)), Is.EqualTo(one));
        Assert.That(Evaluation.LogLikelihoods(m, x, 120, execution: TestUtil.Threads(3)), Is.EqualTo(one));
        Assert.That(Evaluation.LogLikelihoods(m, x.RowSlice(0, 20), 120, execution: TestUtil.Threads(3)),
            Is.EqualTo(one.Take(20)), "one group: its kernels on all three threads");
    }

    /// <summary>
    /// The evaluation's image groups run on its execution's worker pool (the caller and the execution's workers), not on
    /// threads of their own started per call: after a first call has started the workers, later calls start none.
    /// </summary>
    [Test]
    public void Evaluation_RunsItsGroupsOnTheExecutionsWorkers()
    {
        var m = Model();
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 120), 3);    // 6 groups
        using var e = new Execution(3);
        var first = Evaluation.LogLikelihoods(m, x, 200, execution: e);
        int workers = e.WorkerCount;
        long shares = e.SharesByWorkers;
        var threads = System.Diagnostics.Process.GetCurrentProcess().Threads.Count;
        for (int i = 0; i < 3; i++) Assert.That(Evaluation.LogLikelihoods(m, x, 200, execution: e), Is.EqualTo(first));
        Assert.That(workers, Is.EqualTo(2), "three threads: the caller and two workers");
        Assert.That(e.WorkerCount, Is.EqualTo(workers), "no new worker");
        Assert.That(e.SharesByWorkers, Is.GreaterThan(shares), "the workers ran groups");
        Assert.That(System.Diagnostics.Process.GetCurrentProcess().Threads.Count, Is.LessThanOrEqualTo(threads + 1), "no thread started per call");
    }

    [Test]
    public void EvaluationProgress_ComesOneCallAtATime_InIncreasingOrder_OnSeveralThreads()
    {
        var m = Model();
        var x = Binarize.Fixed(_small.Images.RowSlice(0, 205), 3);    // 11 groups, the last one partial
        var sink = new SerialCheckingProgress();
        Evaluation.LogLikelihoods(m, x, 10, chunk: 10, execution: TestUtil.Threads(3).WithProgress(sink));
        Assert.That(sink.Overlaps, Is.Zero, "calls that overlapped another");
        Assert.That(sink.Values.Select(v => v.Images), Is.Ordered.Ascending.And.Unique);
        Assert.That(sink.Values.Select(v => v.Total), Has.All.EqualTo(x.Rows));
        Assert.That(sink.Values[^1].Images, Is.EqualTo(x.Rows));
    }

    /// <summary>Counts calls that arrive while another is still running (each call lingers to widen the window).</summary>
    private sealed class SerialCheckingProgress : IProgress<EvaluationProgress>
    {
        private int _inside;
        public int Overlaps;
        public readonly List<EvaluationProgress> Values = [];

        public void Report(EvaluationProgress value)
        {
            if (Interlocked.Increment(ref _inside) > 1) Interlocked.Increment(ref Overlaps);
            Thread.Sleep(2);
            lock (Values) Values.Add(value);
            Interlocked.Decrement(ref _inside);
        }
    }

    [Test]
    public void LogAddExp_IsStable()
    {
        Assert.That(Evaluation.LogAddExp(1000, 1000), Is.EqualTo(1000 + Math.Log(2)).Within(1e-12));
        Assert.That(Evaluation.LogAddExp(-1000, 0), Is.EqualTo(0).Within(1e-300));
        Assert.That(Evaluation.LogAddExp(double.NegativeInfinity, -3), Is.EqualTo(-3));
        Assert.That(Evaluation.LogAddExp(double.NegativeInfinity, double.NegativeInfinity), Is.EqualTo(double.NegativeInfinity));
    }
}
