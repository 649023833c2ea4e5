namespace Iwae.Core.Sweeps;

/// <summary>Where a run of a sweep stands, read from its files alone.</summary>
public enum SweepRunStatus
{
    /// <summary>Nothing written yet.</summary>
    Pending,
    /// <summary>A worker holds its lock and renews the heartbeat.</summary>
    Running,
    /// <summary>A checkpoint without results: stopped (preempted, timed out, killed); the next worker resumes it.</summary>
    Interrupted,
    /// <summary>results.json is written.</summary>
    Done,
    /// <summary>It stopped with an error (the "failed" file says which); delete that file to try again.</summary>
    Failed,
}

/// <summary>A run's state for `iwae sweep status`.</summary>
/// <param name="Run">The run.</param>
/// <param name="Status">Where it stands.</param>
/// <param name="EpochsDone">Epochs in its metrics file.</param>
/// <param name="TotalEpochs">Epochs its schedule runs.</param>
/// <param name="LastBound">The last epoch's training bound, if any.</param>
/// <param name="Eta">Time left at the mean epoch time so far, while it runs.</param>
/// <param name="Detail">Who holds it, or the failure, or its test NLL.</param>
/// <param name="Result">Its test figures, once done.</param>
public sealed record SweepRunState(SweepRun Run, SweepRunStatus Status, int EpochsDone, int TotalEpochs, double? LastBound, TimeSpan? Eta, string? Detail,
    ModelResult? Result = null);

/// <summary>
/// A sweep folder, plain files that any scheduler can share over a network filesystem:
/// <list type="table">
/// <item><term>sweep.json</term><description>the plan (<see cref="SweepPlan"/>)</description></item>
/// <item><term>runs/&lt;name&gt;/</term><description>an ordinary run folder (<see cref="RunFolder"/>), plus its <c>lock</c> and, after an error, <c>failed</c></description></item>
/// <item><term>logs/</term><description>scheduler output</description></item>
/// <item><term>sweep.sbatch, k8s-job.json</term><description>the Slurm script and the Kubernetes Indexed Job</description></item>
/// <item><term>results.csv, results.json, report.html</term><description>what <c>iwae sweep collect</c> writes</description></item>
/// </list>
/// A run's state is read from its files: results.json means done, a fresh lock running, a failed file failed, a
/// checkpoint without results interrupted; otherwise pending.
/// </summary>
public sealed class SweepFolder(string path)
{
    /// <summary>The plan's file.</summary>
    public const string PlanFile = "sweep.json";
    /// <summary>The marker of a run that stopped with an error (it holds the message).</summary>
    public const string FailedFile = "failed";
    /// <summary>The collected results, one row per run.</summary>
    public const string ResultsCsvFile = "results.csv";
    /// <summary>The collected results as JSON.</summary>
    public const string ResultsJsonFile = "results.json";
    /// <summary>The sweep's report.</summary>
    public const string ReportFile = "report.html";
    /// <summary>The Slurm batch script.</summary>
    public const string SbatchFile = "sweep.sbatch";
    /// <summary>The Kubernetes Indexed Job manifest.</summary>
    public const string KubernetesFile = "k8s-job.json";

    /// <summary>The folder.</summary>
    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>sweep.json.</summary>
    public string Plan => File(PlanFile);

    /// <summary>The folder of the run folders.</summary>
    public string RunsPath => File("runs");

    /// <summary>The folder of the scheduler's logs.</summary>
    public string LogsPath => File("logs");

    /// <summary>The file <paramref name="name"/> in the sweep folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Whether the folder holds a sweep.</summary>
    public bool Exists => System.IO.File.Exists(Plan);

    /// <summary>The run folder of <paramref name="run"/>.</summary>
    public RunFolder Run(SweepRun run) => new(System.IO.Path.Combine(RunsPath, run.Name));

