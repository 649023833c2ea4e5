using System.Globalization;
using Iwae.Autodiff;
using Iwae.Core.Checkpoints;
using Iwae.Core.Training;
using Iwae.Core;
using Iwae.Datasets;

namespace Iwae.Experiments.Sweeps;

/// <summary>How one attempt at a run of a sweep ended.</summary>
public enum SweepOutcomeKind
{
    /// <summary>It trained to the end (from the start, or resumed from its checkpoint) and wrote its results.</summary>
    Trained,
    /// <summary>Its results were already there: nothing to do.</summary>
    AlreadyDone,
    /// <summary>Another live worker holds its lock: nothing done.</summary>
    Busy,
    /// <summary>It had failed before (its "failed" file); not tried again: a refusal, which a task reports as an error.</summary>
    FailedBefore,
    /// <summary>It stopped with an error, now recorded in its "failed" file.</summary>
    Failed,
}

/// <summary>One attempt at a run: how it ended, a line saying so, and the figures when it trained.</summary>
/// <param name="Run">The run.</param>
/// <param name="Kind">How it ended.</param>
/// <param name="Message">One line for the log.</param>
/// <param name="Result">The test figures, when it trained.</param>
/// <param name="Cause">Why it failed (now or before), when it did.</param>
public sealed record SweepRunOutcome(SweepRun Run, SweepOutcomeKind Kind, string Message, ModelResult? Result = null, SweepFailureCause? Cause = null);

/// <summary>
/// `iwae sweep run`: runs of a sweep, each idempotent, so that a scheduler may start any task any number of times. A
/// finished run is skipped, an interrupted one resumes from its checkpoint (bit-identically: the checkpoint holds the
/// weights, Adam, the RNG and the position in the schedule), and the run's lock keeps two workers off one run. The
/// files found in a run's folder are checked to be that run's (<see cref="SweepRunOptions.Mismatch"/>): a results.json
/// or checkpoint of other options is refused with <see cref="InvalidDataException"/>, never adopted.
/// Cancellation (SIGTERM from scancel, a preemption, a requeue or an eviction) finishes the current step, writes the
/// checkpoint and throws <see cref="OperationCanceledException"/>; the lock is released.
/// </summary>
public static class SweepRunner
{
    /// <summary>How often a task waiting for a busy run looks again, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(5);

    /// <summary>The environment variables that give a worker its task: Slurm job arrays, then Kubernetes Indexed Jobs.</summary>
    public static readonly IReadOnlyList<string> TaskVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

    /// <summary>The environment variable that gives a Slurm task its cores.</summary>
    public const string CpusVariable = "SLURM_CPUS_PER_TASK";

    /// <summary>
    /// The task index: <paramref name="given"/> (--task) if any, else the first of <see cref="TaskVariables"/> that is
    /// set; null when none is. <paramref name="env"/> reads the environment (for tests).
    /// </summary>
    public static int? TaskIndex(int? given, Func<string, string?>? env = null)
    {
        if (given is int g) return g >= 0 ? g : throw new ArgumentException($"--task must be >= 0, got {g}");
        env ??= Environment.GetEnvironmentVariable;
        foreach (var name in TaskVariables)
            if (env(name) is { Length: > 0 } v)
                return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : throw new ArgumentException($"{name}='{v}' is not a task index");
        return null;
    }

    /// <summary>
    /// The cores a Slurm task was given (SLURM_CPUS_PER_TASK), which `sweep run` takes as its thread count when --threads
    /// is not given; null when the variable is not set. <paramref name="env"/> reads the environment (for tests).
    /// </summary>
    public static int? ThreadsFromEnvironment(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (env(CpusVariable) is not { Length: > 0 } v) return null;
        return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && Limits.Threads.Allows(n) ? n
            : throw new ArgumentException($"{CpusVariable}='{v}' is not a thread count {Limits.Threads.Range}");
    }

