using System.Globalization;
using System.Text.Json;
using Iwae.Core.Training;
using Iwae.Core;

namespace Iwae.Experiments.Sweeps;

/// <summary>Where a run of a sweep stands, read from its files alone.</summary>
public enum SweepRunStatus
{
    /// <summary>Nothing written yet.</summary>
    Pending,
    /// <summary>A worker holds its lock and renews the heartbeat.</summary>
    Running,
    /// <summary>A checkpoint without results: stopped (preempted, timed out, killed); the next worker resumes it.</summary>
    Interrupted,
    /// <summary>results.json is written, and it is this run's.</summary>
    Done,
    /// <summary>
    /// It stopped with an error (the "failed" file says which; delete that file to try again), or its scheduler task
    /// died before the run started (its log under logs/ says why).
    /// </summary>
    Failed,
    /// <summary>Its results.json does not read, or belongs to other options than sweep.json gives the run; the detail names the file.</summary>
    Invalid,
}

/// <summary>Why a run failed: what its "failed" file records, and what a retried task exits with.</summary>
public enum SweepFailureCause
{
    /// <summary>Bad input: options, data or a file the run read (exit code 2).</summary>
    BadInput,
    /// <summary>Training met a non-finite loss or gradient (exit code 3).</summary>
    NonFinite,
}

/// <summary>A run's "failed" file: why it stopped and the error's one line.</summary>
/// <param name="Cause">Bad input or non-finite training.</param>
/// <param name="Message">The error, on one line.</param>
public sealed record SweepFailure(SweepFailureCause Cause, string Message);

/// <summary>A run's state for `iwae sweep status`.</summary>
/// <param name="Run">The run.</param>
/// <param name="Status">Where it stands.</param>
/// <param name="EpochsDone">Epochs in its metrics file (each epoch once; lines that are not epoch records are not counted).</param>
/// <param name="TotalEpochs">Epochs its schedule runs.</param>
/// <param name="LastBound">The last epoch's training bound, if any.</param>
/// <param name="Eta">Time left at the mean epoch time so far, while it runs.</param>
/// <param name="Detail">Who holds it, or the failure, or the invalid file, or its test NLL.</param>
/// <param name="Result">Its test figures, once done.</param>
/// <param name="Architecture">Its architecture: as its results record it once done (the input size is the data's), else as planned.</param>
public sealed record SweepRunState(SweepRun Run, SweepRunStatus Status, int EpochsDone, int TotalEpochs, double? LastBound, TimeSpan? Eta, string? Detail,
    ModelResult? Result = null, string? Architecture = null);