    /// <summary>
    /// Writes sweep.json (and creates runs/ and logs/). Planning again into a folder that holds the same plan changes
    /// nothing; a different plan there is refused, since its runs' files would no longer match their options.
    /// </summary>
    public void WritePlan(SweepPlan plan)
    {
        plan.Validate();
        string json = plan.ToJson();
        if (Exists)
        {
            if (System.IO.File.ReadAllText(Plan) == json) return;
            throw new ArgumentException($"{Path} already holds a different sweep; plan into a new folder");
        }
        Directory.CreateDirectory(RunsPath);
        Directory.CreateDirectory(LogsPath);
        AtomicFile.WriteAllText(Plan, json);
    }

    /// <summary>Reads sweep.json; <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/> naming it.</summary>
    public SweepPlan ReadPlan()
    {
        if (!Exists) throw new FileNotFoundException($"{Plan}: file not found (not a sweep folder; make one with `iwae sweep plan --out {Path}`)");
        return SweepPlan.Parse(System.IO.File.ReadAllText(Plan), Plan);
    }

    /// <summary>The run <paramref name="index"/> of the plan; <see cref="ArgumentException"/> when there is none.</summary>
    public SweepRun RunAt(SweepPlan plan, int index)
        => index >= 0 && index < plan.Runs.Count ? plan.Runs[index]
           : throw new ArgumentException($"task {index} is not a run of {Plan}, which has runs 0..{plan.Runs.Count - 1}");

    /// <summary>Marks <paramref name="run"/> as failed with <paramref name="message"/>.</summary>
    public void MarkFailed(SweepRun run, string message) => AtomicFile.WriteAllText(System.IO.Path.Combine(Run(run).Path, FailedFile), message + "\n");

    /// <summary>The failure message of <paramref name="run"/>, or null.</summary>
    public string? Failure(SweepRun run)
    {
        string f = System.IO.Path.Combine(Run(run).Path, FailedFile);
        return System.IO.File.Exists(f) ? System.IO.File.ReadAllText(f).Trim() : null;
    }

    /// <summary>Where <paramref name="run"/> stands at <paramref name="now"/> (UTC), from its files.</summary>
    public SweepRunState State(SweepRun run, DateTime now)
    {
        var folder = Run(run);
        string name = RunFolder.ModelName(run.Options.Config.Model);
        int total = run.Options.Train.TotalEpochs;
        IReadOnlyList<EpochMetrics> epochs;
        try { epochs = folder.ReadMetrics(name); }
        catch (InvalidDataException) { epochs = []; }
        int done = epochs.Count;
        double? bound = done > 0 ? epochs[^1].TrainBound : null;
        if (System.IO.File.Exists(folder.Results))
        {
            ModelResult? result = null;
            try { result = folder.ReadResults().Model(name); }
            catch (InvalidDataException) { }
            return new SweepRunState(run, SweepRunStatus.Done, done, total, bound, null, result is null ? null : $"test NLL {result.TestNll:F2}", result);
        }
        if (Failure(run) is { } failure) return new SweepRunState(run, SweepRunStatus.Failed, done, total, bound, null, failure);
        if (SweepLock.ReadFrom(folder.Path) is { } held && SweepLock.IsFresh(held, now))
        {
            TimeSpan? eta = done > 0 ? TimeSpan.FromSeconds(epochs.Average(e => e.Seconds) * (total - done)) : null;
            return new SweepRunState(run, SweepRunStatus.Running, done, total, bound, eta, $"{held.Host} pid {held.Pid}");
        }
        if (System.IO.File.Exists(folder.Checkpoint(name))) return new SweepRunState(run, SweepRunStatus.Interrupted, done, total, bound, null, null);
        return new SweepRunState(run, SweepRunStatus.Pending, done, total, bound, null, null);
    }

    /// <summary>Every run's state, by index.</summary>
    public IReadOnlyList<SweepRunState> States(SweepPlan plan, DateTime now) => plan.Runs.Select(r => State(r, now)).ToArray();
}
