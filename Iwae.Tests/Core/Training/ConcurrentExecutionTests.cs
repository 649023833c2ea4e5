using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Data;
using Iwae.Core.Models;
using Iwae.Core.Training;
using Iwae.Datasets;
using Iwae.Experiments;

namespace Iwae.Tests.Core.Training;

/// <summary>
/// How a computation runs is its own execution's business: two trainers and an evaluation in one process at once, on
/// executions of 1, 2 and 3 threads, each give the bits of their run alone, and cancelling one of them (through its
/// execution) stops it at a step boundary without touching the others.
/// </summary>
public class ConcurrentExecutionTests
{
    private static Dataset _small = null!;
    private static Tensor<float> _testX;

    [OneTimeSetUp]
    public void LoadSmallSubset()
    {
        var (train, test) = Mnist.Load(Mnist.DefaultFolder());
        _small = new Dataset(train.Images.RowSlice(0, 210).Clone(), train.Labels[..210], train.Rows, train.Cols);
        _testX = Binarize.Fixed(test.Images.RowSlice(0, 45), 7);
    }

    // The paper's layer sizes, so that the GEMMs of a step split across threads.
    private static readonly ModelConfig Config = new() { K = 5 };
    private static readonly TrainOptions Options = new() { Epochs = 3, BatchSize = 10 };
    private const int EvalK = 100;

    private static float[] Flat(Iwae<float> m) => m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();

    private static Iwae<float> Model(ulong seed) => Runs.CreateModel(Config, _small, seed);

    [Test]
    public void TwoTrainersAndAnEvaluation_AtOnce_OnOneTwoAndThreeThreads_GiveTheirBitsAlone_AndOneCancelledStopsAlone()
    {
        // Alone, one after the other.
        float[] aloneA, aloneB;
        double[] aloneEval;
        using (var e = new Execution(1)) { var m = Model(5); new Trainer(m, _small, Options with { Seed = 5 }, e).Train(); aloneA = Flat(m); }
        using (var e = new Execution(2, ThreadPolicy.Fixed)) { var m = Model(6); new Trainer(m, _small, Options with { Seed = 6 }, e).Train(); aloneB = Flat(m); }
        using (var e = new Execution(3)) aloneEval = Evaluation.LogLikelihoods(Model(7), _testX, EvalK, execution: e);

        // At once: A on one thread, B on two (cancelled in its second epoch), the evaluation on three.
        using var execA = new Execution(1);
        using var cancelB = new CancellationTokenSource();
        const int stopAt = 9;
        using var execB = new Execution(2, ThreadPolicy.Fixed, cancelB.Token,
            (Action<StepProgress>)(s => { if (s.Epoch == 2 && s.Step == stopAt) cancelB.Cancel(); }));
        using var execEval = new Execution(3);
        using var start = new Barrier(3);
        var modelA = Model(5);
        var modelB = Model(6);
        var trainerB = new Trainer(modelB, _small, Options with { Seed = 6 }, execB);
        Exception? stoppedB = null;
        double[]? together = null;
        var threads = new[]
        {
            new Thread(() => { start.SignalAndWait(); new Trainer(modelA, _small, Options with { Seed = 5 }, execA).Train(); }),
            new Thread(() =>
            {
                start.SignalAndWait();
                try { trainerB.Train(); }
                catch (OperationCanceledException e) { stoppedB = e; }
            }),
            new Thread(() => { start.SignalAndWait(); together = Evaluation.LogLikelihoods(Model(7), _testX, EvalK, execution: execEval); }),
        };
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        Assert.That(Flat(modelA), Is.EqualTo(aloneA), "trainer A (1 thread) beside the others");
        Assert.That(together, Is.EqualTo(aloneEval), "the evaluation (3 threads) beside the others");
        Assert.That(stoppedB, Is.Not.Null, "trainer B was cancelled");
        Assert.That((trainerB.Position.EpochsDone, trainerB.Position.StepInEpoch), Is.EqualTo((1, stopAt)), "B stopped after the step that saw the cancel");
        Assert.That(execB.SharesByWorkers, Is.GreaterThan(0), "B's worker took part");
        Assert.That(execEval.SharesByWorkers, Is.GreaterThan(0), "the evaluation's workers took part");

        // B, saved where it stopped and resumed on its own, ends with the bits of its uninterrupted run.
        string path = Path.Combine(Path.GetTempPath(), $"iwae-concurrent-{Guid.NewGuid():N}.safetensors");
        try
        {
            RunCheckpoint.Save(path, modelB, trainerB);
            var resumed = RunCheckpoint.LoadModel(path);
            using var again = new Execution(2);
            var t = new Trainer(resumed, _small, Options with { Seed = 6 }, again);
            RunCheckpoint.Read(path).Restore(t);
            t.Train();
            Assert.That(Flat(resumed), Is.EqualTo(aloneB), "B resumed");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// A steady-state step allocates nothing on any thread count, on the caller (whose scratch comes from its execution)
    /// nor on the workers (each has its own): the whole process's count stays put over a window of steps.
    /// </summary>
    [Test]
    public void SteadyStateStep_OnSeveralThreads_AllocatesNothing([Values(1, 2, 3)] int threads)
    {
        using var e = new Execution(threads, ThreadPolicy.Fixed);
        var t = new Trainer(Model(1), _small, Options, e);
        int[] rows = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
        Assert.That(TestUtil.LeastAllocated(() => t.Step(rows)), Is.Zero, "on the caller");
        // The count is the whole process's: a collection makes the runtime's own callbacks allocate on the finalizer
        // thread (about 2 KB), and the test host's threads allocate now and then, so each window starts after the
        // finalizers have run and the least of several windows is taken.
        long least = long.MaxValue;
        for (int w = 0; w < 8 && least != 0; w++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 5; i++) t.Step(rows);
            least = Math.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.That(least, Is.Zero, "in the whole process");
        if (threads > 1) Assert.That(e.SharesByWorkers, Is.GreaterThan(0), "the workers took part");
    }
}
