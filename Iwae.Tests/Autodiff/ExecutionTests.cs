using System.Reflection;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Tests.Autodiff;

/// <summary>
/// <see cref="Execution"/>: given explicitly to every kernel, never read from a static; each execution has its own workers
/// (two computations on two executions run side by side, each on its own threads), its views share them, and two callers
/// of one execution at once each get scratch of their own.
/// </summary>
public class ExecutionTests
{
    private const int M = 300, N = 200, K = 300;       // 18M multiply-adds: well above the parallel threshold

    private static (float[] A, float[] B, float[] Expected) Problem()
    {
        var a = TestUtil.Random<float>(M, K, 1).Span.ToArray();
        var b = TestUtil.Random<float>(K, N, 2).Span.ToArray();
        var expected = new float[M * N];
        GemmNaive.NN<float>(a, b, expected, M, N, K, false);
        Gemm.NN<float>(a, b, expected, M, N, K, false);      // the fast kernel's bits, on the caller alone
        return (a, b, expected);
    }

    /// <summary>
    /// Repeats the product on <paramref name="execution"/> at least <paramref name="reps"/> times and until a worker of
    /// <paramref name="owner"/> has run a share (a new worker thread may take a while to be scheduled), up to 5 s.
    /// </summary>
    private static void RunUntilWorkersTakePart(Execution owner, Execution execution, float[] a, float[] b, float[] c, int reps = 10)
    {
        long before = owner.SharesByWorkers;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < reps || (owner.SharesByWorkers == before && sw.Elapsed.TotalSeconds < 5); i++)
            Gemm.NN<float>(a, b, c, M, N, K, false, execution: execution);
    }

    [Test]
    public void Serial_IsOneThreadWithoutWorkers_WhatCodeGivenNoExecutionRunsOn()
    {
        Assert.That(Execution.Serial.Threads, Is.EqualTo(1));
        Assert.That(Execution.Serial.WithThreads(4), Is.SameAs(Execution.Serial), "no pool to widen");
        Assert.That(new Tape<float>().Execution, Is.SameAs(Execution.Serial));
        var (a, b, expected) = Problem();
        var r = new float[M * N];
        Gemm.NN<float>(a, b, r, M, N, K, false, execution: Execution.Serial);
        Assert.That(r, Is.EqualTo(expected));
        Assert.That(Execution.Serial.WorkerCount, Is.Zero);
    }

    [Test]
    public void WithThreads_SharesThePool_AndIsCached_AndNeverWidens()
    {
        using var e = new Execution(3);
        Assert.That(e.WithThreads(3), Is.SameAs(e));
        Assert.That(e.WithThreads(5), Is.SameAs(e), "a view has at most its execution's threads");
        var one = e.WithThreads(1);
        Assert.That(one.Threads, Is.EqualTo(1));
        Assert.That(e.WithThreads(1), Is.SameAs(one), "cached: switching per step allocates nothing");
        var two = e.WithThreads(2);
        var (a, b, expected) = Problem();
        var result = new float[M * N];
        RunUntilWorkersTakePart(e, two, a, b, result);
        Assert.That(result, Is.EqualTo(expected));
        Assert.That(e.SharesByWorkers, Is.GreaterThan(0), "the view's jobs ran on the parent's workers");
        Assert.That(e.WorkerCount, Is.EqualTo(1), "two threads need one worker besides the caller");
    }

    [Test]
    public void Views_KeepTheWorkers_AndChangeOnlyWhatTheySay()
    {
        using var cts = new CancellationTokenSource();
        var seen = new List<int>();
        using var e = new Execution(2, ThreadPolicy.Fixed, cts.Token, (Action<int>)seen.Add);
        var quiet = e.WithProgress(null);
        var other = e.WithCancellation(CancellationToken.None);
        Assert.That((quiet.Threads, quiet.Policy, quiet.Cancellation, quiet.Progress), Is.EqualTo((2, ThreadPolicy.Fixed, cts.Token, (object?)null)));
        Assert.That((other.Threads, other.Policy, other.Cancellation, other.Progress), Is.EqualTo((2, ThreadPolicy.Fixed, CancellationToken.None, e.Progress)));
        var (a, b, expected) = Problem();
        var r = new float[M * N];
        RunUntilWorkersTakePart(e, quiet, a, b, r);
        Assert.That(r, Is.EqualTo(expected));
        Assert.That(e.WorkerCount, Is.EqualTo(1), "the views ran on the execution's one worker");
        other.Dispose();
        RunUntilWorkersTakePart(e, e, a, b, r);
        Assert.That(r, Is.EqualTo(expected), "disposing a view leaves its execution's workers alone");
    }

    [Test]
    public void Report_GoesToTheSinkThatTakesItsType_AndNowhereElse()
    {
        var ints = new List<int>();
        var strings = new Progress();
        new Execution(1, progress: (Action<int>)ints.Add).Report(7);
        new Execution(1, progress: (Action<int>)ints.Add).Report("not an int");
        new Execution(1, progress: strings).Report("line");
        new Execution(1, progress: strings).Report(3);
        Execution.Serial.Report(5);
        Assert.That(ints, Is.EqualTo(new[] { 7 }));
        Assert.That(strings.Seen, Is.EqualTo(new[] { "line" }));
    }

    private sealed class Progress : IProgress<string>
    {
        public readonly List<string> Seen = [];
        public void Report(string value) => Seen.Add(value);
    }

    [Test]
    public void TwoExecutions_OnTwoThreads_EachUseTheirOwnWorkers()
    {
        using var e2 = new Execution(2);
        using var e3 = new Execution(3);
        var (a, b, expected) = Problem();
        var results = new float[2][];
        using var start = new Barrier(2);
        void Run(int i, Execution e)
        {
            var r = new float[M * N];
            start.SignalAndWait();
            RunUntilWorkersTakePart(e, e, a, b, r, reps: 20);
            results[i] = r;
        }
        var t = new Thread(() => Run(1, e3));
        t.Start();
        Run(0, e2);
        t.Join();
        Assert.That(results[0], Is.EqualTo(expected));
        Assert.That(results[1], Is.EqualTo(expected));
        Assert.That(e2.SharesByWorkers, Is.GreaterThan(0), "the 2-thread execution's worker took part");
        Assert.That(e3.SharesByWorkers, Is.GreaterThan(0), "the 3-thread execution's workers took part");
        Assert.That((e2.WorkerCount, e3.WorkerCount), Is.EqualTo((1, 2)));
    }

    /// <summary>
    /// One execution used by two threads at once (which it is not meant for) stays correct: the second caller finds the
    /// workers busy and runs its shares itself, with scratch of its own, never the first caller's.
    /// </summary>
    [Test]
    public void OneExecution_CalledFromTwoThreadsAtOnce_GivesEachTheRightProduct()
    {
        using var e = new Execution(2);
        var (a, b, expected) = Problem();
        var results = new float[2][];
        using var start = new Barrier(2);
        void Run(int i)
        {
            var r = new float[M * N];
            start.SignalAndWait();
            for (int rep = 0; rep < 30; rep++)
            {
                Gemm.NN<float>(a, b, r, M, N, K, false, execution: e);
                Gemm.TN<float>(a, TestUtil.Random<float>(M, N, 3).Span, new float[K * N], K, N, M, false, execution: e);
                if (!r.AsSpan().SequenceEqual(expected)) break;
            }
            results[i] = r;
        }
        var t = new Thread(() => Run(1));
        t.Start();
        Run(0);
        t.Join();
        Assert.That(results[0], Is.EqualTo(expected));
        Assert.That(results[1], Is.EqualTo(expected));
    }

    [Test]
    public void ADisposedExecution_RunsItsJobsOnTheCaller()
    {
        var e = new Execution(2);
        var (a, b, expected) = Problem();
        var r = new float[M * N];
        Gemm.NN<float>(a, b, r, M, N, K, false, execution: e);
        e.Dispose();
        long shares = e.SharesByWorkers;
        Gemm.NN<float>(a, b, r, M, N, K, false, execution: e);
        Assert.That(r, Is.EqualTo(expected));
        Assert.That(e.SharesByWorkers, Is.EqualTo(shares), "no worker ran a share after Dispose");
    }

    [Test]
    public void RunShares_GivesEachShareOneThreadWithItsOwnScratch_AndThrowsTheFirstErrorAsItWas()
    {
        using var e = new Execution(3, cancellation: new CancellationTokenSource().Token, progress: "sink");
        var (a, b, expected) = Problem();
        var results = new float[6][];
        var views = new Execution[6];
        e.RunShares(6, (i, share) =>
        {
            views[i] = share;
            results[i] = new float[M * N];
            Gemm.NN<float>(a, b, results[i], M, N, K, false, execution: share);
        });
        Assert.That(results, Has.All.EqualTo(expected));
        Assert.That(views.Select(v => v.Threads), Has.All.EqualTo(1));
        Assert.That(views.Select(v => (v.Cancellation, v.Progress)), Has.All.EqualTo((e.Cancellation, e.Progress)));
        var thrown = Assert.Throws<InvalidOperationException>(() => e.RunShares(4, (i, _) =>
        {
            if (i == 2) throw new InvalidOperationException("share 2");
        }))!;
        Assert.That(thrown.Message, Is.EqualTo("share 2"), "not wrapped");
    }

    [Test]
    public void Threads_AreFrom1To1024_UsedUpToThePoolsLimit_AndDefaultToMin2Cores()
    {
        Assert.That(() => new Execution(0), Throws.InstanceOf<SettingException>().With.Message.EqualTo("threads must be from 1 to 1024, got 0").And.Property(nameof(SettingException.Field)).EqualTo("threads"));
        Assert.That(() => new Execution(Execution.MaxThreads + 1), Throws.InstanceOf<SettingException>());
        Assert.That(() => new Execution(1).WithThreads(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        using var big = new Execution(1000);
        Assert.That(big.Threads, Is.EqualTo(WorkerPool.MaxThreads));
        using var plain = new Execution();
        Assert.That(plain.Threads, Is.EqualTo(Math.Min(2, Environment.ProcessorCount)));
        Assert.That(Execution.DefaultThreads, Is.EqualTo(plain.Threads));
        Assert.That((plain.Policy, plain.Cancellation, plain.Progress), Is.EqualTo((ThreadPolicy.Adaptive, CancellationToken.None, (object?)null)));
    }

    /// <summary>
    /// The execution travels as an argument: nothing in Iwae.Autodiff or Iwae.Core keeps per-thread state or a public
    /// static that code could set (a way to pass it around behind the callers' backs).
    /// </summary>
    [Test]
    public void AutodiffAndCore_HaveNoThreadStaticAndNoPublicSettableStatic([Values("Iwae.Autodiff", "Iwae.Core")] string name)
    {
        var assembly = name == "Iwae.Autodiff" ? typeof(Execution).Assembly : typeof(Iwae.Core.Models.ModelConfig).Assembly;
        const BindingFlags all = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        var types = assembly.GetTypes();
        var threadStatic = types.SelectMany(t => t.GetFields(all)).Where(f => f.IsDefined(typeof(ThreadStaticAttribute))).Select(f => $"{f.DeclaringType}.{f.Name}");
        var settableFields = types.Where(t => t.IsVisible).SelectMany(t => t.GetFields(all))
            .Where(f => f.IsPublic && !f.IsInitOnly && !f.IsLiteral).Select(f => $"{f.DeclaringType}.{f.Name}");
        var settableProperties = types.Where(t => t.IsVisible).SelectMany(t => t.GetProperties(all))
            .Where(p => p.SetMethod is { IsPublic: true }).Select(p => $"{p.DeclaringType}.{p.Name}");
        Assert.That(threadStatic, Is.Empty, "[ThreadStatic] fields");
        Assert.That(settableFields.Concat(settableProperties), Is.Empty, "public settable statics");
    }
}
