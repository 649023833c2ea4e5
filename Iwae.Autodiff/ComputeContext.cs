using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

/// <summary>
/// The threads a computation's kernels may use and the worker pool that runs them. Kernels (GEMMs, elementwise
/// maps, densities, Adam) run on the context current on the calling thread: the one a <see cref="Enter"/> scope made
/// current, else <see cref="Default"/>. Results are bit-identical for every thread count: kernels cut their output
/// so that each element is computed by one share in a fixed order, whichever thread runs it.
/// <para>
/// Each context built with <see cref="ComputeContext(int)"/> owns its workers, so two computations on two contexts
/// (two trainers in one process, say) never wait for each other. <see cref="WithThreads"/> gives a view on the same
/// pool with another thread count (a trainer uses it to run a step on one thread while that is faster).
/// A context is used by one computation at a time; a second caller that finds its pool busy runs its shares alone.
/// </para>
/// </summary>
/// <example><code>
/// using var compute = new ComputeContext(threads: 2);
/// using (compute.Enter()) Gemm.NN(a, b, c, m, n, k, accumulate: false);   // runs on compute's two threads
/// </code></example>
public sealed class ComputeContext : IDisposable
{
    [ThreadStatic] private static ComputeContext? t_current;
    private static readonly Lazy<ComputeContext> LazyDefault = new(() => new ComputeContext(FromEnvironment()));

    private readonly WorkerPool? _pool;
    private readonly bool _ownsPool;
    private readonly ComputeContext?[] _views = new ComputeContext?[WorkerPool.MaxThreads + 1];

    /// <summary>A context of <paramref name="threads"/> threads (the caller included) with its own worker pool.</summary>
    public ComputeContext(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Threads = Math.Min(threads, WorkerPool.MaxThreads);
        _pool = new WorkerPool();      // starts no thread until a job needs one
        _ownsPool = true;
    }

    private ComputeContext(WorkerPool? pool, int threads) => (_pool, Threads) = (pool, threads);

    /// <summary>One thread, no pool: every kernel runs on its caller.</summary>
    public static ComputeContext Serial { get; } = new(null, 1);

    /// <summary>
    /// The context of code that entered none: IWAE_THREADS threads when that variable is set, else
    /// <see cref="Environment.ProcessorCount"/>. Its thread count never changes.
    /// </summary>
    public static ComputeContext Default => LazyDefault.Value;

    /// <summary>The context the kernels run on, on this thread.</summary>
    public static ComputeContext Current => t_current ?? Default;

    /// <summary>Threads a kernel call may use, the caller included (at least 1).</summary>
    public int Threads { get; }

    /// <summary>
    /// This context's pool with <paramref name="threads"/> threads (this context itself for its own count). Views are
    /// cached, so switching between counts per step allocates nothing. <see cref="Serial"/> has no pool: its views
    /// are <see cref="Default"/>'s.
    /// </summary>
    public ComputeContext WithThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        threads = Math.Min(threads, WorkerPool.MaxThreads);
        if (threads == Threads) return this;
        if (_pool is null) return Default.WithThreads(threads);
        return _views[threads] ??= new ComputeContext(_pool, threads);
    }

    /// <summary>Makes this context current on the calling thread until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>Restores the context that was current before <see cref="Enter"/>.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly ComputeContext? _previous;

        internal Scope(ComputeContext? previous) => _previous = previous;

        /// <summary>Puts the previous context back.</summary>
        public void Dispose() => t_current = _previous;
    }

    /// <summary>Stops this context's workers (not those of a pool it shares with the context it came from).</summary>
    public void Dispose()
    {
        if (_ownsPool) _pool?.Dispose();
    }

    /// <summary>Runs <paramref name="work"/> as <paramref name="parts"/> shares on this context's threads.</summary>
    internal void Run(IParallelWork work, int parts)
    {
        if (_pool is null || Threads <= 1)
            for (int p = 0; p < parts; p++) work.Run(p, parts);
        else _pool.Run(work, parts, Threads);
    }

    /// <summary>Shares run by this context's worker threads so far (not by callers): shows whether they take part.</summary>
    internal long SharesByWorkers => _pool?.SharesByWorkers ?? 0;

    /// <summary>Worker threads this context's pool has started.</summary>
    internal int WorkerCount => _pool?.WorkerCount ?? 0;

    /// <inheritdoc/>
    public override string ToString() => $"{Threads} thread{(Threads == 1 ? "" : "s")}";

    private static int FromEnvironment()
    {
        var s = Environment.GetEnvironmentVariable("IWAE_THREADS");
        int n = int.TryParse(s, out int v) && v >= 1 ? v : Environment.ProcessorCount;
        return Math.Clamp(n, 1, WorkerPool.MaxThreads);
    }
}