/// <summary>
/// A sweep folder, plain files that any scheduler can share over a network filesystem:
/// <list type="table">
/// <item><term>sweep.json</term><description>the plan (<see cref="SweepPlan"/>)</description></item>
/// <item><term>runs/&lt;name&gt;/</term><description>an ordinary run folder (<see cref="RunFolder"/>), plus its <c>lock</c> and, after an error, <c>failed</c></description></item>
/// <item><term>logs/</term><description>scheduler output, <c>&lt;job&gt;_&lt;index&gt;.out</c> and <c>.err</c> per Slurm task</description></item>
/// <item><term>sweep.sbatch, k8s-job.json</term><description>the Slurm script and the Kubernetes Indexed Job</description></item>
/// <item><term>results.csv, results.json, report.html</term><description>what <c>iwae sweep collect</c> writes</description></item>
/// </list>
/// A run's state is read from its files: results.json means done (invalid when it does not read or is another run's),
/// a failed file failed, a fresh lock running, a checkpoint without results interrupted; a task log under logs/
/// without any of these means the task died before the run started (failed); otherwise pending.
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
    /// nothing; a different plan there is refused, since its runs' files would no longer match their options. The plan
    /// there is compared as it reads, so one written by an older version (with the thread count in its options) is
    /// still the same plan.
    /// </summary>
    public void WritePlan(SweepPlan plan)
    {
        plan.Validate();
        string json = plan.ToJson();
        if (Exists)
        {
            string there = System.IO.File.ReadAllText(Plan);
            if (there == json || ReadsAs(there, json)) return;
            throw new ArgumentException($"{Path} already holds a different sweep; plan into a new folder");
        }
        Directory.CreateDirectory(RunsPath);
        Directory.CreateDirectory(LogsPath);
        AtomicFile.WriteAllText(Plan, json);
    }

    private bool ReadsAs(string text, string json)
    {
        try { return SweepPlan.Parse(text, Plan).ToJson() == json; }
        catch (InvalidDataException) { return false; }
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

    /// <summary>How long a task's log may be quiet before a run with nothing else written counts as a task that died before it started.</summary>
    public static TimeSpan StartGrace { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Marks <paramref name="run"/> as failed by <paramref name="error"/>: why, and its message on one line.</summary>
    public void MarkFailed(SweepRun run, Exception error)
        => AtomicFile.WriteAllText(FailedPath(run), IwaeJson.Serialize(new SweepFailure(
            error is NonFiniteException ? SweepFailureCause.NonFinite : SweepFailureCause.BadInput, error.Message.ReplaceLineEndings(" "))) + "\n");

    /// <summary>The "failed" file of <paramref name="run"/> (there or not).</summary>
    public string FailedPath(SweepRun run) => System.IO.Path.Combine(Run(run).Path, FailedFile);

    /// <summary>The failure of <paramref name="run"/>, or null. A file that is not a <see cref="SweepFailure"/> (one written by hand) is a bad-input failure with its text.</summary>
    public SweepFailure? Failure(SweepRun run)
    {
        string f = FailedPath(run);
        if (!System.IO.File.Exists(f)) return null;
        string text = System.IO.File.ReadAllText(f).Trim();
        try { return IwaeJson.Deserialize<SweepFailure>(text) is { Message: not null } failure && Enum.IsDefined(failure.Cause) ? failure : Plain(); }
        catch (JsonException) { return Plain(); }

        SweepFailure Plain() => new(SweepFailureCause.BadInput, text.ReplaceLineEndings(" "));
    }

    /// <summary>
    /// The one-line reason <paramref name="run"/>'s results.json is not its own, or null when it is: the file does
    /// not read, holds no model of the run's kind, or records other options (<see cref="SweepRunOptions.Mismatch"/>).
    /// </summary>
    public string? ResultsProblem(SweepRun run, out RunResults? results)
    {
        var folder = Run(run);
        results = null;
        RunResults r;
        try { r = folder.ReadResults(); }
        catch (Exception e) when (e is InvalidDataException or IOException) { return e.Message.ReplaceLineEndings(" "); }
        string name = RunFolder.ModelName(run.Options.Config.Model);
        if (r.Model(name) is null) return $"{folder.Results}: holds no {name} model, which run {run.Index} ({run.Name}) trains";
        if (r.Train is null) return $"{folder.Results}: records no training options, so it cannot be told to be run {run.Index} ({run.Name})'s";
        if (run.Options.Mismatch(r.Config, r.Train, r.Data, r.TestFraction, r.EvalK) is { } diff)
            return $"{folder.Results}: another run's results ({diff})";
        results = r;
        return null;
    }

    /// <summary>
    /// The epochs in <paramref name="run"/>'s metrics file, one per epoch number (the last line of each: an epoch
    /// trained again after a crash before its checkpoint is written twice). Lines that are not epoch records (a torn
    /// last line, garbage) are skipped, not counted.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Epochs(SweepRun run)
    {
        string file = Run(run).Metrics(RunFolder.ModelName(run.Options.Config.Model));
        var byEpoch = new SortedDictionary<int, EpochMetrics>();
        if (!System.IO.File.Exists(file)) return [];
        foreach (var line in System.IO.File.ReadLines(file))
        {
            EpochMetrics? m;
            try { m = string.IsNullOrWhiteSpace(line) ? null : IwaeJson.Deserialize<EpochMetrics>(line); }
            catch (JsonException) { m = null; }
            if (m is { Epoch: >= 1, Stage: >= 1, Steps: >= 1, Seconds: >= 0 }) byEpoch[m.Epoch] = m;
        }
        return [.. byEpoch.Values];
    }

    /// <summary>
    /// The newest scheduler log of task <paramref name="index"/> under logs/ (Slurm's <c>&lt;job&gt;_&lt;index&gt;.err</c>,
    /// else <c>.out</c>), or null.
    /// </summary>
    public string? TaskLog(int index)
    {
        if (!Directory.Exists(LogsPath)) return null;
        string suffix = "_" + index.ToString(CultureInfo.InvariantCulture);
        var logs = new DirectoryInfo(LogsPath).EnumerateFiles()
            .Where(f => f.Extension is ".err" or ".out" && System.IO.Path.GetFileNameWithoutExtension(f.Name) is var stem
                        && stem.EndsWith(suffix, StringComparison.Ordinal) && stem[..^suffix.Length] is { Length: > 0 } job && job.All(char.IsAsciiDigit))
            .Where(f => f.Length > 0)
            .OrderByDescending(f => f.Extension == ".err").ThenByDescending(f => f.LastWriteTimeUtc)
            .ToArray();
        return logs.Length > 0 ? logs[0].FullName : null;
    }

    /// <summary>The last non-empty line of <paramref name="log"/> (read from its end: a log may be long).</summary>
    public static string LastLine(string log)
    {
        using var f = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long start = Math.Max(0, f.Length - 4096);
        f.Seek(start, SeekOrigin.Begin);
        using var reader = new StreamReader(f);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return lines.Length > 0 ? lines[^1] : "";
    }

    /// <summary>Where <paramref name="run"/> stands at <paramref name="now"/> (UTC), from its files.</summary>
    public SweepRunState State(SweepRun run, DateTime now)
    {
        var folder = Run(run);
        string name = RunFolder.ModelName(run.Options.Config.Model);
        int total = run.Options.Train.TotalEpochs;
        string planned = run.Options.Config.Architecture;
        var epochs = Epochs(run);
        int done = epochs.Count;
        double? bound = done > 0 ? epochs[^1].TrainBound : null;
        SweepRunState S(SweepRunStatus status, string? detail, TimeSpan? eta = null, ModelResult? result = null, string? architecture = null)
            => new(run, status, done, total, bound, eta, detail, result, architecture ?? planned);
        if (System.IO.File.Exists(folder.Results))
        {
            if (ResultsProblem(run, out var results) is { } problem) return S(SweepRunStatus.Invalid, problem);
            var result = results!.Model(name)!;
            return S(SweepRunStatus.Done, $"test NLL {result.TestNll.ToString("F2", CultureInfo.InvariantCulture)}", result: result, architecture: results.Config.Architecture);
        }
        if (Failure(run) is { } failure) return S(SweepRunStatus.Failed, failure.Message);
        if (SweepLock.ReadFrom(folder.Path) is { } held && SweepLock.IsFresh(held, now))
        {
            TimeSpan? eta = done > 0 ? TimeSpan.FromSeconds(epochs.Average(e => e.Seconds) * Math.Max(0, total - done)) : null;
            string ahead = SweepLock.IsAhead(held, now) ? $" (heartbeat {(held.Heartbeat - now).TotalMinutes.ToString("F0", CultureInfo.InvariantCulture)} min ahead of this clock: taken over once it stops changing)" : "";
            return S(SweepRunStatus.Running, $"{held.Host} pid {held.Pid}{ahead}", eta);
        }
        if (System.IO.File.Exists(folder.Checkpoint(name))) return S(SweepRunStatus.Interrupted, null);
        // Nothing of the run's own, but its task wrote a log and has been quiet since: the task died before the run
        // started (the command not found on the node, a missing runtime), and would otherwise stay pending for ever.
        if (TaskLog(run.Index) is { } log && now - System.IO.File.GetLastWriteTimeUtc(log) > StartGrace)
            return S(SweepRunStatus.Failed, $"its task died before the run started: {LastLine(log)} ({System.IO.Path.GetRelativePath(Path, log)})");
        return S(SweepRunStatus.Pending, null);
    }

    /// <summary>Every run's state, by index.</summary>
    public IReadOnlyList<SweepRunState> States(SweepPlan plan, DateTime now) => plan.Runs.Select(r => State(r, now)).ToArray();
}