    /// <summary>
    /// Runs task <paramref name="index"/> of <paramref name="sweep"/> on <paramref name="execution"/> (see the class
    /// summary). An error is recorded in the run's "failed" file and thrown again; cancellation is thrown as it is.
    /// </summary>
    /// <param name="sweep">The sweep folder.</param>
    /// <param name="index">The run.</param>
    /// <param name="execution">
    /// Its kernel threads; its cancellation (SIGTERM and friends: the step finishes, the checkpoint is written); where
    /// <see cref="RunProgress"/> goes. Null: <see cref="Execution.Serial"/>.
    /// </param>
    /// <param name="log">Progress lines.</param>
    /// <param name="waitWhileBusy">
    /// When another worker holds the run: wait until it finishes (done already) or its lock goes stale (taken over),
    /// rather than return <see cref="SweepOutcomeKind.Busy"/>. A scheduler's task must: a retried pod whose predecessor
    /// was killed outright finds that one's lock still fresh for a while, and must not report the run as complete.
    /// </param>
    /// <param name="pollInterval">How often a task that waits looks again (<see cref="DefaultPollInterval"/> unless given).</param>
    public static SweepRunOutcome RunOne(SweepFolder sweep, int index, Execution? execution = null, Action<string>? log = null, bool waitWhileBusy = false,
        TimeSpan? pollInterval = null)
        => RunOne(sweep, sweep.RunAt(sweep.ReadPlan(), index), execution ?? Execution.Serial, log, waitWhileBusy, pollInterval ?? DefaultPollInterval);

    // One run of a plan already read: RunAll reads sweep.json once for all of them.
    private static SweepRunOutcome RunOne(SweepFolder sweep, SweepRun run, Execution execution, Action<string>? log, bool waitWhileBusy = false,
        TimeSpan pollInterval = default)
    {
        var cancel = execution.Cancellation;
        var folder = sweep.Run(run);
        string name = RunFolder.ModelName(run.Options.Config.Model);
        if (File.Exists(folder.Results)) return Done(sweep, run);
        if (sweep.Failure(run) is { } failed)
            return new SweepRunOutcome(run, SweepOutcomeKind.FailedBefore,
                $"{run.Name} failed before: {failed.Message}; fix the cause, then delete {sweep.FailedPath(run)} to run it again", Cause: failed.Cause);

        var lease = SweepLock.TryAcquire(folder.Path, out var holder);
        if (lease is null && waitWhileBusy)
        {
            log?.Invoke($"{run.Name}: running on {holder?.Host ?? "another worker"} (pid {holder?.Pid}); waiting until it finishes or its heartbeat stops");
            while (lease is null && !File.Exists(folder.Results))
            {
                Task.Delay(pollInterval, cancel).Wait(cancel);
                lease = SweepLock.TryAcquire(folder.Path, out holder);
            }
        }
        if (lease is null && File.Exists(folder.Results)) return Done(sweep, run);
        if (lease is null)
            return new SweepRunOutcome(run, SweepOutcomeKind.Busy, $"{run.Name}: running on {holder?.Host ?? "another worker"} (pid {holder?.Pid}); nothing to do here");
        using var held = lease;
        if (File.Exists(folder.Results)) return Done(sweep, run);   // finished while we waited for the lock
        var o = run.Options;
        // A checkpoint is resumed only when it is this run's: one of other options (planned again differently, copied
        // from elsewhere) would train something sweep.json does not describe. The eval k is the plan's: it does not
        // change what trains.
        RunCheckpoint? checkpoint = null;
        if (File.Exists(folder.Checkpoint(name)))
        {
            checkpoint = folder.CheckpointToResume(o.Config.Model);
            var (config, options, settings) = checkpoint.Continue();
            if (o.Mismatch(config, options, settings.Data, settings.TestFraction) is { } diff)
                throw new InvalidDataException(Foreign($"{checkpoint.Path}: another run's checkpoint ({diff})", sweep, run));
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, lease.Lost);
        var stoppable = execution.WithCancellation(stop.Token);
        try
        {
            ModelResult result;
            if (checkpoint is not null)
            {
                var (config, options, settings) = checkpoint.Continue(evalK: o.EvalK);
                log?.Invoke($"{run.Name}: resuming");
                result = Runs.Train(config, options, settings with { OutDir = folder.Path }, stoppable, Prefixed(log, run), checkpoint, held);
            }
            else
            {
                log?.Invoke($"{run.Name}: starting ({o.Config.Architecture}, {name}, k={o.Config.K}, {o.Train.TotalEpochs} epochs)");
                result = Runs.Train(o.Config, o.Train, o.Settings(folder.Path), stoppable, Prefixed(log, run), null, held);
            }
            return new SweepRunOutcome(run, SweepOutcomeKind.Trained, $"{run.Name}: test NLL {result.TestNll:F2}", result);
        }
        catch (Exception e) when (e is NonFiniteException or DataFormatException or CheckpointFormatException or ArgumentException or InvalidDataException)
        {
            sweep.MarkFailed(run, e);
            throw;
        }
    }

