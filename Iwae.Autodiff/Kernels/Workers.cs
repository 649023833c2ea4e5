using System.Diagnostics;

namespace Iwae.Autodiff.Kernels;

/// <summary>A parallel kernel call cut into shares; one instance is reused across calls so nothing is allocated.</summary>
internal interface IParallelWork
{
    /// <summary>Runs share <paramref name="part"/> of <paramref name="parts"/>; shares never overlap in output.</summary>
    void Run(int part, int parts);
}

/// <summary>
/// Persistent worker threads for the kernels. A training step makes ~20 GEMM calls and Parallel.For costs
/// microseconds per call, so workers stay alive, spin briefly between calls (then sleep), and the calling
/// thread works too. Shares are claimed, not assigned: whichever thread comes first runs the next one, so a
/// worker that the OS has not scheduled yet never stalls the caller, who then runs that share itself.
/// Kernels cut their output so that each element is computed by one share in a fixed order: results do not
/// depend on <see cref="Threads"/> nor on which thread ran which share.
/// </summary>
public static class Workers
{
    private const int MaxThreads = 64;

    // An idle worker waits in four stages. 50 us of pure spinning: back-to-back GEMM calls are picked up
    // within ~0.1 us. Then spinning with yields up to 2 ms, which bridges the elementwise ops between the
    // GEMMs of a step (a wake-up from a real sleep costs tens of microseconds). Then 1 ms naps up to
    // 200 ms, so a pause in training does not hold a core. Then a real sleep until the next call.
    private static readonly long BusySpinTicks = Stopwatch.Frequency / 20_000;
    private static readonly long SpinTicks = Stopwatch.Frequency / 500;
    private static readonly long NapTicks = Stopwatch.Frequency / 5;

    private static int s_threads = FromEnvironment();
    private static readonly object Gate = new();
    private static Worker[] s_pool = [];

    // The current job: generation (high 32 bits), share count (16 bits), next unclaimed share (low 16 bits),
    // swapped as one value so that a late worker can never claim a share of a newer job by mistake.
    private static long s_state;
    private static IParallelWork? s_work;
    private static int s_done;
    private static Exception? s_error;

    /// <summary>
    /// Threads a kernel call may use, the caller included (at least 1). Defaults to IWAE_THREADS when set,
    /// else <see cref="Environment.ProcessorCount"/>. Results are bit-identical for every value.
    /// </summary>
    public static int Threads
    {
        get => Volatile.Read(ref s_threads);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref s_threads, Math.Min(value, MaxThreads));
        }
    }

    private static int FromEnvironment()
    {
        var s = Environment.GetEnvironmentVariable("IWAE_THREADS");
        int n = int.TryParse(s, out int v) && v >= 1 ? v : Environment.ProcessorCount;
        return Math.Clamp(n, 1, MaxThreads);
    }

    /// <summary>
    /// Runs <paramref name="work"/> as <paramref name="parts"/> shares on the caller and up to parts - 1
    /// workers, and returns when all are done. If another thread holds the workers, the caller runs them all.
    /// </summary>
    internal static void Run(IParallelWork work, int parts)
    {
        parts = Math.Min(parts, ushort.MaxValue);
        if (parts <= 1 || !Monitor.TryEnter(Gate))
        {
            for (int p = 0; p < parts; p++) work.Run(p, parts);
            return;
        }
        try
        {
            var pool = EnsurePool(Math.Min(parts, Threads) - 1);
            s_work = work;
            s_error = null;
            Volatile.Write(ref s_done, 0);
            long gen = (Volatile.Read(ref s_state) >> 32) + 1;
            Interlocked.Exchange(ref s_state, (gen << 32) | ((long)parts << 16));
            foreach (var w in pool) w.Wake();
            Exception? mine = null;
            try { RunShares(); }
            catch (Exception e) { mine = e; }
            var spin = new SpinWait();
            while (Volatile.Read(ref s_done) != parts) spin.SpinOnce(sleep1Threshold: -1);
            s_work = null;
            if (mine is not null) throw mine;
            if (s_error is not null) throw new AggregateException("a kernel worker failed", s_error);
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    /// <summary>Shares run by worker threads so far (not by callers): shows whether the workers take part.</summary>
    internal static long SharesByWorkers
    {
        get
        {
            long n = 0;
            foreach (var w in s_pool) n += Volatile.Read(ref w.Shares);
            return n;
        }
    }

    /// <summary>Claims and runs shares of the current job until none is left; returns how many it ran.</summary>
    private static int RunShares()
    {
        int ran = 0;
        while (true)
        {
            long s = Volatile.Read(ref s_state);
            int next = (int)(s & 0xFFFF), parts = (int)((s >> 16) & 0xFFFF);
            if (next >= parts) return ran;
            if (Interlocked.CompareExchange(ref s_state, s + 1, s) != s) continue;
            // Holding an unfinished share keeps the caller from starting a new job, so s_work is this job's.
            try { s_work!.Run(next, parts); }
            catch (Exception e) { s_error = e; }
            finally { Interlocked.Increment(ref s_done); }
            ran++;
        }
    }

    private static Worker[] EnsurePool(int count)
    {
        if (s_pool.Length >= count) return s_pool;
        var pool = new Worker[count];
        Array.Copy(s_pool, pool, s_pool.Length);
        for (int i = s_pool.Length; i < count; i++) pool[i] = new Worker(i + 1);
        return s_pool = pool;
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _wake = new(false, 0);
        private int _sleeping;
        public long Shares;

        public Worker(int id)
        {
            // A worker runs at its creator's priority. Below it (BenchmarkDotNet raises its thread to Highest),
            // the caller, spinning while it waits for a share, can starve the worker that holds that share
            // whenever the two land on one core: measured, 2-thread steps at k = 1..5 then took 2-3x longer.
            var t = new Thread(Loop) { IsBackground = true, Name = $"iwae-worker-{id}", Priority = Thread.CurrentThread.Priority };
            t.Start();
        }

        /// <summary>Called after a new job is published: wakes this worker if it went to sleep.</summary>
        public void Wake()
        {
            // Pairs with the fence in Loop: either we see the worker asleep, or it sees the new job.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _sleeping) != 0) _wake.Set();
        }

        private void Loop()
        {
            long seen = 0;
            while (true)
            {
                long idleSince = Stopwatch.GetTimestamp();
                int spins = 0;
                while (Volatile.Read(ref s_state) >> 32 == seen)
                {
                    if ((++spins & 63) != 0)
                    {
                        Thread.SpinWait(4);
                        continue;
                    }
                    long idle = Stopwatch.GetTimestamp() - idleSince;
                    if (idle < BusySpinTicks) continue;
                    if (idle < SpinTicks)
                    {
                        // Past the back-to-back window, yield now and then: if the OS put this thread on the
                        // caller's core, pure spinning would hold that core while the caller waits to run.
                        Thread.Yield();
                        continue;
                    }
                    if (idle < NapTicks)
                    {
                        // Naps rather than a wait on an event: the wake-up that ends an event wait tends to
                        // land this thread on the waker's core (the caller's), where it is no help at all;
                        // a timer wake-up keeps it where it ran.
                        Thread.Sleep(1);
                        continue;
                    }
                    Volatile.Write(ref _sleeping, 1);
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref s_state) >> 32 == seen) _wake.Wait();
                    _wake.Reset();
                    Volatile.Write(ref _sleeping, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref s_state) >> 32;
                Shares += RunShares();
            }
        }
    }
}
