using System.Runtime.ExceptionServices;
using Iwae.Autodiff.Kernels;

namespace Iwae.Autodiff;

/// <summary>Whether a trainer may run some steps on fewer threads than <see cref="Execution.Threads"/>.</summary>
public enum ThreadPolicy
{
    /// <summary>
    /// A trainer runs steps on one thread while that is measurably faster than <see cref="Execution.Threads"/> (on a
    /// shared VM two threads sometimes are not); the results are the same bits either way.
    /// </summary>
    Adaptive,

    /// <summary>Every step on <see cref="Execution.Threads"/>.</summary>
    Fixed,
}

/// <summary>
/// How a computation runs, apart from what it computes: its kernel threads and their worker pool, the
/// <see cref="ThreadPolicy"/>, cancellation and where progress goes. Built once where the work starts (the command line,
/// a library caller) and passed down explicitly: to the trainer and the evaluation, and through a
/// <see cref="Tape{T}"/> (or an argument) to the kernels. Nothing reads it from a static: code given no execution runs
/// on <see cref="Serial"/>, the caller's thread alone.
/// <para>
/// Results are the same bits for every thread count and policy: kernels cut their output so that each element is
/// computed by one share in a fixed order, whichever thread runs it.
/// </para>
/// <para>
/// An execution built with the constructor owns its workers (started when a kernel first needs them, stopped by
/// <see cref="Dispose"/>) and their scratch. <see cref="WithThreads"/>, <see cref="WithCancellation"/> and
/// <see cref="WithProgress"/> give views of it that share both. One execution serves one computation at a time (a
/// second caller that finds its workers busy runs its shares alone, correctly but slower): two computations side by
/// side take an execution each (<see cref="WithOwnWorkers"/>), and never wait for each other.
/// </para>
/// </summary>
/// <example><code>
/// using var execution = new Execution(threads: 2, cancellation: token);
/// var trainer = new Trainer(model, train, options, execution);      // Iwae.Core
/// var tape = new Tape&lt;float&gt;(execution);                           // its kernels run on the same two threads
/// </code></example>
public sealed class Execution : IDisposable
{
    /// <summary>The most threads an execution may be asked for (it uses at most <see cref="WorkerPool.MaxThreads"/>).</summary>
    public const int MaxThreads = 1024;

    /// <summary>
    /// The thread count when none is given: two, or one on a single-core machine. A training step at the paper's
    /// sizes is ~20 GEMMs of a few hundred microseconds; a third thread rarely pays for its hand-offs
    /// (docs/performance.md).
    /// </summary>
    public static int DefaultThreads { get; } = Math.Min(2, Environment.ProcessorCount);

    /// <summary>One thread, the caller's; no workers, no cancellation, no progress: what code given no execution runs on.</summary>
    public static Execution Serial { get; } = new(new Resources(pool: null), 1, ThreadPolicy.Fixed, default, null, bound: null);

    private readonly Resources _resources;
    private readonly bool _owns;
    private readonly Workspace? _bound;
    private Execution?[]? _byThreads;

    /// <summary>
    /// An execution with its own worker pool.
    /// </summary>
    /// <param name="threads">Kernel threads, the caller included, from 1 to <see cref="MaxThreads"/>; null: <see cref="DefaultThreads"/>.</param>
    /// <param name="policy">Whether a trainer may run steps on one thread while that is faster.</param>
    /// <param name="cancellation">Checked between training steps and evaluation chunks.</param>
    /// <param name="progress">Receives progress reports (see <see cref="Report{TReport}"/>); null for none.</param>
    public Execution(int? threads = null, ThreadPolicy policy = ThreadPolicy.Adaptive, CancellationToken cancellation = default, object? progress = null)
        : this(new Resources(new WorkerPool()), CheckThreads(threads ?? DefaultThreads), policy, cancellation, progress, bound: null)
        => _owns = true;

    private Execution(Resources resources, int threads, ThreadPolicy policy, CancellationToken cancellation, object? progress, Workspace? bound)
    {
        if (!Enum.IsDefined(policy)) throw new ArgumentOutOfRangeException(nameof(policy), policy, "not a thread policy");
        _resources = resources;
        Threads = resources.Pool is null ? 1 : Math.Min(threads, WorkerPool.MaxThreads);
        Policy = policy;
        Cancellation = cancellation;
        Progress = progress;
        _bound = bound;
    }

    /// <summary>Threads a kernel call may use, the caller included (at least 1; at most <see cref="WorkerPool.MaxThreads"/>).</summary>
    public int Threads { get; }

    /// <summary>Whether a trainer may run steps on fewer threads.</summary>
    public ThreadPolicy Policy { get; }

    /// <summary>Stops the computation: checked between training steps and before every evaluation chunk.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>
    /// Where progress goes: an object that implements <see cref="IProgress{T}"/> (or is an <see cref="Action{T}"/>) for
    /// each report type it wants; null for none. See <see cref="Report{TReport}"/>.
    /// </summary>
    public object? Progress { get; }

    /// <summary>
    /// Sends <paramref name="report"/> to <see cref="Progress"/> when it takes reports of this type, synchronously, on the
    /// calling thread; otherwise does nothing. Computations report what they know: the trainer a step, the evaluation the
    /// images done, a run (Iwae.Experiments) its phase; a sink implements the ones it shows.
    /// </summary>
    public void Report<TReport>(TReport report)
    {
        switch (Progress)
        {
            case IProgress<TReport> p: p.Report(report); break;
            case Action<TReport> a: a(report); break;
        }
    }

