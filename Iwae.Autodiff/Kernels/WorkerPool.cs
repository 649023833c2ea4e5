using System.Diagnostics;

namespace Iwae.Autodiff.Kernels;

/// <summary>A parallel kernel call cut into shares; one instance is reused across calls so nothing is allocated.</summary>
internal interface IParallelWork
{
    /// <summary>
    /// Runs share <paramref name="part"/> of <paramref name="parts"/> on the calling thread, whose scratch is
    /// <paramref name="workspace"/>; shares never overlap in output.
    /// </summary>
    void Run(int part, int parts, Workspace workspace);
}

/// <summary>
/// Persistent worker threads for the kernels of one <see cref="Execution"/>, each with its own <see cref="Workspace"/>.
/// A training step makes ~20 GEMM calls and Parallel.For costs microseconds per call, so workers stay alive, spin
/// briefly between calls (then sleep), and the calling thread works too. Shares are claimed, not assigned: whichever thread comes first runs
/// the next one, so a worker that the OS has not scheduled yet never stalls the caller, who then runs that share
/// itself. Kernels cut their output so that each element is computed by one share in a fixed order: results do
/// not depend on the thread count nor on which thread ran which share.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>Most threads a job may use, the caller included.</summary>
    public const int MaxThreads = 64;

    // An idle worker waits in four stages. 50 us of pure spinning, so that back-to-back GEMM calls are picked
    // up at once. Then spinning with yields up to 2 ms, which bridges the elementwise ops between the GEMMs of
    // a step (a wake-up from a real sleep costs more than many of those ops take). Then 1 ms naps up to
    // 200 ms, so a pause in training does not hold a core. Then a real sleep until the next call.
    private static readonly long BusySpinTicks = Stopwatch.Frequency / 20_000;
    private static readonly long SpinTicks = Stopwatch.Frequency / 500;
    private static readonly long NapTicks = Stopwatch.Frequency / 5;

    private readonly Lock _gate = new();
    private Worker[] _pool = [];
    private volatile bool _disposed;

    // The current job: generation (high 32 bits), share count (16 bits), next unclaimed share (low 16 bits),
    // swapped as one value so that a late worker can never claim a share of a newer job by mistake.
    private long _state;
    private IParallelWork? _work;
    private int _done;
    private Exception? _error;

    /// <summary>
    /// Runs <paramref name="work"/> as <paramref name="parts"/> shares on the caller (with <paramref name="caller"/> as
    /// its workspace) and up to min(parts, <paramref name="threads"/>) - 1 workers, and returns when all are done. If
    /// another thread holds this pool, or it is disposed, the caller runs them all.
    /// </summary>
    public void Run(IParallelWork work, int parts, int threads, Workspace caller)
    {
        parts = Math.Min(parts, ushort.MaxValue);
        if (parts <= 1 || threads <= 1 || _disposed || !_gate.TryEnter())
        {
            for (int p = 0; p < parts; p++) work.Run(p, parts, caller);
            return;
        }
        try
        {
            var pool = EnsurePool(Math.Min(Math.Min(parts, threads), MaxThreads) - 1);
            _work = work;
            _error = null;
            Volatile.Write(ref _done, 0);
            long gen = (Volatile.Read(ref _state) >> 32) + 1;
            Interlocked.Exchange(ref _state, (gen << 32) | ((long)parts << 16));
            foreach (var w in pool) w.Wake();
            Exception? mine = null;
            try { RunShares(caller); }
            catch (Exception e) { mine = e; }
            var spin = new SpinWait();
            while (Volatile.Read(ref _done) != parts) spin.SpinOnce(sleep1Threshold: -1);
            _work = null;
            if (mine is not null) throw mine;
            if (_error is not null) throw new AggregateException("a kernel worker failed", _error);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Shares run by worker threads so far (not by callers): shows whether the workers take part.</summary>
    public long SharesByWorkers
    {
        get
        {
            long n = 0;
            foreach (var w in _pool) n += Volatile.Read(ref w.Shares);
            return n;
        }
    }

    /// <summary>Worker threads started so far.</summary>
    public int WorkerCount => _pool.Length;

    /// <summary>Lets the workers finish and exit; later jobs run on their callers.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var w in _pool) w.Wake(force: true);
        }
    }

    /// <summary>Claims and runs shares of the current job until none is left; returns how many it ran.</summary>
    private int RunShares(Workspace workspace)
    {
        int ran = 0;
        while (true)
        {
            long s = Volatile.Read(ref _state);
            int next = (int)(s & 0xFFFF), parts = (int)((s >> 16) & 0xFFFF);
            if (next >= parts) return ran;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) != s) continue;
            // Holding an unfinished share keeps the caller from starting a new job, so _work is this job's.
            try { _work!.Run(next, parts, workspace); }
            catch (Exception e) { _error = e; }
            finally { Interlocked.Increment(ref _done); }
            ran++;
        }
    }

    private Worker[] EnsurePool(int count)
    {
        if (_pool.Length >= count) return _pool;
        var pool = new Worker[count];
        Array.Copy(_pool, pool, _pool.Length);
        for (int i = _pool.Length; i < count; i++) pool[i] = new Worker(this, i + 1);
        return _pool = pool;
    }

    private sealed class Worker
    {
        private readonly WorkerPool _owner;
        private readonly ManualResetEventSlim _wake = new(false, 0);
        private readonly Workspace _workspace = new();
        private int _sleeping;
        public long Shares;

        public Worker(WorkerPool owner, int id)
        {
            _owner = owner;
            // A worker runs at its creator's priority. Below it (BenchmarkDotNet raises its thread to Highest),
            // the caller, spinning while it waits for a share, can starve the worker that holds that share
            // whenever the two land on one core, and two-thread steps at small k then take much longer
            // (measured figures: docs/performance.md, "What was tried").
            var t = new Thread(Loop) { IsBackground = true, Name = $"iwae-worker-{id}", Priority = Thread.CurrentThread.Priority };
            t.Start();
        }

        /// <summary>Called after a new job is published (or on disposal): wakes this worker if it went to sleep.</summary>
        public void Wake(bool force = false)
        {
            // Pairs with the fence in Loop: either we see the worker asleep, or it sees the new job.
            Interlocked.MemoryBarrier();
            if (force || Volatile.Read(ref _sleeping) != 0) _wake.Set();
        }

        private void Loop()
        {
            long seen = 0;
            while (!_owner._disposed)
            {
                long idleSince = Stopwatch.GetTimestamp();
                int spins = 0;
                while (Volatile.Read(ref _owner._state) >> 32 == seen)
                {
                    if (_owner._disposed) return;
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
                    if (Volatile.Read(ref _owner._state) >> 32 == seen && !_owner._disposed) _wake.Wait();
                    _wake.Reset();
                    Volatile.Write(ref _sleeping, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                seen = Volatile.Read(ref _owner._state) >> 32;
                Shares += _owner.RunShares(_workspace);
            }
        }
    }
}
