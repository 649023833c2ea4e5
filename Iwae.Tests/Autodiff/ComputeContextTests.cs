using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Tests.Autodiff;

/// <summary>
/// <see cref="ComputeContext"/>: a scope makes a context current on its thread alone and puts the previous one back;
/// each context has its own workers, so two computations on two contexts run side by side, each on its own threads.
/// </summary>
public class ComputeContextTests
{
    private const int M = 300, N = 200, K = 300;       // 18M multiply-adds: well above the parallel threshold

    private static (float[] A, float[] B, float[] Expected) Problem()
    {
        var a = TestUtil.Random<float>(M, K, 1).Span.ToArray();
        var b = TestUtil.Random<float>(K, N, 2).Span.ToArray();
        var expected = new float[M * N];
        using (ComputeContext.Serial.Enter()) Gemm.NN<float>(a, b, expected, M, N, K, false);
        return (a, b, expected);
    }

    /// <summary>
    /// Repeats the product on the current context at least <paramref name="reps"/> times and until a worker of
    /// <paramref name="owner"/> has run a share (a new worker thread may take a while to be scheduled), up to 5 s.
    /// </summary>
    private static void RunUntilWorkersTakePart(ComputeContext owner, float[] a, float[] b, float[] c, int reps = 10)
    {
        long before = owner.SharesByWorkers;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < reps || (owner.SharesByWorkers == before && sw.Elapsed.TotalSeconds < 5); i++)
            Gemm.NN<float>(a, b, c, M, N, K, false);
    }

    [Test]
    public void Enter_MakesTheContextCurrent_AndDisposingPutsThePreviousOneBack()
    {
        using var outer = new ComputeContext(2);
        using var inner = new ComputeContext(3);
        Assert.That(ComputeContext.Current, Is.SameAs(ComputeContext.Default));
        using (outer.Enter())
        {
            Assert.That(ComputeContext.Current, Is.SameAs(outer));
            using (inner.Enter()) Assert.That(ComputeContext.Current.Threads, Is.EqualTo(3));
            Assert.That(ComputeContext.Current, Is.SameAs(outer));
        }
        Assert.That(ComputeContext.Current, Is.SameAs(ComputeContext.Default));
    }

    [Test]
    public void TheCurrentContext_BelongsToOneThread()
    {
        using var mine = new ComputeContext(2);
        using var scope = mine.Enter();
        ComputeContext? seen = null;
        var other = new Thread(() => seen = ComputeContext.Current);
        other.Start();
        other.Join();
        Assert.That(seen, Is.SameAs(ComputeContext.Default), "another thread does not see this thread's scope");
        Assert.That(ComputeContext.Current, Is.SameAs(mine));
    }

    [Test]
    public void WithThreads_SharesThePool_AndIsCached()
    {
        using var c = new ComputeContext(3);
        Assert.That(c.WithThreads(3), Is.SameAs(c));
        var one = c.WithThreads(1);
        Assert.That(one.Threads, Is.EqualTo(1));
        Assert.That(c.WithThreads(1), Is.SameAs(one), "cached: switching per step allocates nothing");
        var two = c.WithThreads(2);
        var (a, b, expected) = Problem();
        var result = new float[M * N];
        using (two.Enter()) RunUntilWorkersTakePart(c, a, b, result);
        Assert.That(result, Is.EqualTo(expected));
        Assert.That(c.SharesByWorkers, Is.GreaterThan(0), "the view's jobs ran on the parent's workers");
        Assert.That(c.WorkerCount, Is.EqualTo(1), "two threads need one worker besides the caller");
        Assert.That(ComputeContext.Serial.WithThreads(2).Threads, Is.EqualTo(2));
    }

    [Test]
    public void TwoContexts_OnTwoThreads_EachUseTheirOwnWorkers()
    {
        using var c2 = new ComputeContext(2);
        using var c3 = new ComputeContext(3);
        var (a, b, expected) = Problem();
        var results = new float[2][];
        using var start = new Barrier(2);
        void Run(int i, ComputeContext c)
        {
            using var scope = c.Enter();
            var r = new float[M * N];
            start.SignalAndWait();
            RunUntilWorkersTakePart(c, a, b, r, reps: 20);
            results[i] = r;
        }
        var t = new Thread(() => Run(1, c3));
        t.Start();
        Run(0, c2);
        t.Join();
        Assert.That(results[0], Is.EqualTo(expected));
        Assert.That(results[1], Is.EqualTo(expected));
        Assert.That(c2.SharesByWorkers, Is.GreaterThan(0), "the 2-thread context's worker took part");
        Assert.That(c3.SharesByWorkers, Is.GreaterThan(0), "the 3-thread context's workers took part");
        Assert.That((c2.WorkerCount, c3.WorkerCount), Is.EqualTo((1, 2)));
    }

    [Test]
    public void ADisposedContext_RunsItsJobsOnTheCaller()
    {
        var c = new ComputeContext(2);
        var (a, b, expected) = Problem();
        var r = new float[M * N];
        using (c.Enter()) Gemm.NN<float>(a, b, r, M, N, K, false);
        c.Dispose();
        long shares = c.SharesByWorkers;
        using (c.Enter()) Gemm.NN<float>(a, b, r, M, N, K, false);
        Assert.That(r, Is.EqualTo(expected));
        Assert.That(c.SharesByWorkers, Is.EqualTo(shares), "no worker ran a share after Dispose");
    }

    [Test]
    public void Threads_IsAtLeastOne_AndAtMostTheLimit()
    {
        Assert.That(() => new ComputeContext(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        using var big = new ComputeContext(1000);
        Assert.That(big.Threads, Is.EqualTo(WorkerPool.MaxThreads));
    }
}