    /// <summary>
    /// This execution on at most <paramref name="threads"/> of its threads (itself for its own count), sharing its workers:
    /// a trainer runs a step on one thread through it. Views are cached, so switching between counts allocates nothing.
    /// </summary>
    public Execution WithThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (threads >= Threads) return this;
        _byThreads ??= new Execution?[Threads];
        return _byThreads[threads] ??= new Execution(_resources, threads, Policy, Cancellation, Progress, _bound);
    }

    /// <summary>This execution, sharing its workers, stopped by <paramref name="cancellation"/> instead.</summary>
    public Execution WithCancellation(CancellationToken cancellation)
        => new(_resources, Threads, Policy, cancellation, Progress, _bound);

    /// <summary>This execution, sharing its workers, reporting to <paramref name="progress"/> instead (null: nowhere).</summary>
    public Execution WithProgress(object? progress)
        => new(_resources, Threads, Policy, Cancellation, progress, _bound);

    /// <summary>
    /// An execution of the same thread count, policy, cancellation and progress with workers of its own, for a
    /// computation that runs beside this one's; dispose it.
    /// </summary>
    public Execution WithOwnWorkers() => new(Threads, Policy, Cancellation, Progress);

    /// <summary>
    /// Runs <paramref name="share"/>(i, execution) for every i in [0, <paramref name="shares"/>) on this execution's
    /// threads, the caller and up to <see cref="Threads"/> - 1 workers at once, and returns when all are done. Each
    /// share's execution is one thread (the one running it) with that thread's scratch, so kernels inside a share run
    /// on its thread alone; for work parallel at a coarser grain than a kernel (the evaluation's image groups). The
    /// first exception a share throws is thrown again here, as it was.
    /// </summary>
    public void RunShares(int shares, Action<int, Execution> share)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shares);
        ArgumentNullException.ThrowIfNull(share);
        var job = new ShareJob(this, share);
        var workspace = RentWorkspace();
        try { Run(job, shares, workspace); }
        finally { ReturnWorkspace(workspace); }
        if (job.Error is { } e) ExceptionDispatchInfo.Throw(e);
    }

    /// <summary>Stops the workers of an execution built with the constructor; views and <see cref="Serial"/> own none.</summary>
    public void Dispose()
    {
        if (_owns) _resources.Pool?.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Threads} thread{(Threads == 1 ? "" : "s")}{(Policy == ThreadPolicy.Fixed ? ", fixed" : "")}";

    /// <summary>Runs <paramref name="work"/> as <paramref name="parts"/> shares on this execution's threads; the caller's share uses <paramref name="caller"/>.</summary>
    internal void Run(IParallelWork work, int parts, Workspace caller)
    {
        if (_resources.Pool is not { } pool || Threads <= 1 || _bound is not null)
            for (int p = 0; p < parts; p++) work.Run(p, parts, caller);
        else pool.Run(work, parts, Threads, caller);
    }

    /// <summary>
    /// The calling thread's scratch for one kernel call: the workspace of the thread a share view is bound to, or one
    /// of the caller's (a second caller at the same time gets another, so nothing is shared); give it back with
    /// <see cref="ReturnWorkspace"/>.
    /// </summary>
    internal Workspace RentWorkspace() => _bound ?? _resources.Rent();

    /// <summary>Gives back what <see cref="RentWorkspace"/> lent.</summary>
    internal void ReturnWorkspace(Workspace workspace)
    {
        if (_bound is null) _resources.Return(workspace);
    }

    /// <summary>Shares run by this execution's worker threads so far (not by callers): shows whether they take part.</summary>
    internal long SharesByWorkers => _resources.Pool?.SharesByWorkers ?? 0;

    /// <summary>Worker threads this execution's pool has started.</summary>
    internal int WorkerCount => _resources.Pool?.WorkerCount ?? 0;

    private static int CheckThreads(int threads)
        => threads is >= 1 and <= MaxThreads ? threads
            : throw new SettingException("threads", $"must be from 1 to {MaxThreads}, got {threads}");

    /// <summary>What an execution and its views share: the worker pool and the callers' workspaces.</summary>
    private sealed class Resources(WorkerPool? pool)
    {
        private readonly Stack<Workspace> _spare = new();

        public WorkerPool? Pool { get; } = pool;

        public Workspace Rent()
        {
            lock (_spare) return _spare.Count > 0 ? _spare.Pop() : new Workspace();
        }

        public void Return(Workspace workspace)
        {
            lock (_spare) _spare.Push(workspace);
        }
    }

    /// <summary><see cref="RunShares"/>'s job: each share with a one-thread view bound to the workspace of the thread that runs it.</summary>
    private sealed class ShareJob(Execution owner, Action<int, Execution> share) : IParallelWork
    {
        public Exception? Error;

        public void Run(int part, int parts, Workspace workspace)
        {
            if (Volatile.Read(ref Error) is not null) return;
            try { share(part, new Execution(owner._resources, 1, owner.Policy, owner.Cancellation, owner.Progress, workspace)); }
            catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
        }
    }
}