    // A finished run, if its results are its own; results.json of other options (or one that does not read) is refused.
    private static SweepRunOutcome Done(SweepFolder sweep, SweepRun run)
        => sweep.ResultsProblem(run, out _) is { } problem
            ? throw new InvalidDataException(Foreign(problem, sweep, run))
            : new SweepRunOutcome(run, SweepOutcomeKind.AlreadyDone, $"{run.Name}: done already");

    private static string Foreign(string problem, SweepFolder sweep, SweepRun run)
        => $"{problem}; delete {sweep.Run(run).Path} to train run {run.Index} ({run.Name}) afresh as sweep.json gives it";

    /// <summary>
    /// Runs every run of <paramref name="sweep"/> on this machine, <paramref name="parallel"/> at a time: one at a time on
    /// <paramref name="execution"/>, several each on workers of its own with <paramref name="execution"/>'s thread count
    /// (<see cref="Execution.WithOwnWorkers"/>; progress reports then come from several threads at once). Errors are
    /// recorded per run and do not stop the others; the execution's cancellation stops them all, each after writing its
    /// checkpoint.
    /// </summary>
    /// <exception cref="SettingException"><paramref name="parallel"/> is not from 1 to <see cref="Execution.MaxThreads"/>.</exception>
    public static IReadOnlyList<SweepRunOutcome> RunAll(SweepFolder sweep, int parallel, Execution? execution = null, Action<string>? log = null)
    {
        Limits.Threads.Check(parallel, "parallel");
        var shared = execution ?? Execution.Serial;
        var plan = sweep.ReadPlan();
        var outcomes = new SweepRunOutcome?[plan.Runs.Count];
        var gate = new Lock();
        void Log(string line) { lock (gate) log?.Invoke(line); }
        int next = -1;
        Exception? cancelled = null;
        int workers = Math.Min(parallel, plan.Runs.Count);
        void Work()
        {
            // Runs side by side do not share a pool.
            using var own = workers > 1 ? shared.WithOwnWorkers() : null;
            var run = own ?? shared;
            int i;
            while (cancelled is null && (i = Interlocked.Increment(ref next)) < plan.Runs.Count)
            {
                try { outcomes[i] = RunOne(sweep, plan.Runs[i], run, Log, pollInterval: DefaultPollInterval); }
                catch (OperationCanceledException e) { Interlocked.CompareExchange(ref cancelled, e, null); }
                catch (Exception e) when (e is NonFiniteException or DataFormatException or CheckpointFormatException or ArgumentException or InvalidDataException or IOException)
                {
                    outcomes[i] = new SweepRunOutcome(plan.Runs[i], SweepOutcomeKind.Failed, $"{plan.Runs[i].Name}: failed: {e.Message.ReplaceLineEndings(" ")}",
                        Cause: e is NonFiniteException ? SweepFailureCause.NonFinite : SweepFailureCause.BadInput);
                }
                if (outcomes[i] is { } o) Log(o.Message);
            }
        }
        var others = Enumerable.Range(0, workers - 1).Select(_ => new Thread(Work) { Name = "iwae-sweep" }).ToArray();
        foreach (var w in others) w.Start();
        Work();
        foreach (var w in others) w.Join();
        if (cancelled is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cancelled);
        return outcomes.Select((o, i) => o ?? new SweepRunOutcome(plan.Runs[i], SweepOutcomeKind.Busy, $"{plan.Runs[i].Name}: not reached")).ToArray();
    }

    private static Action<string>? Prefixed(Action<string>? log, SweepRun run) => log is null ? null : line => log(line.StartsWith(run.Name, StringComparison.Ordinal) ? line : $"[{run.Name}] {line}");
}
